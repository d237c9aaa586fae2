// `replex`: embedded mode. Runs a whole replica-exchange job in this process
// (replicas multiplexed over a thread pool), printing progress and a summary.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <memory>
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
#include "lib/results/json.h"
#include "lib/results/results.h"
#include "lib/runner/runner.h"
#include "lib/spec/spec.h"

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

// Exit codes: 0 done, 1 the run failed, 2 the job or command line is wrong
// (including a results directory that exists).
int ExitCodeFor(const absl::Status& status) {
  return status.code() == absl::StatusCode::kInvalidArgument ||
                 status.code() == absl::StatusCode::kNotFound ||
                 status.code() == absl::StatusCode::kAlreadyExists
             ? 2
             : 1;
}

std::string RungLabel(const exchange::Ladder& ladder, int k) {
  std::string label = absl::StrFormat("%.1f K", ladder.rung(k).temperature_k);
  if (!ladder.temperature_only()) {
    for (size_t p = 0; p < ladder.parameter_names().size(); ++p) {
      absl::StrAppendFormat(&label, " %s=%g", ladder.parameter_names()[p],
                            ladder.rung(k).parameters[p]);
    }
  }
  return label;
}

std::string FormatDuration(double seconds) {
  if (seconds < 10) return absl::StrFormat("%.1fs", seconds);
  const int s = static_cast<int>(std::lround(seconds));
  if (s >= 3600) return absl::StrFormat("%dh%02dm", s / 3600, s / 60 % 60);
  if (s >= 60) return absl::StrFormat("%dm%02ds", s / 60, s % 60);
  return absl::StrFormat("%ds", s);
}

using results::json::Number;
using results::json::String;

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
  std::fprintf(stderr,
               "[round %*lld/%lld %3.0f%%] acceptance %s | round trips %lld | "
               "%.1f ns/day | ETA %s\n",
               static_cast<int>(absl::StrCat(n_rounds).size()),
               static_cast<long long>(done), static_cast<long long>(n_rounds),
               100.0 * done / n_rounds, absl::StrJoin(acceptance, " ").c_str(),
               static_cast<long long>(report.statistics.RoundTrips()),
               elapsed > 0 ? ns / (elapsed / 86400) : 0.0,
               FormatDuration(elapsed / done * (n_rounds - done)).c_str());
}

void PrintSummary(const v1::JobSpec& spec, const exchange::Ladder& ladder,
                  const runner::RunResult& result) {
  std::printf(
      "job %s: %lld rounds of %d steps, %d replicas, scheme %s, "
      "platform %s, seed %llu\n",
      spec.name().empty() ? "(unnamed)" : spec.name().c_str(),
      static_cast<long long>(result.rounds),
      spec.exchange().steps_per_exchange(), ladder.size(),
      exchange::SchemeName(spec::SchemeOf(spec.exchange())),
      spec.platform().c_str(), static_cast<unsigned long long>(spec.seed()));
  if (ladder.size() > 1) {
    std::printf("  %-6s %-44s %9s %9s %10s\n", "pair", "rungs", "attempts",
                "accepts", "acceptance");
    for (int k = 0; k + 1 < ladder.size(); ++k) {
      std::printf(
          "  %-6s %-44s %9lld %9lld %10s\n",
          absl::StrCat(k, "-", k + 1).c_str(),
          absl::StrCat(RungLabel(ladder, k), " <-> ", RungLabel(ladder, k + 1))
              .c_str(),
          static_cast<long long>(result.pair_attempts[k]),
          static_cast<long long>(result.pair_accepts[k]),
          std::isfinite(result.pair_acceptance[k])
              ? absl::StrFormat("%.3f", result.pair_acceptance[k]).c_str()
              : "-");
    }
  }
  std::printf("round trips: %lld", static_cast<long long>(result.round_trips));
  if (std::isfinite(result.mean_round_trip_rounds)) {
    std::printf(" (mean %.1f rounds each)", result.mean_round_trip_rounds);
  }
  std::printf("\nsecond eigenvalue of the rung transition matrix: %s\n",
              std::isfinite(result.second_eigenvalue)
                  ? absl::StrFormat("%.4f", result.second_eigenvalue).c_str()
                  : "-");
  std::printf("simulated %.4g ns in %s wall: %.1f ns/day aggregate\n",
              result.simulated_ns, FormatDuration(result.wall_seconds).c_str(),
              result.ns_per_day);
  std::printf(
      "final rung of each replica: %s\n",
      absl::StrJoin(result.final_permutation.rung_of_replica(), " ").c_str());
}

void PrintJson(const v1::JobSpec& spec, const exchange::Ladder& ladder,
               const runner::RunResult& result) {
  std::vector<std::string> pairs;
  for (int k = 0; k + 1 < ladder.size(); ++k) {
    pairs.push_back(absl::StrFormat(
        "{\"rungs\":[%d,%d],\"attempts\":%d,\"accepts\":%d,\"acceptance\":%s}",
        k, k + 1, result.pair_attempts[k], result.pair_accepts[k],
        Number(result.pair_acceptance[k])));
  }
  std::vector<std::string> temperatures, fraction_up;
  for (int k = 0; k < ladder.size(); ++k) {
    temperatures.push_back(Number(ladder.rung(k).temperature_k));
    fraction_up.push_back(Number(result.fraction_up[k]));
  }
  absl::PrintF(
      "{\"name\":%s,\"rounds\":%d,\"replicas\":%d,\"scheme\":%s,"
      "\"platform\":%s,\"seed\":%d,\"temperatures_k\":[%s],\"pairs\":[%s],"
      "\"round_trips\":%d,\"mean_round_trip_rounds\":%s,"
      "\"second_eigenvalue\":%s,\"fraction_up\":[%s],\"wall_seconds\":%s,"
      "\"simulated_ns\":%s,\"ns_per_day\":%s,\"final_rung_of_replica\":[%s]}\n",
      String(spec.name()), result.rounds, ladder.size(),
      String(exchange::SchemeName(spec::SchemeOf(spec.exchange()))),
      String(spec.platform()), spec.seed(), absl::StrJoin(temperatures, ","),
      absl::StrJoin(pairs, ","), result.round_trips,
      Number(result.mean_round_trip_rounds), Number(result.second_eigenvalue),
      absl::StrJoin(fraction_up, ","), Number(result.wall_seconds),
      Number(result.simulated_ns), Number(result.ns_per_day),
      absl::StrJoin(result.final_permutation.rung_of_replica(), ","));
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
  if (writer != nullptr || every > 0) {
    options.on_round = [&](const runner::RoundReport& report) {
      const int64_t done = report.outcome.round + 1;
      if (every > 0 && (done % every == 0 || done == n_rounds)) {
        PrintProgress(report, n_rounds, ladder->size(),
                      spec->exchange().steps_per_exchange(),
                      spec->integrator().timestep_ps());
      }
      return writer != nullptr ? writer->WriteRound(report) : absl::OkStatus();
    };
  }
  std::fprintf(stderr, "replex: running %s: %d replicas x %lld rounds on %s\n",
               job_path.c_str(), ladder->size(),
               static_cast<long long>(n_rounds), spec->platform().c_str());
  absl::StatusOr<runner::RunResult> result = runner::RunJob(*spec, options);
  if (writer != nullptr) {
    absl::Status finished =
        writer->Finish(result.ok() ? "SUCCEEDED" : "FAILED");
    if (result.ok() && !finished.ok()) return finished;
  }
  if (!result.ok()) return result.status();
  if (absl::GetFlag(FLAGS_json)) {
    PrintJson(*spec, *ladder, *result);
  } else {
    PrintSummary(*spec, *ladder, *result);
  }
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
  absl::SetProgramUsageMessage(replex::kUsage);
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  if (args.size() == 2 && std::string(args[1]) == "version") {
    std::printf("replex %s\n", REPLEX_VERSION);
    return 0;
  }
  if (args.size() != 3 || std::string(args[1]) != "run") {
    std::fprintf(stderr, "%s\n", replex::kUsage);
    return 2;
  }
  const absl::Status status = replex::Run(args[2]);
  if (!status.ok()) {
    std::fprintf(stderr, "replex: error: %s\n",
                 std::string(status.message()).c_str());
    return replex::ExitCodeFor(status);
  }
  return 0;
}
