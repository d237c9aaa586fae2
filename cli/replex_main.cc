// `replex`: embedded mode. Runs a whole replica-exchange job in this process
// (replicas multiplexed over a thread pool), printing progress and a summary.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "lib/exchange/ladder.h"
#include "lib/results/analysis.h"
#include "lib/results/results.h"
#include "lib/runner/runner.h"
#include "lib/engine/engine.h"
#include "lib/service/process.h"
#include "lib/spec/spec.h"
#include "lib/timing/duration.h"

ABSL_FLAG(int, threads, 1,
          "Threads that run replicas; replicas are multiplexed over them. "
          "With the CPU platform each replica's OpenMM Context also gets "
          "cores/threads worker threads unless platform_properties sets "
          "Threads.");
ABSL_FLAG(bool, pin_threads, false,
          "Pin each replica thread, and the OpenMM threads of the Contexts "
          "of the replicas it runs, to its own share of this process's CPUs "
          "(CPUs/threads each). For a machine the run has to itself: on the "
          "CPU platform a Context's pool thread then never waits for another "
          "core. Leave it off where other processes share the CPUs.");
ABSL_FLAG(bool, json, false,
          "Print the summary as one JSON object on stdout (progress still "
          "goes to stderr).");
ABSL_FLAG(int, progress_every, 0,
          "Print a progress line every N rounds to stderr; 0 picks about 20 "
          "lines per job; -1 prints none.");
ABSL_FLAG(std::string, platform, "",
          "Override the job's platform (Reference, CPU, OpenCL, CUDA).");
ABSL_FLAG(std::string, results, "",
          "Write the job's results (docs/results.md) to this new directory; "
          "overrides output.directory. Without either, no results are "
          "written.");

namespace replex {
namespace {

constexpr char kUsage[] =
    "Runs a replica-exchange job in one process.\n\n"
    "Usage:\n"
    "  replex run JOB.yaml [--threads=N] [--pin_threads] [--json]\n"
    "                      [--progress_every=N] [--results=DIR]\n"
    "  replex version\n\n"
    "JOB.yaml is described in docs/job-spec.md; examples/ has ready jobs.";

void PrintProgress(const runner::RoundReport& report, int64_t n_rounds,
                   int n_replicas, int steps, double timestep_ps) {
  const int64_t done = report.outcome.round + 1;
  const double elapsed = report.elapsed_seconds;
  const double ns =
      static_cast<double>(n_replicas) * done * steps * timestep_ps / 1000.0;
  std::vector<std::string> acceptance;
  for (double a : report.statistics.PairAcceptance()) {
    acceptance.push_back(std::isfinite(a) ? absl::StrFormat("%.2f", a) : "-");
  }
  std::fprintf(
      stderr,
      "[round %*lld/%lld %3.0f%%] acceptance %s | round trips %lld | "
      "%.1f ns/day | ETA %s\n",
      static_cast<int>(absl::StrCat(n_rounds).size()),
      static_cast<long long>(done), static_cast<long long>(n_rounds),
      100.0 * done / n_rounds, absl::StrJoin(acceptance, " ").c_str(),
      static_cast<long long>(report.statistics.RoundTrips()),
      elapsed > 0 ? ns / (elapsed / 86400) : 0.0,
      timing::FormatDuration(elapsed / done * (n_rounds - done)).c_str());
}

absl::Status Run(const std::string& job_path) {
  absl::StatusOr<v1::JobSpec> spec = spec::LoadYamlFile(job_path);
  if (!spec.ok()) return spec.status();
  if (!absl::GetFlag(FLAGS_platform).empty()) {
    spec->set_platform(absl::GetFlag(FLAGS_platform));
  }
  absl::StatusOr<exchange::Ladder> ladder = spec::BuildLadder(spec->ladder());
  if (!ladder.ok()) return ladder.status();

  const int64_t n_rounds = spec->exchange().n_rounds();
  int every = absl::GetFlag(FLAGS_progress_every);
  if (every == 0) every = static_cast<int>(std::max<int64_t>(1, n_rounds / 20));
  runner::RunOptions options;
  options.threads = absl::GetFlag(FLAGS_threads);
  if (options.threads < 1) {
    return absl::InvalidArgumentError(
        "--threads must be at least 1 (it is the number of replica threads)");
  }
  options.pin_threads = absl::GetFlag(FLAGS_pin_threads);
  // Results go to --results, else output.directory (relative to the current
  // directory, like any command's output file).
  std::string results_dir = absl::GetFlag(FLAGS_results);
  if (results_dir.empty()) results_dir = spec->output().directory();
  std::unique_ptr<results::ResultsWriter> writer;
  if (!results_dir.empty()) {
    if (absl::Status s = results::CreateResultsDirectory(results_dir);
        !s.ok()) {
      return s;
    }
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    absl::StatusOr<std::unique_ptr<results::ResultsWriter>> opened =
        results::ResultsWriter::Open(
            results_dir, *spec,
            {spec->name(),
             {host},
             {absl::StrCat(spec->platform(), " platform, ", options.threads,
                           " replica thread(s)")}},
            0);
    if (!opened.ok()) return opened.status();
    writer = *std::move(opened);
    options.positions_every = spec->output().frame_interval();
    std::fprintf(stderr, "replex: writing results to %s\n",
                 results_dir.c_str());
  }
  // The final round's statistics, for the analysis printed at the end.
  std::optional<exchange::Statistics> statistics;
  options.on_round = [&](const runner::RoundReport& report) {
    const int64_t done = report.outcome.round + 1;
    if (every > 0 && (done % every == 0 || done == n_rounds)) {
      PrintProgress(report, n_rounds, ladder->size(),
                    spec->exchange().steps_per_exchange(),
                    spec->integrator().timestep_ps());
    }
    if (done == n_rounds) statistics = report.statistics;
    return writer != nullptr ? writer->WriteRound(report) : absl::OkStatus();
  };
  std::fprintf(stderr, "replex: running %s: %d replicas x %lld rounds on %s\n",
               job_path.c_str(), ladder->size(),
               static_cast<long long>(n_rounds), spec->platform().c_str());
  std::fprintf(stderr, "replex: %s\n", engine::PluginSummary().c_str());
  absl::StatusOr<runner::RunResult> result = runner::RunJob(*spec, options);
  if (writer != nullptr) {
    absl::Status finished =
        writer->Finish(result.ok() ? "SUCCEEDED" : "FAILED");
    if (result.ok() && !finished.ok()) return finished;
  }
  if (!result.ok()) return result.status();
  if (!statistics.has_value()) {
    return absl::InternalError("the run ended without its last round");
  }
  const v1::Analysis analysis = results::MakeAnalysis(
      *spec, *ladder, *result, *statistics, "", "SUCCEEDED");
  const std::string summary =
      absl::GetFlag(FLAGS_json)
          ? absl::StrCat(results::AnalysisJson(analysis, /*indented=*/false),
                         "\n")
          : results::AnalysisText(analysis);
  std::fputs(summary.c_str(), stdout);
  if (writer != nullptr) {
    std::fprintf(stderr,
                 "replex: results in %s (report.html; see "
                 "docs/results.md)\n",
                 results_dir.c_str());
  }
  return absl::OkStatus();
}

}  // namespace
}  // namespace replex

int main(int argc, char** argv) {
  return replex::service::RunProcess(
      argc, argv, {"replex", replex::kUsage, /*takes_arguments=*/true},
      [](const std::vector<std::string>& args) -> absl::Status {
        if (args.size() == 1 && args[0] == "version") {
          std::printf("replex %s\n", REPLEX_VERSION);
          return absl::OkStatus();
        }
        if (args.size() != 2 || args[0] != "run") {
          return absl::InvalidArgumentError(
              absl::StrCat("give a command:\n", replex::kUsage));
        }
        return replex::Run(args[1]);
      });
}
