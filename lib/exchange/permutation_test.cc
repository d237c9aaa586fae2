#include "lib/exchange/permutation.h"

#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/exchange/rng.h"

namespace replex::exchange {
namespace {

using ::testing::HasSubstr;

// Both directions of the map agree and rung_of_replica is onto 0..n-1.
void ExpectBijection(const Permutation& p) {
  for (int replica = 0; replica < p.size(); ++replica) {
    const int rung = p.rung_of_replica(replica);
    ASSERT_GE(rung, 0);
    ASSERT_LT(rung, p.size());
    EXPECT_EQ(p.replica_at_rung(rung), replica);
  }
  EXPECT_TRUE(Permutation::FromRungOfReplica(p.rung_of_replica()).ok());
}

TEST(PermutationTest, IdentityMapsEveryReplicaToItsOwnRung) {
  const Permutation p = Permutation::Identity(5);
  EXPECT_EQ(p.size(), 5);
  EXPECT_EQ(p.rung_of_replica(), (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_EQ(p.replica_at_rung(), (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_EQ(Permutation::Identity(0).size(), 0);
}

TEST(PermutationTest, FromRungOfReplicaBuildsTheInverse) {
  absl::StatusOr<Permutation> p = Permutation::FromRungOfReplica({2, 0, 3, 1});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->replica_at_rung(), (std::vector<int>{1, 3, 0, 2}));
  ExpectBijection(*p);
}

struct NotABijectionCase {
  std::string name;
  std::vector<int> rung_of_replica;
  std::string message;
};

class NotABijectionTest : public ::testing::TestWithParam<NotABijectionCase> {};

TEST_P(NotABijectionTest, IsRejected) {
  absl::StatusOr<Permutation> p =
      Permutation::FromRungOfReplica(GetParam().rung_of_replica);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(p.status().message(), HasSubstr(GetParam().message));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, NotABijectionTest,
    ::testing::Values(
        NotABijectionCase{"RungTooHigh", {0, 3, 1}, "replica 1 is at rung 3"},
        NotABijectionCase{"NegativeRung", {0, -1}, "replica 1 is at rung -1"},
        NotABijectionCase{
            "SharedRung", {1, 0, 1}, "replicas 0 and 2 are both at rung 1"}),
    [](const ::testing::TestParamInfo<NotABijectionCase>& info) {
      return info.param.name;
    });

TEST(PermutationTest, SwapRungsExchangesTheOccupants) {
  Permutation p = *Permutation::FromRungOfReplica({2, 0, 1});
  p.SwapRungs(0, 2);  // replica 1 (rung 0) <-> replica 0 (rung 2)
  EXPECT_EQ(p.rung_of_replica(), (std::vector<int>{0, 2, 1}));
  ExpectBijection(p);
  p.SwapRungs(1, 1);
  EXPECT_EQ(p.rung_of_replica(), (std::vector<int>{0, 2, 1}));
}

TEST(PermutationTest, RandomSwapsKeepABijectionAndAreUndoneInReverse) {
  constexpr int kN = 17;
  Rng rng(/*seed=*/99, /*round=*/0);
  Permutation p = Permutation::Identity(kN);
  std::vector<std::pair<int, int>> swaps;
  for (int t = 0; t < 1000; ++t) {
    const int a = static_cast<int>(rng.Below(kN));
    const int b = static_cast<int>(rng.Below(kN));
    p.SwapRungs(a, b);
    swaps.emplace_back(a, b);
    ExpectBijection(p);
  }
  EXPECT_NE(p, Permutation::Identity(kN));
  for (auto it = swaps.rbegin(); it != swaps.rend(); ++it) {
    p.SwapRungs(it->first, it->second);
  }
  EXPECT_EQ(p, Permutation::Identity(kN));
}

TEST(PermutationTest, EqualityComparesAssignments) {
  EXPECT_EQ(*Permutation::FromRungOfReplica({1, 0}),
            *Permutation::FromRungOfReplica({1, 0}));
  EXPECT_NE(*Permutation::FromRungOfReplica({1, 0}), Permutation::Identity(2));
  EXPECT_NE(Permutation::Identity(2), Permutation::Identity(3));
}

}  // namespace
}  // namespace replex::exchange
