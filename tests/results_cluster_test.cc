// Results of a job run by a real cluster: readable while it runs, complete
// (each round once, every frame) when it ends, fetched and reported through
// the gateway with replexctl, and never overwritten by another submission.
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include "lib/results/results.h"
#include "tests/cluster.h"
#include "tests/process.h"

namespace replex::testing {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> Rows(const fs::path& path) {
  std::vector<std::string> lines =
      absl::StrSplit(ReadFile(path), '\n', absl::SkipEmpty());
  if (!lines.empty()) lines.erase(lines.begin());  // the header
  return lines;
}

// Frames in a trajectory, as mdtraj reads it; -1 when it cannot.
int Frames(const fs::path& nc) {
  const auto [code, output] = RunCommand(
      absl::StrCat("/usr/bin/python3 -c \"import mdtraj.formats as f; "
                   "print(len(f.NetCDFTrajectoryFile('",
                   nc.string(), "').read()[1]))\" 2>&1"));
  int frames = -1;
  if (code != 0 ||
      !absl::SimpleAtoi(absl::StripAsciiWhitespace(output), &frames)) {
    ADD_FAILURE() << output;
  }
  return frames;
}

constexpr int kRungs = 4, kRounds = 60, kFrameInterval = 5;

// The expected end state of a job's results: each round once, in order,
// every frame of every rung.
void ExpectComplete(const fs::path& dir, int rounds, int frame_interval) {
  for (const char* file : {results::kEnergiesFile, results::kExchangeFile}) {
    const std::vector<std::string> rows = Rows(dir / file);
    ASSERT_EQ(rows.size(), static_cast<size_t>(rounds)) << file;
    for (int r = 0; r < rounds; ++r) {
      EXPECT_TRUE(absl::StartsWith(rows[r], absl::StrCat(r, "\t"))) << file;
    }
  }
  EXPECT_EQ(Rows(dir / results::kUklnFile).size(),
            static_cast<size_t>(rounds * kRungs));
  for (int k = 0; k < kRungs; ++k) {
    EXPECT_EQ(Frames(dir / results::TrajectoryPath(k)),
              rounds / frame_interval);
  }
}

TEST(ResultsClusterTest, ReadableWhileRunningCompleteAtTheEndAndFetched) {
  if (RunCommand("/usr/bin/python3 -c 'import mdtraj' 2>/dev/null").first) {
    GTEST_SKIP() << "python3-mdtraj is not installed";
  }
  LocalCluster cluster("results");
  ASSERT_TRUE(cluster.StartServices().ok()) << cluster.Logs();
  ASSERT_TRUE(cluster.AddWorker().ok()) << cluster.Logs();
  // 25000 steps a round: ten seconds or so in all, so the test looks
  // mid-run even when a loaded machine slows the mdtraj reads below.
  const std::string yaml =
      WriteHarmonicJob(cluster.dir(), "results", kRungs, 25000, kRounds);
  std::ofstream(yaml, std::ios::app)
      << "output: {frame_interval: " << kFrameInterval << "}\n";
  const std::string id = cluster.SubmitJob(yaml);
  const fs::path dir = fs::path(cluster.results_root()) / id;

  // Mid-run: whole rows and whole frames, in order.
  cluster.WaitForJob(
      id,
      [&](const v1::Job&) {
        return Rows(dir / results::kExchangeFile).size() >= 12;
      },
      "12 rounds into its results", absl::Seconds(60));
  const v1::Job running = *cluster.GetJob(id);
  EXPECT_EQ(running.state(), v1::RUNNING) << "the job ended too soon to look "
                                             "at its files mid-run";
  const std::vector<std::string> partial = Rows(dir / results::kEnergiesFile);
  for (size_t r = 0; r < partial.size(); ++r) {
    EXPECT_TRUE(absl::StartsWith(partial[r], absl::StrCat(r, "\t"))) << r;
  }
  const int frames_mid_run = Frames(dir / results::TrajectoryPath(0));
  EXPECT_GE(frames_mid_run, 2);
  EXPECT_LT(frames_mid_run, kRounds / kFrameInterval);

  const auto [watch_code, watch] = cluster.Ctl("watch " + id);
  ASSERT_EQ(watch_code, 0) << watch << cluster.Logs();
  // At the end: every round exactly once, every frame of every rung.
  ExpectComplete(dir, kRounds, kFrameInterval);
  EXPECT_TRUE(absl::StrContains(ReadFile(dir / results::kManifestFile),
                                "\"state\": \"SUCCEEDED\""));

  // replexctl fetch: the same files, and never over existing ones.
  const fs::path fetched = fs::path(cluster.dir()) / "fetched";
  const auto [fetch_code, fetch] =
      cluster.Ctl(absl::StrCat("fetch ", id, " ", fetched.string()));
  ASSERT_EQ(fetch_code, 0) << fetch;
  for (const char* file : {results::kAnalysisFile, results::kExchangeFile,
                           results::kManifestFile, results::kReportFile}) {
    EXPECT_EQ(ReadFile(fetched / file), ReadFile(dir / file)) << file;
  }
  EXPECT_EQ(ReadFile(fetched / results::TrajectoryPath(3)),
            ReadFile(dir / results::TrajectoryPath(3)));
  // Every replica's final state, from the job's last checkpoint.
  for (int replica = 0; replica < kRungs; ++replica) {
    const std::string state =
        ReadFile(fetched / results::FinalStatePath(replica));
    EXPECT_TRUE(absl::StrContains(state, "<Velocities>")) << replica;
    EXPECT_EQ(state, ReadFile(dir / results::FinalStatePath(replica)));
  }
  const auto [again_code, again] =
      cluster.Ctl(absl::StrCat("fetch ", id, " ", fetched.string()));
  EXPECT_NE(again_code, 0);
  EXPECT_TRUE(absl::StrContains(again, "never overwrites")) << again;
  // --path: that one file only.
  const fs::path one = fs::path(cluster.dir()) / "one";
  const auto [one_code, one_output] = cluster.Ctl(absl::StrCat(
      "fetch ", id, " ", one.string(), " --path=", results::kAnalysisFile));
  ASSERT_EQ(one_code, 0) << one_output;
  EXPECT_EQ(ReadFile(one / results::kAnalysisFile),
            ReadFile(dir / results::kAnalysisFile));
  EXPECT_EQ(std::distance(fs::recursive_directory_iterator(one),
                          fs::recursive_directory_iterator()),
            1);

  // replexctl report: the analysis, and the HTML page.
  const fs::path html = fs::path(cluster.dir()) / "report.html";
  const auto [report_code, report] =
      cluster.Ctl(absl::StrCat("report ", id, " --html=", html.string()));
  ASSERT_EQ(report_code, 0) << report;
  EXPECT_TRUE(absl::StrContains(report, "round trips:")) << report;
  EXPECT_TRUE(absl::StrContains(report, "0-1")) << report;
  EXPECT_TRUE(absl::StrContains(ReadFile(html), "<svg"));

  // Paths outside the results directory are refused.
  auto stub = cluster.GatewayStub();
  for (const char* path : {"../journal.sqlite", "/etc/passwd"}) {
    grpc::ClientContext context;
    v1::DownloadResultsRequest request;
    request.set_job_id(id);
    request.set_path(path);
    auto reader = stub->DownloadResults(&context, request);
    v1::ResultsChunk chunk;
    EXPECT_FALSE(reader->Read(&chunk)) << path;
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << path;
  }
}

// A coordinator killed mid-job resumes from its last checkpoint with the
// results directory partly written past it: the rows and frames of the
// rounds run again are superseded, not duplicated.
TEST(ResultsClusterTest, ACoordinatorRestartLeavesNoDuplicateRowsOrFrames) {
  if (RunCommand("/usr/bin/python3 -c 'import mdtraj' 2>/dev/null").first) {
    GTEST_SKIP() << "python3-mdtraj is not installed";
  }
  LocalCluster cluster("results-restart");
  ASSERT_TRUE(cluster.StartServices().ok()) << cluster.Logs();
  ASSERT_TRUE(cluster.AddWorker().ok()) << cluster.Logs();
  const std::string yaml =
      WriteHarmonicJob(cluster.dir(), "restart", kRungs, 10000, kRounds);
  std::ofstream(yaml, std::ios::app)
      << "checkpoint_interval: 20\noutput: {frame_interval: 3}\n";
  const std::string id = cluster.SubmitJob(yaml);
  const fs::path dir = fs::path(cluster.results_root()) / id;
  // Past the checkpoint at round 20, before the next one.
  cluster.WaitForJob(
      id,
      [&](const v1::Job&) {
        return Rows(dir / results::kExchangeFile).size() >= 27;
      },
      "27 rounds into its results", absl::Seconds(60));
  cluster.StopCoordinator(SIGKILL);
  ASSERT_GT(Rows(dir / results::kExchangeFile).size(), 20u);
  ASSERT_TRUE(cluster.StartCoordinator().ok()) << cluster.Logs();
  const v1::Job job = cluster.WaitForJob(
      id, [](const v1::Job& j) { return j.state() == v1::SUCCEEDED; },
      "SUCCEEDED", absl::Seconds(120));
  ASSERT_EQ(job.state(), v1::SUCCEEDED);
  ExpectComplete(dir, kRounds, 3);
  EXPECT_TRUE(absl::StrContains(cluster.coordinator_process().Log(),
                                "continue from round 20"))
      << cluster.Logs();
}

TEST(ResultsClusterTest, ASubmissionIntoAnExistingDirectoryIsRefused) {
  LocalCluster cluster("results-exists");
  ASSERT_TRUE(cluster.StartServices().ok()) << cluster.Logs();
  const std::string yaml =
      WriteHarmonicJob(cluster.dir(), "named", kRungs, 10, 5);
  std::ofstream(yaml, std::ios::app) << "output: {directory: campaign/run1}\n";
  const std::string first = cluster.SubmitJob(yaml);
  const fs::path dir = fs::path(cluster.results_root()) / "campaign/run1";
  ASSERT_TRUE(fs::is_directory(dir));
  std::ofstream(dir / "notes.txt") << "mine";

  const auto [code, output] = cluster.Ctl("submit " + yaml);
  EXPECT_NE(code, 0) << output;
  EXPECT_TRUE(absl::StrContains(
      output,
      absl::StrCat("results directory ", dir.string(), " already exists")))
      << output;
  EXPECT_TRUE(absl::StrContains(output, "move or delete it")) << output;
  EXPECT_EQ(ReadFile(dir / "notes.txt"), "mine");
  // Only the first job exists.
  const auto [list_code, list] = cluster.Ctl("list");
  EXPECT_TRUE(absl::StrContains(list, first)) << list;
  EXPECT_EQ(list.find("named", list.find("named") + 1), std::string::npos)
      << list;
}

// `replexctl extend`: a job run for 14 rounds and extended by 10 ends with
// the results of one submitted with 24 (Reference: bit for bit), continuing
// from its checkpoint after round 14 rather than from the start.
TEST(ResultsClusterTest, AnExtendedJobEndsWithTheResultsOfALongerOne) {
  if (RunCommand("/usr/bin/python3 -c 'import mdtraj' 2>/dev/null").first) {
    GTEST_SKIP() << "python3-mdtraj is not installed";
  }
  LocalCluster cluster("results-extend");
  ASSERT_TRUE(cluster.StartServices().ok()) << cluster.Logs();
  ASSERT_TRUE(cluster.AddWorker().ok()) << cluster.Logs();
  auto submit = [&](const std::string& name, int rounds) {
    const std::string yaml =
        WriteHarmonicJob(cluster.dir(), name, kRungs, 2000, rounds);
    std::ofstream(yaml, std::ios::app)
        << "checkpoint_interval: 10\noutput: {frame_interval: 4}\n";
    return cluster.SubmitJob(yaml);
  };
  const std::string whole = submit("whole", 24);
  const std::string part = submit("part", 14);
  for (const std::string& id : {whole, part}) {
    EXPECT_EQ(cluster.Ctl("watch " + id).first, 0) << cluster.Logs();
  }
  const auto [code, output] = cluster.Ctl("extend " + part + " --rounds=10");
  ASSERT_EQ(code, 0) << output << cluster.Logs();
  EXPECT_TRUE(absl::StrContains(output, "24 rounds in all")) << output;
  const auto [watched, watch_output] = cluster.Ctl("watch " + part);
  EXPECT_EQ(watched, 0) << watch_output << cluster.Logs();
  EXPECT_TRUE(absl::StrContains(cluster.coordinator_process().Log(),
                                absl::StrCat("job ", part, ": results in ")) &&
              absl::StrContains(cluster.coordinator_process().Log(),
                                "continue from round 14"))
      << cluster.Logs();

  const fs::path a = fs::path(cluster.results_root()) / whole;
  const fs::path b = fs::path(cluster.results_root()) / part;
  ExpectComplete(b, 24, 4);
  for (const char* file :
       {results::kEnergiesFile, results::kExchangeFile, results::kUklnFile}) {
    EXPECT_EQ(ReadFile(b / file), ReadFile(a / file)) << file;
  }
  for (int replica = 0; replica < kRungs; ++replica) {
    const std::string state = results::FinalStatePath(replica);
    EXPECT_EQ(ReadFile(b / state), ReadFile(a / state)) << state;
    EXPECT_FALSE(ReadFile(b / state).empty()) << state;
  }
  // Still ended and complete: extending it again needs more rounds.
  const auto [again, again_output] =
      cluster.Ctl("extend " + part + " --rounds=0");
  EXPECT_EQ(again, 2) << again_output;
  EXPECT_TRUE(absl::StrContains(again_output, "completed 24 of 24"))
      << again_output;
}

}  // namespace
}  // namespace replex::testing
