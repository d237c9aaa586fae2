#include "lib/exchange/seeds.h"

#include <set>

#include "gtest/gtest.h"

namespace replex::exchange {
namespace {

// A job's seeds are part of its reproducibility: the same spec and seed
// must give the same run in every replex version that reads the spec, so
// these values are pinned.
TEST(SeedsTest, AreStableAcrossVersions) {
  EXPECT_EQ(SegmentSeed(17, 3, 41), 3899741999461207243ULL);
  EXPECT_EQ(VelocitySeed(17, 3), 17120757438476565907ULL);
  EXPECT_EQ(RestartVelocitySeed(17, 3, 2), 2017869204037235540ULL);
  EXPECT_EQ(MovedVelocitySeed(17, 3, 5), 9889400128651345150ULL);
  EXPECT_EQ(OpenMMSeed(17), 786658147);
}

TEST(SeedsTest, StreamsAreDistinctAcrossReplicasRoundsAndKinds) {
  std::set<uint64_t> seen;
  for (int replica = 0; replica < 16; ++replica) {
    for (int64_t round = 0; round < 16; ++round) {
      EXPECT_TRUE(seen.insert(SegmentSeed(7, replica, round)).second);
    }
    EXPECT_TRUE(seen.insert(VelocitySeed(7, replica)).second);
    for (int restart = 1; restart < 4; ++restart) {
      EXPECT_TRUE(seen.insert(RestartVelocitySeed(7, replica, restart)).second);
    }
    for (int64_t epoch = 1; epoch < 4; ++epoch) {
      EXPECT_TRUE(seen.insert(MovedVelocitySeed(7, replica, epoch)).second);
    }
  }
}

TEST(SeedsTest, OpenMMSeedsArePositiveInts) {
  for (uint64_t seed : {uint64_t{0}, uint64_t{1}, ~uint64_t{0},
                        uint64_t{0x9e3779b97f4a7c15ULL}}) {
    EXPECT_GT(OpenMMSeed(seed), 0) << seed;
  }
}

}  // namespace
}  // namespace replex::exchange
