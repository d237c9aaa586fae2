// PlaceReplicas alone: the placement rules as tables of workers and replicas.
#include "coordinator/placement.h"

#include <map>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace replex::coordinator {
namespace {

using ::testing::ElementsAre;
using ::testing::Optional;

// Replicas per worker in a placement.
std::vector<int> Counts(const std::vector<int>& placement, int n_workers) {
  std::vector<int> counts(n_workers, 0);
  for (int w : placement) ++counts[w];
  return counts;
}

std::vector<int> Unplaced(int n) { return std::vector<int>(n, -1); }

TEST(PlaceReplicasTest, SixtyFourReplicasOnTwoWorkersFollowTheirSlots) {
  auto placement =
      PlaceReplicas({{3, 100, 0, true}, {1, 100, 0, true}}, Unplaced(64));
  ASSERT_TRUE(placement.has_value());
  EXPECT_THAT(Counts(*placement, 2), ElementsAre(48, 16));
  placement =
      PlaceReplicas({{2, 100, 0, true}, {2, 100, 0, true}}, Unplaced(64));
  EXPECT_THAT(Counts(*placement, 2), ElementsAre(32, 32));
}

TEST(PlaceReplicasTest, ThreeReplicasOnFiveWorkersLeaveTwoIdle) {
  auto placement =
      PlaceReplicas(std::vector<WorkerLoad>(5, {1, 8, 0, true}), Unplaced(3));
  EXPECT_THAT(placement, Optional(ElementsAre(0, 1, 2)));
}

TEST(PlaceReplicasTest, MaxReplicasCapsAShareAndTheRestGoesElsewhere) {
  auto placement =
      PlaceReplicas({{4, 2, 0, true}, {1, 10, 0, true}}, Unplaced(6));
  EXPECT_THAT(Counts(*placement, 2), ElementsAre(2, 4));
}

TEST(PlaceReplicasTest, NoRoomOrNoEligibleWorkerPlacesNothing) {
  EXPECT_EQ(PlaceReplicas({{1, 3, 0, true}}, Unplaced(4)), std::nullopt);
  EXPECT_EQ(PlaceReplicas({{1, 8, 5, true}}, Unplaced(4)), std::nullopt);
  EXPECT_EQ(PlaceReplicas({{1, 8, 0, false}}, Unplaced(1)), std::nullopt);
  EXPECT_EQ(PlaceReplicas({}, Unplaced(1)), std::nullopt);
}

TEST(PlaceReplicasTest, OtherJobsReplicasCountTowardsBalance) {
  // Worker 0 already runs 4 replicas of another job: a new 4-replica job
  // goes to worker 1, and both workers end with 4.
  auto placement =
      PlaceReplicas({{1, 16, 4, true}, {1, 16, 0, true}}, Unplaced(4));
  EXPECT_THAT(placement, Optional(ElementsAre(1, 1, 1, 1)));
  // Single-replica jobs spread over equal workers instead of piling up.
  EXPECT_THAT(PlaceReplicas({{1, 16, 1, true}, {1, 16, 0, true}}, Unplaced(1)),
              Optional(ElementsAre(1)));
}

TEST(PlaceReplicasTest, ABalancedPlacementStaysPut) {
  const std::vector<WorkerLoad> workers(2, {1, 8, 0, true});
  for (const std::vector<int>& current :
       {std::vector<int>{0, 0, 1}, {0, 1, 1}, {1, 0, 1}, {1, 0, 0, 1}}) {
    EXPECT_THAT(PlaceReplicas(workers, current), Optional(current));
  }
}

TEST(PlaceReplicasTest, ANewWorkerGetsItsShareFromTheHighestReplicas) {
  // All four on worker 0; worker 1 joins: replicas 2 and 3 move.
  EXPECT_THAT(PlaceReplicas({{1, 8, 0, true}, {1, 8, 0, true}}, {0, 0, 0, 0}),
              Optional(ElementsAre(0, 0, 1, 1)));
}

TEST(PlaceReplicasTest, ADrainingWorkerIsEmptiedWhileThereIsRoom) {
  EXPECT_THAT(PlaceReplicas({{1, 8, 0, false}, {1, 8, 0, true}}, {0, 0, 1}),
              Optional(ElementsAre(1, 1, 1)));
  // Room for only one more: the other stays on the draining worker.
  EXPECT_THAT(PlaceReplicas({{1, 8, 0, false}, {1, 2, 0, true}}, {0, 0, 1}),
              Optional(ElementsAre(1, 0, 1)));
}

}  // namespace
}  // namespace replex::coordinator
