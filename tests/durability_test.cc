// Durability end to end: real coordinator, gateway and worker processes,
// with faults injected by the test itself (kill -9 of workers and of the
// coordinator, SIGTERM, a NaN replica, a network partition). The check is
// always the journal's exchange log: exactly n_rounds rounds, no gaps, no
// duplicates, every permutation a bijection, and -- where no replica was
// restarted with fresh velocities -- bit for bit the log of an
// uninterrupted embedded run of the same spec on Reference, since rounds
// recomputed after a rollback are the same rounds.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/runner/runner.h"
#include "lib/spec/spec.h"
#include "lib/store/sqlite_journal.h"
#include "tests/cluster.h"
#include "tests/test_paths.h"

namespace replex::testing {
namespace {

using ::testing::ContainsRegex;
using ::testing::HasSubstr;

// One round of an exchange log.
struct LoggedRound {
  int64_t round;
  std::vector<int> rung_of_replica;
  std::vector<double> potential_kj_mol;
};

// The harmonic-oscillator job with checkpoints every `interval` rounds.
std::string WriteJob(const LocalCluster& cluster, const std::string& name,
                     int rounds, int interval, int steps = 200) {
  const std::string path =
      WriteHarmonicJob(cluster.dir(), name, 4, steps, rounds, 2026);
  std::ofstream(path, std::ios::app)
      << "checkpoint_interval: " << interval << "\n";
  return path;
}

std::vector<LoggedRound> EmbeddedLog(const std::string& yaml) {
  absl::StatusOr<v1::JobSpec> spec = spec::LoadYamlFile(yaml);
  EXPECT_TRUE(spec.ok()) << spec.status();
  std::vector<LoggedRound> log;
  runner::RunOptions options;
  options.on_round = [&](const runner::RoundReport& report) {
    log.push_back({report.outcome.round, report.outcome.after.rung_of_replica(),
                   report.potential_kj_mol});
    return absl::OkStatus();
  };
  EXPECT_TRUE(runner::RunJob(*spec, options).ok());
  return log;
}

std::vector<LoggedRound> JournalLog(const LocalCluster& cluster,
                                    const std::string& id) {
  absl::StatusOr<std::unique_ptr<store::SqliteJournal>> journal =
      store::SqliteJournal::Open(cluster.journal_path());
  EXPECT_TRUE(journal.ok()) << journal.status();
  if (!journal.ok()) return {};
  absl::StatusOr<std::vector<store::JournaledRound>> rounds =
      (*journal)->Rounds(id, std::numeric_limits<int64_t>::max());
  EXPECT_TRUE(rounds.ok()) << rounds.status();
  std::vector<LoggedRound> log;
  if (!rounds.ok()) return log;
  for (const store::JournaledRound& round : *rounds) {
    log.push_back({round.outcome.round, round.outcome.after.rung_of_replica(),
                   round.potential_kj_mol});
  }
  return log;
}

// Exactly rounds 0..n-1, each once, each permutation a bijection.
void ExpectCompleteLog(const std::vector<LoggedRound>& log, int n_rounds,
                       int n_replicas) {
  ASSERT_EQ(static_cast<int>(log.size()), n_rounds);
  for (int r = 0; r < n_rounds; ++r) {
    ASSERT_EQ(log[r].round, r) << "a gap or a duplicate before round " << r;
    std::vector<int> rungs = log[r].rung_of_replica;
    std::sort(rungs.begin(), rungs.end());
    std::vector<int> identity(n_replicas);
    for (int k = 0; k < n_replicas; ++k) identity[k] = k;
    ASSERT_EQ(rungs, identity) << "round " << r << " is not a bijection";
  }
}

// Rounds [0, end) are bit for bit the same in both logs.
void ExpectSameRounds(const std::vector<LoggedRound>& log,
                      const std::vector<LoggedRound>& reference, size_t end) {
  ASSERT_LE(end, log.size());
  ASSERT_LE(end, reference.size());
  for (size_t r = 0; r < end; ++r) {
    ASSERT_EQ(log[r].rung_of_replica, reference[r].rung_of_replica)
        << "round " << r;
    ASSERT_EQ(log[r].potential_kj_mol, reference[r].potential_kj_mol)
        << "round " << r;
  }
}

bool Ended(const v1::Job& job) {
  return job.state() == v1::SUCCEEDED || job.state() == v1::FAILED ||
         job.state() == v1::CANCELLED;
}

v1::Job WaitForRound(const LocalCluster& cluster, const std::string& id,
                     int64_t rounds) {
  return cluster.WaitForJob(
      id,
      [rounds](const v1::Job& job) {
        return job.rounds_completed() >= rounds || Ended(job);
      },
      absl::StrCat("past round ", rounds), absl::Seconds(40));
}

v1::Job WaitForEnd(const LocalCluster& cluster, const std::string& id) {
  return cluster.WaitForJob(id, Ended, "ended", absl::Seconds(60));
}

int Count(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos;
       at = text.find(what, at + 1)) {
    ++n;
  }
  return n;
}

// The rounds the coordinator's log says the job resumed at, in order.
std::vector<int64_t> ResumedAt(const std::string& log, const std::string& id) {
  std::vector<int64_t> rounds;
  const std::string marker = absl::StrCat("job ", id, " resumes at round ");
  for (size_t at = log.find(marker); at != std::string::npos;
       at = log.find(marker, at + 1)) {
    int64_t round = 0;
    const size_t start = at + marker.size();
    const size_t end = log.find(' ', start);
    if (absl::SimpleAtoi(log.substr(start, end - start), &round)) {
      rounds.push_back(round);
    }
  }
  return rounds;
}

constexpr int kRounds = 400;
constexpr int kInterval = 25;

// Starts the services and `workers` workers, then submits the job of
// `rounds` rounds (its YAML in dir()/NAME.yaml); returns its id.
std::string StartJob(LocalCluster& cluster, const std::string& name,
                     int workers, int rounds = kRounds) {
  absl::Status started = cluster.StartServices();
  for (int i = 0; started.ok() && i < workers; ++i) {
    started = cluster.AddWorker();
  }
  EXPECT_TRUE(started.ok()) << started << cluster.Logs();
  return cluster.SubmitJob(WriteJob(cluster, name, rounds, kInterval));
}

// The job succeeded, and its exchange log is complete and bit for bit that
// of an uninterrupted run.
void ExpectSucceededAsUninterrupted(const LocalCluster& cluster,
                                    const std::string& id,
                                    const std::string& name,
                                    int rounds = kRounds, int replicas = 4) {
  const v1::Job job = WaitForEnd(cluster, id);
  ASSERT_EQ(job.state(), v1::SUCCEEDED) << job.error() << cluster.Logs();
  EXPECT_EQ(job.rounds_completed(), rounds);
  const std::vector<LoggedRound> log = JournalLog(cluster, id);
  ExpectCompleteLog(log, rounds, replicas);
  ExpectSameRounds(log, EmbeddedLog(cluster.dir() + "/" + name + ".yaml"),
                   rounds);
}

// 1. kill -9 workers mid-job, again and again, with replacements joining.
TEST(DurabilityTest, KilledWorkersCostOnlyRoundsAfterTheLastCheckpoint) {
  LocalCluster cluster("kill-workers");
  const std::string id = StartJob(cluster, "kill", 3);

  constexpr int kKills = 5;
  int victim = 0;
  for (int kill = 0; kill < kKills; ++kill) {
    // Past the next checkpoint, so that each kill has something to keep.
    const v1::Job job =
        WaitForRound(cluster, id, (kill + 1) * kRounds / (kKills + 2));
    ASSERT_EQ(job.state(), v1::RUNNING) << cluster.Logs();
    cluster.worker(victim).Signal(SIGKILL);
    cluster.worker(victim).Wait(absl::Seconds(10));
    ++victim;
    ASSERT_TRUE(cluster.AddWorker().ok());
  }
  ExpectSucceededAsUninterrupted(cluster, id, "kill");
  const std::string logs = cluster.Logs();
  const std::vector<int64_t> resumed = ResumedAt(logs, id);
  // A victim that had not been given replicas yet costs nothing.
  EXPECT_GE(resumed.size(), 3u) << logs;
  for (int64_t round : resumed) EXPECT_EQ(round % kInterval, 0) << round;
}

// 2. kill -9 the coordinator mid-job and start it again.
TEST(DurabilityTest, ARestartedCoordinatorResumesFromTheLastCheckpoint) {
  LocalCluster cluster("kill-coordinator");
  const std::string id = StartJob(cluster, "restart", 2);
  const int64_t seen =
      WaitForRound(cluster, id, kRounds / 2).rounds_completed();
  ASSERT_LT(seen, kRounds);
  cluster.StopCoordinator(SIGKILL);
  ASSERT_TRUE(cluster.StartCoordinator().ok()) << cluster.Logs();

  ExpectSucceededAsUninterrupted(cluster, id, "restart");
  const std::string log_text = cluster.coordinator_process().Log();
  const std::vector<int64_t> resumed = ResumedAt(log_text, id);
  ASSERT_EQ(resumed.size(), 1u) << log_text;
  // At most the rounds after the last checkpoint are run again (the round
  // seen last may be newer than the checkpoint written for it).
  EXPECT_GE(resumed[0], (seen - 1) / kInterval * kInterval) << log_text;
  EXPECT_EQ(resumed[0] % kInterval, 0);
  // Ended jobs stay visible after a restart too.
  cluster.StopCoordinator(SIGKILL);
  ASSERT_TRUE(cluster.StartCoordinator().ok()) << cluster.Logs();
  EXPECT_EQ(WaitForEnd(cluster, id).state(), v1::SUCCEEDED);
}

// 6. Everything stops at once; started again, the job resumes and ends.
TEST(DurabilityTest, AJobResumesAfterAFullClusterStop) {
  LocalCluster cluster("full-stop");
  const std::string id = StartJob(cluster, "stop", 2);
  WaitForRound(cluster, id, kRounds / 2);
  for (int i = 0; i < cluster.workers(); ++i) {
    cluster.worker(i).Signal(SIGKILL);
    cluster.worker(i).Wait(absl::Seconds(10));
  }
  cluster.StopCoordinator(SIGKILL);

  ASSERT_TRUE(cluster.StartCoordinator().ok()) << cluster.Logs();
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(cluster.AddWorker().ok());
  ExpectSucceededAsUninterrupted(cluster, id, "stop");
  EXPECT_THAT(cluster.coordinator_process().Log(),
              HasSubstr("recovered from the journal"));
}

// 5. A replica that reports NaN restarts from the last checkpoint with fresh
// velocities; with no restarts allowed the job fails naming it.
TEST(DurabilityTest, ANanReplicaRestartsAndExhaustedRestartsFailTheJob) {
  constexpr int kNanRound = 37, kNanRounds = 80, kNanInterval = 10;
  for (const bool allowed : {true, false}) {
    LocalCluster cluster(allowed ? "nan-restart" : "nan-exhausted");
    cluster.set_coordinator_flags(
        {absl::StrCat("--max_replica_restarts=", allowed ? 3 : 0)});
    ASSERT_TRUE(cluster.StartServices().ok()) << cluster.Logs();
    ASSERT_TRUE(cluster
                    .AddWorker({.flags = {absl::StrCat("--test_inject_nan=",
                                                       kNanRound)}})
                    .ok());
    const std::string yaml =
        WriteJob(cluster, "nan", kNanRounds, kNanInterval, 50);
    const std::string id = cluster.SubmitJob(yaml);
    const v1::Job job = WaitForEnd(cluster, id);
    const std::string logs = cluster.Logs();
    if (allowed) {
      ASSERT_EQ(job.state(), v1::SUCCEEDED) << job.error() << logs;
      EXPECT_THAT(logs, HasSubstr(absl::StrCat("non-finite energy in round ",
                                               kNanRound)));
      EXPECT_THAT(logs, HasSubstr(absl::StrCat(
                            "resumes at round ",
                            kNanRound / kNanInterval * kNanInterval)));
      EXPECT_THAT(logs, HasSubstr("restarts with fresh velocities"));
      const std::vector<LoggedRound> log = JournalLog(cluster, id);
      ExpectCompleteLog(log, kNanRounds, 4);
      // Before the checkpoint nothing changed; from it on, the restarted
      // replica follows a new trajectory.
      const std::vector<LoggedRound> reference = EmbeddedLog(yaml);
      const int checkpoint = kNanRound / kNanInterval * kNanInterval;
      ExpectSameRounds(log, reference, checkpoint);
      EXPECT_NE(log[checkpoint].potential_kj_mol,
                reference[checkpoint].potential_kj_mol);
    } else {
      ASSERT_EQ(job.state(), v1::FAILED) << logs;
      EXPECT_THAT(job.error(), HasSubstr("non-finite energy in round 37"));
      EXPECT_THAT(job.error(), HasSubstr("replica "));
      EXPECT_THAT(job.error(), HasSubstr("--max_replica_restarts"));
    }
  }
}

// 3. SIGTERM: the worker hands its replicas back and exits 0 within its
// grace period; nothing is recomputed.
TEST(DurabilityTest, ASigtermedWorkerDrainsAndExitsCleanly) {
  LocalCluster cluster("sigterm");
  const std::string id = StartJob(cluster, "drain", 2);
  WaitForRound(cluster, id, kRounds / 4);
  const absl::Time start = absl::Now();
  cluster.worker(0).Signal(SIGTERM);
  // --shutdown_grace=5s (LocalCluster), plus the exit itself.
  EXPECT_EQ(cluster.worker(0).Wait(absl::Seconds(8)), 0) << cluster.Logs();
  EXPECT_LT(absl::Now() - start, absl::Seconds(6));
  // An idle worker that drains as soon as it has joined does not strand
  // anything either.
  ASSERT_TRUE(cluster.AddWorker().ok());
  ASSERT_TRUE(WaitForLog(cluster.worker(2), "connected to")) << cluster.Logs();
  cluster.worker(2).Signal(SIGTERM);
  EXPECT_EQ(cluster.worker(2).Wait(absl::Seconds(8)), 0) << cluster.Logs();

  ExpectSucceededAsUninterrupted(cluster, id, "drain");
  const std::string logs = cluster.Logs();
  EXPECT_EQ(Count(logs, "rolls back"), 0) << logs;
  EXPECT_THAT(cluster.worker(0).Log(), HasSubstr("drained"));
}

// A network namespace joined to this one by a veth pair, removed on
// destruction: the far end's processes are cut off by taking the link down.
class Partitionable {
 public:
  Partitionable() {
    const int id = static_cast<int>(getpid() % 200) + 20;
    ns_ = absl::StrCat("rpxd", getpid());
    host_if_ = absl::StrCat("rpxh", getpid() % 100000);
    const std::string far_if = absl::StrCat("rpxn", getpid() % 100000);
    host_ip_ = absl::StrCat("10.213.", id, ".1");
    const auto [code, output] = RunCommand(absl::StrCat(
        "set -e; ip netns add ", ns_, "; ip link add ", host_if_,
        " type veth peer name ", far_if, "; ip link set ", far_if, " netns ",
        ns_, "; ip addr add ", host_ip_, "/30 dev ", host_if_, "; ip link set ",
        host_if_, " up; ip netns exec ", ns_, " ip addr add 10.213.", id,
        ".2/30 dev ", far_if, "; ip netns exec ", ns_, " ip link set ", far_if,
        " up; ip netns exec ", ns_, " ip link set lo up"));
    ok_ = code == 0;
    error_ = output;
    // posix_spawn wants a path; `ip netns exec` then execs the worker, so
    // signals reach it.
    ip_ = std::string(
        absl::StripAsciiWhitespace(RunCommand("command -v ip").second));
  }
  ~Partitionable() {
    RunCommand(absl::StrCat("ip netns del ", ns_, "; ip link del ", host_if_));
  }
  bool ok() const { return ok_; }
  const std::string& error() const { return error_; }
  const std::string& host_ip() const { return host_ip_; }
  std::vector<std::string> prefix() const {
    return {ip_, "netns", "exec", ns_};
  }
  bool SetLink(bool up) {
    return RunCommand(
               absl::StrCat("ip link set ", host_if_, up ? " up" : " down"))
               .first == 0;
  }

 private:
  std::string ns_, host_if_, host_ip_, error_, ip_;
  bool ok_ = false;
};

// 4. A partitioned worker is lost at the heartbeat timeout and its replicas
// go on elsewhere; once the partition heals, what it still held is dropped
// (its old session is over) and it joins again as a new session.
TEST(DurabilityTest, APartitionedWorkerIsReplacedAndItsStaleWorkDropped) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root for ip netns";
  Partitionable net;  // outlives the cluster, whose worker runs inside it
  if (!net.ok())
    GTEST_SKIP() << "cannot make a network namespace: " << net.error();
  LocalCluster cluster("partition");
  cluster.set_coordinator_flags(
      {"--worker_listen=0.0.0.0:0", "--heartbeat_timeout=3s"});
  ASSERT_TRUE(cluster.StartServices().ok()) << cluster.Logs();
  const std::string port = cluster.worker_endpoint().substr(
      cluster.worker_endpoint().rfind(':') + 1);
  ASSERT_TRUE(cluster.AddWorker().ok());
  ASSERT_TRUE(cluster
                  .AddWorker({.flags = {absl::StrCat(
                                  "--coordinator=", net.host_ip(), ":", port)},
                              .prefix = net.prefix()})
                  .ok());
  Process& cut_off = cluster.worker(1);
  ASSERT_TRUE(WaitForLog(cut_off, "connected to")) << cluster.Logs();
  const std::string id =
      cluster.SubmitJob(WriteJob(cluster, "partition", 2 * kRounds, kInterval));
  WaitForRound(cluster, id, kRounds / 2);
  ASSERT_TRUE(net.SetLink(false));
  ExpectSucceededAsUninterrupted(cluster, id, "partition", 2 * kRounds);
  EXPECT_THAT(cluster.coordinator_process().Log(),
              ContainsRegex("worker-1#[0-9]+ lost: nothing heard for"));
  EXPECT_GE(ResumedAt(cluster.coordinator_process().Log(), id).size(), 1u);

  ASSERT_TRUE(net.SetLink(true));
  // Healed: the old stream ends, the worker drops the replicas it held for
  // the lost session (their results never count) and registers anew.
  ASSERT_TRUE(WaitForLog(cut_off, "dropped 1 jobs")) << cluster.Logs();
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (Count(cut_off.Log(), "connected to") < 2 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_EQ(Count(cut_off.Log(), "connected to"), 2) << cluster.Logs();
}

// Volumes by round (one row each, by replica) from a results directory's
// volumes.tsv; empty when it cannot be read.
std::vector<std::vector<double>> VolumesByRound(const std::string& dir) {
  std::ifstream in(dir + "/volumes.tsv");
  std::string line;
  std::getline(in, line);  // the header
  std::vector<std::vector<double>> volumes;
  while (std::getline(in, line)) {
    std::vector<std::string> fields = absl::StrSplit(line, '\t');
    int64_t round = -1;
    if (fields.size() < 3 || !absl::SimpleAtoi(fields[0], &round) ||
        round != static_cast<int64_t>(volumes.size())) {
      ADD_FAILURE() << "volumes.tsv row " << volumes.size() << ": " << line;
      return {};
    }
    std::vector<double>& row = volumes.emplace_back();
    for (size_t f = 2; f < fields.size(); ++f) {
      double v = 0;
      EXPECT_TRUE(absl::SimpleAtod(fields[f], &v)) << line;
      row.push_back(v);
    }
  }
  return volumes;
}

// 7. NPT: a killed worker and a killed coordinator cost only the rounds
// after the last checkpoint, and each replica's box comes back with its
// state. Rounds before the first cut equal an uninterrupted run's bit for
// bit; the rounds recomputed after a cut do not, because OpenMM 7.7 keeps a
// Monte Carlo barostat's adaptive step size in the Context, outside any
// State or checkpoint (docs/durability.md). The box check: in the first round
// after a cut, a replica's volume moves from the checkpoint's by at most
// steps/frequency = 2 barostat moves of at most the initial step size, 1% of
// the System's default volume V0 = 2692.2 nm^3, i.e. 53.9 nm^3; a box not
// restored (the System's default) would be within that of V0 instead, so the
// check only counts replicas whose volume at the cut is > 2 x 53.9 from V0.
TEST(DurabilityTest, AnNptJobSurvivesKillsWithItsBoxRestored) {
  constexpr int kNptRounds = 3000;
  constexpr double kV0 = 2692.2, kMaxStep = 2 * 0.01 * kV0;
  LocalCluster cluster("kill-npt");
  ASSERT_TRUE(cluster.StartServices().ok()) << cluster.Logs();
  // One worker at a time: a replica moved to a joining worker gets a new
  // Context too, and this test wants new Contexts only at the cuts.
  ASSERT_TRUE(cluster.AddWorker().ok());
  const std::string example = SourcePath("examples/npt-ideal-gas");
  const std::string yaml = cluster.dir() + "/npt.yaml";
  std::ofstream(yaml) << "name: npt\nsystem: " << example
                      << "/system.xml\ncoordinates: " << example
                      << "/state.xml\nplatform: Reference\nseed: 7\n"
                         "checkpoint_interval: 100\n"
                         "integrator: {timestep_ps: 0.002, "
                         "friction_per_ps: 20}\n"
                         "ladder: {temperatures_k: [300, 330, 365, 400]}\n"
                         "exchange: {steps_per_exchange: 20, n_rounds: "
                      << kNptRounds << "}\n";
  const std::string id = cluster.SubmitJob(yaml);
  ASSERT_EQ(WaitForRound(cluster, id, kNptRounds / 3).state(), v1::RUNNING)
      << cluster.Logs();
  cluster.worker(0).Signal(SIGKILL);
  cluster.worker(0).Wait(absl::Seconds(10));
  ASSERT_TRUE(cluster.AddWorker().ok());
  ASSERT_EQ(WaitForRound(cluster, id, 2 * kNptRounds / 3).state(), v1::RUNNING)
      << cluster.Logs();
  cluster.StopCoordinator(SIGKILL);
  ASSERT_TRUE(cluster.StartCoordinator().ok()) << cluster.Logs();
  const v1::Job job = WaitForEnd(cluster, id);
  ASSERT_EQ(job.state(), v1::SUCCEEDED) << job.error() << cluster.Logs();

  const std::vector<LoggedRound> log = JournalLog(cluster, id);
  ExpectCompleteLog(log, kNptRounds, 4);
  const std::vector<int64_t> resumed = ResumedAt(cluster.Logs(), id);
  ASSERT_GE(resumed.size(), 2u) << cluster.Logs();  // the worker, the restart
  ASSERT_GT(resumed.front(), 0);
  ExpectSameRounds(log, EmbeddedLog(yaml), resumed.front());

  const std::vector<std::vector<double>> volumes =
      VolumesByRound(cluster.results_root() + "/" + id);
  ASSERT_EQ(volumes.size(), static_cast<size_t>(kNptRounds));
  int telling = 0;  // replicas whose check tells the two boxes apart
  for (int64_t cut : resumed) {
    ASSERT_GT(cut, 0);
    for (size_t r = 0; r < volumes[cut].size(); ++r) {
      const double at_cut = volumes[cut - 1][r];
      EXPECT_LE(std::abs(volumes[cut][r] - at_cut), kMaxStep)
          << "replica " << r << ", first round after the cut at " << cut;
      telling += std::abs(at_cut - kV0) > 2 * kMaxStep;
    }
  }
  EXPECT_GT(telling, 0) << "no replica had moved far enough from V0";
}

// An adaptive ladder (ladder.adapt) changes every 25 rounds for 200, at
// every checkpoint; a worker killed inside the adaptation phase rolls the
// job back to a checkpoint at a change (states made on one ladder, the next
// round on another), and a coordinator killed after it to one on the frozen
// ladder. Each replica must resume at the temperature of its checkpointed
// state, every worker, a replacement included, must be sent the ladder
// version its orders run at, and the job re-derive the same ladders from
// the journal, or the energies would differ from an uninterrupted run's in
// the last bit. `ladder` replaces the harmonic job's temperature range.
void ExpectAdaptiveLadderResumes(const std::string& name,
                                 const std::string& ladder, int replicas = 4) {
  LocalCluster cluster("kill-" + name);
  absl::Status started = cluster.StartServices();
  for (int i = 0; started.ok() && i < 2; ++i) started = cluster.AddWorker();
  ASSERT_TRUE(started.ok()) << started << cluster.Logs();
  // Both connected before the job starts, so both hold replicas and the kill
  // below always rolls the job back: a worker still starting when the job
  // passed round 90 held none, and its kill cost nothing.
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(WaitForLog(cluster.worker(i), "connected to"))
        << cluster.Logs();
  }
  const std::string path = WriteJob(cluster, name, kRounds, kInterval);
  std::ifstream in(path);
  std::string yaml((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  const std::string range =
      "  n_rungs: 4\n  temperature_range_k: {min: 300, max: 600}\n";
  ASSERT_TRUE(absl::StrContains(yaml, range)) << yaml;
  std::ofstream(path) << absl::StrReplaceAll(
      yaml, {{range, ladder + "  adapt: {rounds: 200, interval: 25}\n"}});
  const std::string id = cluster.SubmitJob(path);

  ASSERT_EQ(WaitForRound(cluster, id, 90).state(), v1::RUNNING)
      << cluster.Logs();
  cluster.worker(0).Signal(SIGKILL);
  cluster.worker(0).Wait(absl::Seconds(10));
  ASSERT_TRUE(cluster.AddWorker().ok());
  ASSERT_EQ(WaitForRound(cluster, id, 260).state(), v1::RUNNING)
      << cluster.Logs();
  cluster.StopCoordinator(SIGKILL);
  ASSERT_TRUE(cluster.StartCoordinator().ok()) << cluster.Logs();

  ExpectSucceededAsUninterrupted(cluster, id, name, kRounds, replicas);
  const std::vector<int64_t> resumed = ResumedAt(cluster.Logs(), id);
  ASSERT_EQ(resumed.size(), 2u) << cluster.Logs();
  EXPECT_LT(resumed[0], 200);  // inside the adaptation phase
  EXPECT_GE(resumed[1], 200);  // after the ladder froze
  // The results list the nine ladders, the last from round 200.
  std::ifstream analysis(cluster.results_root() + "/" + id + "/analysis.json");
  const std::string text((std::istreambuf_iterator<char>(analysis)),
                         std::istreambuf_iterator<char>());
  EXPECT_EQ(Count(text, "\"from_round\""), 9) << text;
  EXPECT_TRUE(absl::StrContains(text, "\"from_round\": 200")) << text;
}

TEST(DurabilityTest, AnAdaptiveLadderResumesWithTheSameLadders) {
  ExpectAdaptiveLadderResumes("adaptive",
                              "  temperatures_k: [300, 310, 320, 600]\n");
}

// The same over the oscillators' force constant K at one temperature: the
// versions move K, which only the workers' copies of the ladder carry into
// the energies they evaluate at other rungs.
TEST(DurabilityTest, AnAdaptiveParameterLadderResumesWithTheSameLadders) {
  ExpectAdaptiveLadderResumes(
      "adaptive-k",
      "  n_rungs: 4\n  temperature_k: 300\n"
      "  parameters: [{name: K, values: [4000, 4400, 4800, 11314]}]\n");
}

// And over a temperature x K grid (4 x 3, 12 replicas), whose versions
// move both axes at once.
TEST(DurabilityTest, AnAdaptiveGridResumesWithTheSameLadders) {
  ExpectAdaptiveLadderResumes(
      "adaptive-grid",
      "  axes:\n"
      "    - temperatures_k: [300, 310, 320, 600]\n"
      "    - parameters: [{name: K, values: [4000, 4400, 11314]}]\n",
      12);
}

}  // namespace
}  // namespace replex::testing
