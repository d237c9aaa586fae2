#include "cli/replexctl_format.h"

#include <string>
#include <tuple>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace replex::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);

google::protobuf::Timestamp Stamp(absl::Time time) {
  google::protobuf::Timestamp stamp;
  stamp.set_seconds(absl::ToUnixSeconds(time));
  return stamp;
}

void AddPair(v1::Job& job, int lower, int64_t attempts, int64_t accepts) {
  v1::PairAcceptance* pair = job.add_pairs();
  pair->set_lower_rung(lower);
  pair->set_attempts(attempts);
  pair->set_accepts(accepts);
  pair->set_acceptance(attempts > 0 ? double(accepts) / attempts : 0);
}

v1::Job RunningJob() {
  v1::Job job;
  job.set_job_id("job-7");
  job.set_name("alanine");
  job.set_owner("ada");
  job.set_state(v1::RUNNING);
  job.set_n_replicas(3);
  job.set_n_rounds(400);
  job.set_rounds_completed(120);
  for (double t : {300.0, 310.5, 321.25}) job.add_temperatures_k(t);
  job.set_scheme("neighbors");
  job.set_platform("CPU");
  AddPair(job, 1, 60, 27);  // out of order on purpose
  AddPair(job, 0, 60, 25);
  job.set_round_trips(3);
  job.set_ns_per_day(95.14);
  job.set_workers(2);
  *job.mutable_created() = Stamp(kNow - absl::Minutes(5));
  *job.mutable_started() = Stamp(kNow - absl::Minutes(4));
  return job;
}

v1::JobEvent SnapshotEvent(const v1::Job& job) {
  v1::JobEvent event;
  *event.mutable_snapshot() = job;
  return event;
}

v1::JobEvent RoundEvent(int64_t round, std::vector<int64_t> attempts,
                        std::vector<int64_t> accepts) {
  v1::JobEvent event;
  event.mutable_round()->set_round(round);
  for (int64_t a : attempts) event.mutable_round()->add_pair_attempts(a);
  for (int64_t a : accepts) event.mutable_round()->add_pair_accepts(a);
  return event;
}

TEST(ProgressBarTest, FillsInProportionWithAnArrowHead) {
  EXPECT_EQ(ProgressBar(0, 10), "[          ]");
  EXPECT_EQ(ProgressBar(0.3, 10), "[===>      ]");
  EXPECT_EQ(ProgressBar(0.999, 10), "[=========>]");
  EXPECT_EQ(ProgressBar(1, 10), "[==========]");
  EXPECT_EQ(ProgressBar(7, 4), "[====]");
  EXPECT_EQ(ProgressBar(-1, 4), "[    ]");
  EXPECT_EQ(ProgressBar(std::nan(""), 4), "[    ]");
}

TEST(EtaSecondsTest, ScalesTheObservedRate) {
  EXPECT_DOUBLE_EQ(EtaSeconds(40, 20.0, 360).value(), 180.0);
  EXPECT_DOUBLE_EQ(EtaSeconds(400, 200.0, 0).value(), 0.0);
  EXPECT_FALSE(EtaSeconds(0, 20.0, 10).has_value());
  EXPECT_FALSE(EtaSeconds(5, 0.0, 10).has_value());
}

TEST(StateNameTest, NamesKnownAndUnknownStates) {
  EXPECT_EQ(StateName(v1::RUNNING), "RUNNING");
  EXPECT_EQ(StateName(42), "UNKNOWN(42)");
  EXPECT_TRUE(IsEnded(v1::CANCELLED));
  EXPECT_FALSE(IsEnded(v1::QUEUED));
}

TEST(AcceptanceRangeTest, SpansPairsWithAttempts) {
  v1::Job job;
  EXPECT_EQ(AcceptanceRange(job), "-");
  AddPair(job, 0, 0, 0);
  EXPECT_EQ(AcceptanceRange(job), "-");
  AddPair(job, 1, 100, 31);
  EXPECT_EQ(AcceptanceRange(job), "0.31");
  AddPair(job, 2, 100, 45);
  EXPECT_EQ(AcceptanceRange(job), "0.31-0.45");
}

TEST(FormatTableTest, AlignsColumnsAndTrimsTrailingBlanks) {
  EXPECT_EQ(FormatTable({"ID", "N", "NOTE"},
                        {{"a", "5", "x"}, {"long-id", "123", ""}},
                        {false, true, false}),
            "ID         N  NOTE\n"
            "a          5  x\n"
            "long-id  123\n");
  EXPECT_EQ(FormatTable({}, {{"key", "v"}}, {}), "key  v\n");
}

TEST(JobsTableTest, OneRowPerJob) {
  v1::Job queued;
  queued.set_job_id("job-8");
  queued.set_state(v1::QUEUED);
  queued.set_n_rounds(50);
  EXPECT_EQ(
      JobsTable({RunningJob(), queued}, kNow),
      "ID     NAME     OWNER  STATE     ROUNDS  ACCEPTANCE  NS/DAY    AGE\n"
      "job-7  alanine  ada    RUNNING  120/400  0.42-0.45     95.1  5m00s\n"
      "job-8  -        -      QUEUED      0/50  -                -      -\n");
}

TEST(JobDetailTest, ShowsPairsWithTheirTemperatures) {
  const std::string detail = JobDetail(RunningJob(), kNow);
  EXPECT_THAT(detail, HasSubstr("state        RUNNING\n"));
  EXPECT_THAT(detail, HasSubstr("rounds       120/400 (30%)\n"));
  EXPECT_THAT(detail,
              HasSubstr("replicas     3 (scheme neighbors, platform CPU)\n"));
  EXPECT_THAT(detail, HasSubstr("ns/day       95.1\n"));
  EXPECT_THAT(detail,
              HasSubstr("created      2027-01-15 07:55:00 UTC (5m00s ago)\n"));
  EXPECT_THAT(detail, HasSubstr("finished     -\n"));
  EXPECT_THAT(
      detail,
      HasSubstr("PAIR  RUNGS                ATTEMPTS  ACCEPTS  ACCEPTANCE\n"
                "0-1   300.0 K <-> 310.5 K        60       25       0.417\n"
                "1-2   310.5 K <-> 321.2 K        60       27       0.450\n"));
  EXPECT_THAT(detail, Not(HasSubstr("error")));
}

TEST(JobDetailTest, AGridLaddersPairsShowTheirRungsAndAxis) {
  v1::Job job = RunningJob();
  job.clear_pairs();
  job.clear_temperatures_k();
  for (double t : {300.0, 300.0, 330.0, 330.0}) job.add_temperatures_k(t);
  // 2 temperatures x 2 lambdas: (0,2) (1,3) along axis 0, then (0,1) (2,3).
  for (const auto& [lower, upper, axis] :
       std::vector<std::tuple<int, int, int>>{
           {0, 2, 0}, {1, 3, 0}, {0, 1, 1}, {2, 3, 1}}) {
    AddPair(job, lower, 10, 5);
    job.mutable_pairs()->rbegin()->set_upper_rung(upper);
    job.mutable_pairs()->rbegin()->set_axis(axis);
  }
  EXPECT_THAT(
      JobDetail(job, kNow),
      HasSubstr(
          "PAIR  AXIS  RUNGS                ATTEMPTS  ACCEPTS  ACCEPTANCE\n"
          "0-2      0  300.0 K <-> 330.0 K        10        5       0.500\n"
          "1-3      0  300.0 K <-> 330.0 K        10        5       0.500\n"
          "0-1      1  300.0 K <-> 300.0 K        10        5       0.500\n"
          "2-3      1  330.0 K <-> 330.0 K        10        5       0.500\n"));
}

TEST(JobDetailTest, FailedJobShowsItsError) {
  v1::Job job = RunningJob();
  job.set_state(v1::FAILED);
  job.set_error("replica 3 blew up at round 17; lower the timestep");
  job.mutable_labels()->insert({"b", "2"});
  job.mutable_labels()->insert({"a", "1"});
  const std::string detail = JobDetail(job, kNow);
  EXPECT_THAT(detail,
              HasSubstr("error        replica 3 blew up at round 17; lower "
                        "the timestep\n"));
  EXPECT_THAT(detail, HasSubstr("labels       a=1, b=2\n"));
}

TEST(JobDetailTest, QueuedJobShowsWhyItWaits) {
  v1::Job job = RunningJob();
  job.set_state(v1::QUEUED);
  job.set_queue_reason("no Reference worker is connected");
  EXPECT_THAT(JobDetail(job, kNow),
              HasSubstr("waiting      no Reference worker is connected\n"));
  WatchProgress progress;
  progress.Apply(SnapshotEvent(job), kNow);
  EXPECT_THAT(progress.Line(kNow),
              HasSubstr("QUEUED (no Reference worker is connected)"));
  job.clear_queue_reason();
  EXPECT_THAT(JobDetail(job, kNow), Not(HasSubstr("waiting")));
}

TEST(FitWidthTest, CutsWithAnEllipsis) {
  EXPECT_EQ(FitWidth("abcdef", 0), "abcdef");
  EXPECT_EQ(FitWidth("abcdef", 6), "abcdef");
  EXPECT_EQ(FitWidth("abcdef", 5), "ab...");
  EXPECT_EQ(FitWidth("abcdef", 2), "ab");
}

TEST(WatchProgressTest, FoldsRoundsIntoTheSnapshot) {
  v1::Job job = RunningJob();
  job.clear_pairs();
  job.set_n_rounds(10);
  job.set_rounds_completed(2);
  WatchProgress progress;
  progress.Apply(SnapshotEvent(job), kNow);
  // Round 1 is already in the snapshot; 2 and 3 are new.
  progress.Apply(RoundEvent(1, {1, 0}, {1, 0}), kNow);
  progress.Apply(RoundEvent(2, {1, 0}, {1, 0}), kNow + absl::Seconds(1));
  progress.Apply(RoundEvent(3, {0, 1}, {0, 0}), kNow + absl::Seconds(2));
  EXPECT_EQ(progress.job().rounds_completed(), 4);
  ASSERT_EQ(progress.job().pairs_size(), 2);
  EXPECT_EQ(progress.job().pairs(0).attempts(), 1);
  EXPECT_DOUBLE_EQ(progress.job().pairs(0).acceptance(), 1.0);
  EXPECT_EQ(progress.job().pairs(1).attempts(), 1);
  EXPECT_DOUBLE_EQ(progress.job().pairs(1).acceptance(), 0.0);
  // 2 rounds in 2 s seen by this watch, 6 to go, 0.5 s since the last one.
  EXPECT_DOUBLE_EQ(progress.EtaSeconds(kNow + absl::Seconds(2.5)).value(), 5.5);
  EXPECT_FALSE(progress.ended());
}

// Under asynchronous exchange a RoundEvent is an exchange event: the
// snapshot says which events it counts (events_completed) apart from the
// rounds' worth of segments (rounds_completed), and each event says the
// rounds' worth after it, so events are neither counted twice nor taken for
// rounds.
TEST(WatchProgressTest, AsynchronousEventsAreNotRounds) {
  v1::Job job = RunningJob();
  job.clear_pairs();
  job.set_n_rounds(10);
  job.set_rounds_completed(2);
  job.set_events_completed(5);
  WatchProgress progress;
  progress.Apply(SnapshotEvent(job), kNow);
  // Event 4 is in the snapshot already; 5 and 6 are new.
  for (int event = 4; event <= 6; ++event) {
    v1::JobEvent round = RoundEvent(event, {1, 0}, {1, 0});
    round.mutable_round()->set_rounds_completed(2 + (event - 4) / 2);
    progress.Apply(round, kNow + absl::Seconds(event));
  }
  EXPECT_EQ(progress.job().events_completed(), 7);
  EXPECT_EQ(progress.job().rounds_completed(), 3);
  ASSERT_EQ(progress.job().pairs_size(), 2);
  EXPECT_EQ(progress.job().pairs(0).attempts(), 2);
  // An event with no rounds_completed (an earlier coordinator) is a round.
  progress.Apply(RoundEvent(7, {0, 0}, {0, 0}), kNow);
  EXPECT_EQ(progress.job().rounds_completed(), 8);
}

TEST(WatchProgressTest, RoundEventsCarryTheRunningTotals) {
  WatchProgress progress;
  progress.Apply(SnapshotEvent(RunningJob()), kNow);
  v1::JobEvent event = RoundEvent(120, {1, 0}, {1, 0});
  event.mutable_round()->set_round_trips(9);
  event.mutable_round()->set_ns_per_day(250.5);
  progress.Apply(event, kNow);
  EXPECT_EQ(progress.job().round_trips(), 9);
  EXPECT_DOUBLE_EQ(progress.job().ns_per_day(), 250.5);
}

TEST(WatchProgressTest, EtaFallsBackToTheJobsOwnRateThenUnknown) {
  WatchProgress progress;
  v1::Job job = RunningJob();  // 120 of 400 rounds in the 4 minutes since start
  progress.Apply(SnapshotEvent(job), kNow);
  EXPECT_DOUBLE_EQ(progress.EtaSeconds(kNow).value(), 560.0);
  job.clear_started();
  progress.Apply(SnapshotEvent(job), kNow);
  EXPECT_FALSE(progress.EtaSeconds(kNow).has_value());
}

TEST(WatchProgressTest, LineReadsLikeReplexRun) {
  WatchProgress progress;
  progress.Apply(SnapshotEvent(RunningJob()), kNow);
  EXPECT_EQ(progress.Line(kNow),
            "[round 120/400  30%] acceptance 0.42 0.45 | round trips 3 | "
            "95.1 ns/day | ETA 9m20s");
  EXPECT_EQ(progress.Line(kNow, 10),
            "[===>      ] round 120/400 30% | 95.1 ns/day | ETA 9m20s | round "
            "trips 3 | acceptance 0.42 0.45");
  v1::Job queued;
  queued.set_state(v1::QUEUED);
  queued.set_n_rounds(40);
  progress.Apply(SnapshotEvent(queued), kNow);
  EXPECT_EQ(progress.Line(kNow), "[round  0/40   0%] QUEUED | round trips 0");
}

TEST(WatchProgressTest, LogsAboutEveryFivePercentAndEachStateChange) {
  v1::Job job;
  job.set_state(v1::QUEUED);
  job.set_n_rounds(100);
  WatchProgress progress;
  progress.Apply(SnapshotEvent(job), kNow);
  int logged = progress.TakeLogLine() ? 1 : 0;
  job.set_state(v1::RUNNING);
  progress.Apply(SnapshotEvent(job), kNow);
  logged += progress.TakeLogLine();
  for (int round = 0; round < 100; ++round) {
    progress.Apply(RoundEvent(round, {1}, {0}), kNow);
    logged += progress.TakeLogLine();
  }
  job.set_rounds_completed(100);
  job.set_state(v1::SUCCEEDED);
  progress.Apply(SnapshotEvent(job), kNow);
  logged += progress.TakeLogLine();
  EXPECT_FALSE(progress.TakeLogLine());
  // QUEUED, RUNNING at 0%, 20 steps of 5%, SUCCEEDED.
  EXPECT_EQ(logged, 23);
  EXPECT_TRUE(progress.ended());
}

}  // namespace
}  // namespace replex::cli
