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

// In a round's SegmentDones (SegmentOrder.batch_result) the result of the
// round is poisoned, once; the others in the message are passed on as sent.
TEST(FaultInjectingOutputTest, PoisonsItsRoundsResultInsideABatch) {
  testing::RecordingOutput recorded;
  FaultInjectingOutput output(FaultInjectingOutput::Fault::kNan, 3, &recorded);
  v1::WorkerMessage batch;
  for (const auto& [replica, round] : {std::pair{0, 2}, {1, 3}, {2, 3}}) {
    *batch.mutable_segment_dones()->add_done() =
        Done(replica, round).segment_done();
  }
  output.Send(batch);
  output.Send(batch);

  const std::vector<v1::WorkerMessage> sent = recorded.messages();
  ASSERT_EQ(sent.size(), 2u);
  ASSERT_EQ(sent[0].segment_dones().done_size(), 3);
  EXPECT_EQ(sent[0].segment_dones().done(0).potential_kj_mol(), -12.5);
  EXPECT_TRUE(std::isnan(sent[0].segment_dones().done(1).potential_kj_mol()));
  EXPECT_EQ(sent[0].segment_dones().done(2).potential_kj_mol(), -12.5);
  EXPECT_EQ(sent[1].SerializeAsString(), batch.SerializeAsString());
}

TEST(FaultInjectingOutputTest, ACrashEndsTheProcessAtItsRound) {
  testing::RecordingOutput recorded;
  FaultInjectingOutput output(FaultInjectingOutput::Fault::kCrash, 3,
                              &recorded);
  output.Send(Done(0, 2));
  EXPECT_EQ(recorded.messages().size(), 1u);
  EXPECT_EXIT(output.Send(Done(0, 3)), ::testing::ExitedWithCode(70),
              "crashing");
}

}  // namespace
}  // namespace replex::worker
