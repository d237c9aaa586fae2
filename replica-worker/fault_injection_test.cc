#include "replica-worker/fault_injection.h"

#include <cmath>

#include "gtest/gtest.h"
#include "replica-worker/testing/test_util.h"

namespace replex::worker {
namespace {

v1::WorkerMessage Done(int replica, int64_t round) {
  v1::WorkerMessage message;
  v1::SegmentDone& done = *message.mutable_segment_done();
  done.set_job_id("j");
  done.set_replica(replica);
  done.set_round(round);
  done.set_potential_kj_mol(-12.5);
  return message;
}

TEST(FaultInjectingOutputTest, PoisonsTheFirstResultOfItsRoundOnlyOnce) {
  testing::RecordingOutput recorded;
  FaultInjectingOutput output(FaultInjectingOutput::Fault::kNan, 3, &recorded);
  output.Send(Done(0, 2));
  output.Send(Done(1, 3));
  output.Send(Done(0, 3));
  v1::WorkerMessage heartbeat;
  heartbeat.mutable_heartbeat();
  output.Send(heartbeat);
  output.OnIdle();

  const std::vector<v1::WorkerMessage> sent = recorded.messages();
  ASSERT_EQ(sent.size(), 4u);
  EXPECT_EQ(sent[0].segment_done().potential_kj_mol(), -12.5);
  EXPECT_TRUE(std::isnan(sent[1].segment_done().potential_kj_mol()));
  EXPECT_EQ(sent[1].segment_done().replica(), 1);
  EXPECT_EQ(sent[2].segment_done().potential_kj_mol(), -12.5);
  EXPECT_TRUE(sent[3].has_heartbeat());
  EXPECT_EQ(recorded.idle_calls(), 1);
}

}  // namespace
TEST(FaultInjectingOutputTest, ACrashEndsTheProcessAtItsRound) {
  testing::RecordingOutput recorded;
  FaultInjectingOutput output(FaultInjectingOutput::Fault::kCrash, 3,
                              &recorded);
  output.Send(Done(0, 2));
  EXPECT_EQ(recorded.messages().size(), 1u);
  EXPECT_EXIT(output.Send(Done(0, 3)), ::testing::ExitedWithCode(70),
              "crashing");
}

}  // namespace replex::worker
