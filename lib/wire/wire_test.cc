#include "lib/wire/wire.h"

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace replex::wire {
namespace {

using ::testing::ElementsAre;

TEST(WireTest, AnOrderCrossesTheWireUnchanged) {
  runner::SegmentOrder order;
  order.round = 41;
  order.replica = 3;
  order.rung = 5;
  order.steps = 500;
  order.segment_seed = 0xfedcba9876543210ULL;
  order.evaluate_rungs = {4, 6, 5};
  order.want_positions = true;
  order.want_state = true;
  const v1::SegmentOrder message = ToProto(order, "j1", 77);
  EXPECT_EQ(message.job_id(), "j1");
  EXPECT_EQ(message.epoch(), 77);
  const runner::SegmentOrder back = FromProto(message);
  EXPECT_EQ(back.round, 41);
  EXPECT_EQ(back.replica, 3);
  EXPECT_EQ(back.rung, 5);
  EXPECT_EQ(back.steps, 500);
  EXPECT_EQ(back.segment_seed, order.segment_seed);
  EXPECT_THAT(back.evaluate_rungs, ElementsAre(4, 6, 5));
  EXPECT_TRUE(back.want_positions);
  EXPECT_TRUE(back.want_state);
}

TEST(WireTest, AResultCrossesTheWireBitExactAndTaggedWithItsOrder) {
  v1::SegmentOrder order;
  order.set_job_id("j1");
  order.set_replica(2);
  order.set_round(9);
  order.set_epoch(12);
  runner::SegmentResult result;
  result.potential_kj_mol = -1.0 / 3;
  result.reduced = {1e-300, 2.5};
  result.positions_nm = {{0.1, 0.2, 0.3}, {-1, 2e10, 1.0 / 7}};
  result.state = std::string("\0bytes", 6);
  result.pv_kj_mol = 12.25;
  result.kinetic_kj_mol = 7.0 / 3;
  result.box_nm = {{{3, 0, 0}, {0.5, 3.1, 0}, {-0.25, 0.75, 2.9}}};
  const v1::WorkerMessage message = SegmentDone(order, result, 0.25);
  const v1::SegmentDone& done = message.segment_done();
  EXPECT_EQ(done.job_id(), "j1");
  EXPECT_EQ(done.replica(), 2);
  EXPECT_EQ(done.round(), 9);
  EXPECT_EQ(done.epoch(), 12);
  EXPECT_EQ(done.seconds(), 0.25);
  const runner::SegmentResult back = FromProto(done);
  EXPECT_EQ(back.potential_kj_mol, result.potential_kj_mol);
  EXPECT_EQ(back.reduced, result.reduced);
  // Positions as float32, what the trajectory frames keep.
  ASSERT_EQ(back.positions_nm.size(), 2u);
  for (int atom = 0; atom < 2; ++atom) {
    for (int i = 0; i < 3; ++i) {
      EXPECT_EQ(back.positions_nm[atom][i],
                static_cast<float>(result.positions_nm[atom][i]));
    }
  }
  EXPECT_EQ(done.positions_f32().size(), 24u);
  EXPECT_EQ(back.state, result.state);
  EXPECT_EQ(back.pv_kj_mol, result.pv_kj_mol);
  EXPECT_EQ(back.kinetic_kj_mol, result.kinetic_kj_mol);
  EXPECT_EQ(back.box_nm, result.box_nm);
}

// A worker of an earlier release sends doubles in positions_nm: still read.
TEST(WireTest, PositionsFromAnEarlierWorkerAreStillRead) {
  v1::SegmentDone done;
  for (double x : {0.1, 0.2, 0.3, -1.0, 2.0, 1.0 / 7}) done.add_positions_nm(x);
  const runner::SegmentResult result = FromProto(done);
  ASSERT_EQ(result.positions_nm.size(), 2u);
  EXPECT_EQ(result.positions_nm[1], (engine::Vec3{-1.0, 2.0, 1.0 / 7}));
}

// The packed form is little-endian float32 whatever the host: 1.0f is
// 00 00 80 3f. Infinities and NaN survive; a trailing partial atom is
// ignored.
TEST(WireTest, PositionsPackAsLittleEndianFloat32) {
  const std::string bytes =
      PackFloat32({{1.0, -2.0, 0.0},
                   {std::numeric_limits<double>::infinity(), 1e-50, 3e39}});
  ASSERT_EQ(bytes.size(), 24u);
  EXPECT_EQ(bytes.substr(0, 4), std::string("\x00\x00\x80\x3f", 4));
  EXPECT_EQ(bytes.substr(4, 4), std::string("\x00\x00\x00\xc0", 4));
  const std::vector<engine::Vec3> back = UnpackFloat32(bytes + "xyz");
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[0], (engine::Vec3{1.0, -2.0, 0.0}));
  EXPECT_TRUE(std::isinf(back[1][0]));
  EXPECT_EQ(back[1][1], 0.0);           // below float's range: 0
  EXPECT_TRUE(std::isinf(back[1][2]));  // above it: infinity
  EXPECT_TRUE(UnpackFloat32("").empty());
}

}  // namespace
}  // namespace replex::wire
