// RestoreCut on hand-made journals and checkpoints, and NewestUsableCheckpoint
// over in-memory stores: rollback without workers, threads or files.
#include "lib/runner/cut.h"

#include <optional>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/store/checkpoint_store.h"
#include "lib/store/in_memory_journal.h"

namespace replex::runner {
namespace {

// A valid spec of `n_rungs` temperatures; nothing here reads its System.
v1::JobSpec TestSpec(int n_rungs, int n_rounds) {
  v1::JobSpec spec;
  spec.set_system_xml("<System/>");
  spec.set_state_xml("<State/>");
  spec.set_seed(17);
  spec.mutable_exchange()->set_steps_per_exchange(10);
  spec.mutable_exchange()->set_n_rounds(n_rounds);
  for (int k = 0; k < n_rungs; ++k) {
    spec.mutable_ladder()->add_temperatures_k(300 + 10 * k);
  }
  return spec;
}

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// `n` rounds of a 3-replica job that swaps replicas 0 and 1 in every round:
// the permutation alternates between identity and {1, 0, 2}.
std::vector<store::JournaledRound> SwappingRounds(int n) {
  std::vector<store::JournaledRound> rounds;
  for (int r = 0; r < n; ++r) {
    store::JournaledRound& round = rounds.emplace_back();
    round.outcome.round = r;
    round.outcome.after = *exchange::Permutation::FromRungOfReplica(
        r % 2 == 0 ? std::vector<int>{1, 0, 2} : std::vector<int>{0, 1, 2});
    round.outcome.pair_attempts = {1, 1};
    round.outcome.pair_accepts = {1, 0};
    round.outcome.total_attempts = 2;
    round.outcome.total_accepts = 1;
    round.potential_kj_mol = {1, 2, 3};
  }
  return rounds;
}

v1::Checkpoint CheckpointAt(int64_t round, std::vector<int> rungs) {
  v1::Checkpoint checkpoint;
  checkpoint.set_job_id("j");
  checkpoint.set_round(round);
  for (int r = 0; r < 3; ++r) {
    checkpoint.add_rung_of_replica(rungs[r]);
    checkpoint.add_state_rung(2 - r);
    checkpoint.add_states("state of replica " + std::to_string(r));
  }
  return checkpoint;
}

// A checkpoint at round 10, where an adaptive ladder changes: its states
// were made in round 9, on the first ladder, so each replica starts at its
// state's rung at that ladder's temperature, not the new one's.
TEST(RestoreCutTest,
     AnAdaptiveLadderRestoresStatesAtTheTemperatureTheyWereMadeAt) {
  v1::JobSpec spec = TestSpec(3, 40);
  spec.mutable_ladder()->mutable_adapt()->set_rounds(20);
  spec.mutable_ladder()->mutable_adapt()->set_interval(10);
  const std::vector<store::JournaledRound> rounds = SwappingRounds(10);
  absl::StatusOr<Cut> cut = RestoreCut("j", spec, CheckpointAt(10, {0, 1, 2}),
                                       rounds, std::nullopt, 0);
  ASSERT_TRUE(cut.ok()) << cut.status();
  const std::vector<LadderVersion>& versions = cut->driver.ladder_versions();
  ASSERT_EQ(versions.size(), 2u);
  EXPECT_EQ(versions[1].from_round, 10);
  // Pair (0, 1) always accepted and (1, 2) never: rung 1 moved up.
  EXPECT_GT(versions[1].temperatures_k[1], 310);
  for (int r = 0; r < 3; ++r) {
    const int rung = 2 - r;  // CheckpointAt's state rungs
    EXPECT_EQ(cut->starts[r].rung, rung);
    EXPECT_EQ(cut->starts[r].temperature_k, versions[0].temperatures_k[rung])
        << "replica " << r;
  }
  // The next round's orders move replica 1 (at rung 1) to the new ladder.
  const SegmentOrder order = cut->driver.Orders(false)[1];
  EXPECT_EQ(order.ladder_version, 1);
  EXPECT_EQ(order.ladder->rung(1).temperature_k, versions[1].temperatures_k[1]);

  // A checkpoint naming a rung outside the ladder is refused, not indexed.
  v1::Checkpoint bad = CheckpointAt(10, {0, 1, 2});
  bad.set_state_rung(1, 7);
  absl::StatusOr<Cut> refused =
      RestoreCut("j", spec, bad, rounds, std::nullopt, 0);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(refused.status().message(), HasSubstr("rung 7"));
}

TEST(RestoreCutTest, WithoutACheckpointEveryReplicaStartsAtItsOwnRung) {
  absl::StatusOr<Cut> cut =
      RestoreCut("j", TestSpec(3, 10), std::nullopt, {}, std::nullopt, 0);
  ASSERT_TRUE(cut.ok()) << cut.status();
  EXPECT_FALSE(cut->from_checkpoint);
  EXPECT_EQ(cut->driver.round(), 0);
  ASSERT_EQ(cut->starts.size(), 3u);
  for (int r = 0; r < 3; ++r) {
    EXPECT_EQ(cut->starts[r].rung, r);
    EXPECT_TRUE(cut->starts[r].state.empty());
    EXPECT_FALSE(cut->starts[r].velocity_seed.has_value());
    EXPECT_EQ(cut->starts[r].temperature_k, 0);  // a fixed ladder's own
  }
}

TEST(RestoreCutTest, ReplaysTheRoundsBeforeTheCheckpointAndTakesItsStates) {
  const std::vector<store::JournaledRound> rounds = SwappingRounds(3);
  absl::StatusOr<Cut> cut =
      RestoreCut("j", TestSpec(3, 10), CheckpointAt(3, {1, 0, 2}), rounds,
                 std::nullopt, 0);
  ASSERT_TRUE(cut.ok()) << cut.status();
  EXPECT_TRUE(cut->from_checkpoint);
  EXPECT_EQ(cut->driver.round(), 3);
  EXPECT_THAT(cut->driver.permutation().rung_of_replica(),
              ElementsAre(1, 0, 2));
  EXPECT_THAT(cut->driver.statistics().pair_accepts(), ElementsAre(3, 0));
  for (int r = 0; r < 3; ++r) {
    EXPECT_EQ(cut->starts[r].rung, 2 - r);
    EXPECT_EQ(cut->starts[r].state, "state of replica " + std::to_string(r));
    EXPECT_FALSE(cut->starts[r].redraw_velocities);
  }
}

TEST(RestoreCutTest, AFaultyReplicaRedrawsVelocitiesFromASeedPerRestart) {
  const std::vector<store::JournaledRound> rounds = SwappingRounds(2);
  const v1::Checkpoint checkpoint = CheckpointAt(2, {0, 1, 2});
  absl::StatusOr<Cut> first =
      RestoreCut("j", TestSpec(3, 10), checkpoint, rounds, 1, 1);
  absl::StatusOr<Cut> second =
      RestoreCut("j", TestSpec(3, 10), checkpoint, rounds, 1, 2);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_TRUE(first->starts[1].redraw_velocities);
  ASSERT_TRUE(first->starts[1].velocity_seed.has_value());
  ASSERT_TRUE(second->starts[1].velocity_seed.has_value());
  EXPECT_NE(*first->starts[1].velocity_seed, *second->starts[1].velocity_seed);
  EXPECT_FALSE(first->starts[0].velocity_seed.has_value());
  EXPECT_FALSE(first->starts[2].redraw_velocities);
}

TEST(RestoreCutTest, ALogThatDoesNotLeadToTheCheckpointIsDataLoss) {
  struct Case {
    const char* name;
    std::vector<store::JournaledRound> rounds;
    v1::Checkpoint checkpoint;
  };
  std::vector<store::JournaledRound> gap = SwappingRounds(3);
  gap.erase(gap.begin() + 1);
  const Case cases[] = {
      {"permutation differs", SwappingRounds(3), CheckpointAt(3, {0, 1, 2})},
      {"log too short", SwappingRounds(2), CheckpointAt(3, {1, 0, 2})},
      {"log has a gap", gap, CheckpointAt(3, {1, 0, 2})},
  };
  for (const Case& c : cases) {
    absl::StatusOr<Cut> cut = RestoreCut("j", TestSpec(3, 10), c.checkpoint,
                                         c.rounds, std::nullopt, 0);
    EXPECT_EQ(cut.status().code(), absl::StatusCode::kDataLoss) << c.name;
  }
}

TEST(NewestUsableCheckpointTest, SkipsUnreadableAndMisfitCheckpoints) {
  store::InMemoryJournal journal;
  store::InMemoryCheckpointStore checkpoints;
  for (int64_t round : {2, 4, 6, 8}) {
    v1::Checkpoint checkpoint = CheckpointAt(round, {0, 1, 2});
    // An asynchronous run's counts: 6 segments by replica and by rung.
    for (int64_t count : {1, 2, 3}) checkpoint.add_segments_by_replica(count);
    for (int64_t count : {3, 2, 1}) checkpoint.add_segments_by_rung(count);
    if (round == 8) checkpoint.set_segments_by_rung(0, 4);  // 7 by rung
    const std::string location = *checkpoints.Write(checkpoint);
    ASSERT_TRUE(journal.RecordCheckpoint("j", {round, location}).ok());
  }
  std::vector<store::CheckpointRecord> recorded = *journal.Checkpoints("j");
  // Newest with counts that disagree, next torn, next for another replica
  // count: the oldest is the cut.
  checkpoints.Corrupt(recorded[2].location, "torn");
  v1::Checkpoint misfit = CheckpointAt(4, {0, 1, 2});
  misfit.add_states("a fourth replica");
  checkpoints.Corrupt(recorded[1].location, misfit.SerializeAsString());

  absl::StatusOr<std::optional<v1::Checkpoint>> newest =
      NewestUsableCheckpoint("j", 3, journal, &checkpoints);
  ASSERT_TRUE(newest.ok()) << newest.status();
  ASSERT_TRUE(newest->has_value());
  EXPECT_EQ((*newest)->round(), 2);

  EXPECT_FALSE(NewestUsableCheckpoint("j", 3, journal, nullptr)->has_value());
  EXPECT_FALSE(
      NewestUsableCheckpoint("other", 3, journal, &checkpoints)->has_value());
}

}  // namespace
}  // namespace replex::runner
