// `replex`: embedded mode. Runs a whole replica-exchange job in this process
// (replicas multiplexed over a thread pool), printing progress and a summary.
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <limits>
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
#include "lib/engine/engine.h"
#include "lib/exchange/ladder.h"
#include "lib/results/analysis.h"
#include "lib/results/results.h"
#include "lib/runner/runner.h"
#include "lib/service/process.h"
#include "lib/service/server.h"
#include "lib/spec/spec.h"
#include "lib/store/checkpoint_store.h"
#include "lib/store/sqlite_journal.h"
#include "lib/timing/duration.h"

ABSL_FLAG(int, threads, 1,
          "Threads that run replicas; replicas are multiplexed over them. "
          "With the CPU platform each replica's OpenMM Context also gets "
          "cores/threads worker threads unless platform_properties sets "
          "Threads.");
ABSL_FLAG(bool, pin_threads, false,
          "Pin each replica thread, and the OpenMM threads of the Contexts "
          "of the replicas it runs, to its own share of this process's CPUs "
          "(CPUs/threads each); each thread then runs only its own replicas. "
          "For a machine the run has to itself: on the CPU platform a "
          "Context's pool thread then never waits for another core. Leave it "
          "off where other processes share the CPUs.");
ABSL_FLAG(bool, json, false,
          "Print the summary as one JSON object on stdout (progress still "
          "goes to stderr).");
ABSL_FLAG(int, progress_every, 0,
          "Print a progress line every N rounds to stderr; 0 picks about 20 "
          "lines per job; -1 prints none.");
ABSL_FLAG(std::string, platform, "",
          "Override the job's platform (Reference, CPU, OpenCL, CUDA).");
ABSL_FLAG(bool, resume, false,
          "replex run --resume DIR: go on with the run whose results "
          "directory is DIR from its last checkpoint (after a kill, a "
          "walltime limit, a failure); the job comes from DIR.");
ABSL_FLAG(int64_t, extend, 0,
          "replex run --extend=N DIR: run the run whose results directory is "
          "DIR N rounds longer, from its last checkpoint, as if it had been "
          "given all its rounds at the start.");
ABSL_FLAG(absl::Duration, walltime, absl::ZeroDuration(),
          "Stop cleanly at a checkpoint before this much wall time has "
          "passed (e.g. 23h50m, a little under the batch job's limit): the "
          "run checkpoints the round in progress when less than two rounds' "
          "time is left, and exits 75 for `replex run --resume DIR`. 0: no "
          "limit. SIGTERM and SIGINT stop the same way.");
ABSL_FLAG(absl::Duration, checkpoint_every, absl::ZeroDuration(),
          "Also checkpoint the round that ends this long after the last "
          "checkpoint (e.g. 30m), whatever the job's checkpoint_interval, so "
          "a kill loses at most this much work plus a round. 0: rounds "
          "only.");
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
    "  replex run --resume DIR    (go on from DIR's last checkpoint)\n"
    "  replex run --extend=N DIR  (run DIR's job N rounds longer)\n"
    "  [--walltime=DURATION]      (stop at a checkpoint in time; exit 75)\n"
    "  [--checkpoint_every=DURATION] (also checkpoint by wall-clock time)\n"
    "  replex version\n\n"
    "JOB.yaml is described in docs/job-spec.md; examples/ has ready jobs.";

// `done`: the rounds run, or under asynchronous exchange the rounds' worth
// of segments (segments / replicas).
void PrintProgress(const runner::RoundReport& report, int64_t done,
                   int64_t first_round, int64_t n_rounds, int n_replicas,
                   int steps, double timestep_ps) {
  // The speed and ETA count the rounds this process ran (a resumed run
  // started at first_round).
  const int64_t ran = done - first_round;
  const double elapsed = report.elapsed_seconds;
  const double ns =
      static_cast<double>(n_replicas) * ran * steps * timestep_ps / 1000.0;
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
      timing::FormatDuration(elapsed / ran * (n_rounds - done)).c_str());
}

// Where a run with a results directory keeps what resuming needs: the
// journal of its rounds and its checkpoints (docs/results.md).
constexpr char kResumeDir[] = "resume";
constexpr char kRunId[] = "run";

// The run's spec and journal: from JOB.yaml for a new run (journaled in its
// results directory, if it has one), or from the results directory DIR of an
// earlier run for --resume and --extend.
struct Prepared {
  v1::JobSpec spec;
  std::string results_dir;  // empty: no results, no journal
  std::unique_ptr<store::SqliteJournal> journal;
  std::unique_ptr<store::FileCheckpointStore> checkpoints;
  v1::Job job;  // the run as journaled
};

absl::StatusOr<std::unique_ptr<store::SqliteJournal>> OpenJournal(
    const std::string& results_dir) {
  const std::filesystem::path dir =
      std::filesystem::path(results_dir) / kResumeDir;
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot create ", dir.string(), ": ", error.message()));
  }
  return store::SqliteJournal::Open((dir / "journal.sqlite").string());
}

absl::StatusOr<Prepared> PrepareNew(const std::string& job_path) {
  Prepared run;
  absl::StatusOr<v1::JobSpec> spec = spec::LoadYamlFile(job_path);
  if (!spec.ok()) return spec.status();
  run.spec = *std::move(spec);
  // Results go to --results, else output.directory (relative to the current
  // directory, like any command's output file).
  run.results_dir = absl::GetFlag(FLAGS_results);
  if (run.results_dir.empty()) run.results_dir = run.spec.output().directory();
  run.job.set_job_id(kRunId);
  run.job.set_name(run.spec.name());
  run.job.set_state(v1::RUNNING);
  run.job.set_n_rounds(run.spec.exchange().n_rounds());
  if (run.results_dir.empty()) return run;
  // Checked before the directory is made, so a bad job leaves nothing.
  if (absl::Status valid = spec::Validate(run.spec); !valid.ok()) return valid;
  if (absl::StatusOr<uint64_t> need =
          results::CheckFreeSpace(run.results_dir, run.spec);
      !need.ok()) {
    return need.status();
  }
  if (absl::Status s = results::CreateResultsDirectory(run.results_dir);
      !s.ok()) {
    return s;
  }
  absl::StatusOr<std::unique_ptr<store::SqliteJournal>> journal =
      OpenJournal(run.results_dir);
  if (!journal.ok()) return journal.status();
  run.journal = *std::move(journal);
  if (absl::Status added = run.journal->AddJob(run.job, run.spec, 0);
      !added.ok()) {
    return added;
  }
  return run;
}

absl::StatusOr<Prepared> PrepareResume(const std::string& dir, int64_t extend) {
  Prepared run;
  run.results_dir = dir;
  const std::filesystem::path file =
      std::filesystem::path(dir) / kResumeDir / "journal.sqlite";
  std::error_code error;
  if (!std::filesystem::exists(file, error)) {
    return absl::NotFoundError(absl::StrCat(
        file.string(), " does not exist: ", dir,
        " is not the results directory of a `replex run` (only a run with a "
        "results directory, --results or output.directory, can be resumed "
        "or extended)"));
  }
  absl::StatusOr<std::unique_ptr<store::SqliteJournal>> journal =
      OpenJournal(dir);
  if (!journal.ok()) return journal.status();
  run.journal = *std::move(journal);
  absl::StatusOr<v1::JobSpec> spec = run.journal->Spec(kRunId);
  if (!spec.ok()) return spec.status();
  run.spec = *std::move(spec);
  absl::StatusOr<std::vector<store::JournaledJob>> jobs = run.journal->Jobs();
  if (!jobs.ok()) return jobs.status();
  if (jobs->empty()) {
    return absl::DataLossError(absl::StrCat(file.string(), " holds no run"));
  }
  run.job = jobs->front().job;
  if (extend < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--extend=", extend, ": give the number of rounds to add, 1 or more"));
  }
  const int64_t n_rounds = run.job.n_rounds() + extend;
  if (extend == 0 && run.job.state() == v1::SUCCEEDED) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the run in ", dir, " completed its ", run.job.n_rounds(),
        " rounds; run it longer with `replex run --extend=N ", dir, "`"));
  }
  if (n_rounds > std::numeric_limits<int32_t>::max()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--extend: ", n_rounds, " rounds in all is too many"));
  }
  run.spec.mutable_exchange()->set_n_rounds(static_cast<int32_t>(n_rounds));
  run.job.set_n_rounds(n_rounds);
  run.job.set_state(v1::RUNNING);
  // Journaled first, so a run killed during the extension resumes with it.
  if (absl::Status updated = run.journal->UpdateJob(run.job); !updated.ok()) {
    return updated;
  }
  return run;
}

absl::Status Run(const std::string& arg) {
  const bool resume = absl::GetFlag(FLAGS_resume);
  const int64_t extend = absl::GetFlag(FLAGS_extend);
  const bool resuming = resume || extend != 0;
  absl::StatusOr<Prepared> prepared =
      resuming ? PrepareResume(arg, extend) : PrepareNew(arg);
  if (!prepared.ok()) return prepared.status();
  Prepared& run = *prepared;
  v1::JobSpec* spec = &run.spec;
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
  if (absl::GetFlag(FLAGS_checkpoint_every) < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "--checkpoint_every must not be negative (0: checkpoint by rounds "
        "only)");
  }
  const std::string& results_dir = run.results_dir;
  std::unique_ptr<results::ResultsWriter> writer;
  if (!results_dir.empty()) {
    run.checkpoints = std::make_unique<store::FileCheckpointStore>(
        (std::filesystem::path(results_dir) / kResumeDir).string());
    options.durability = {run.journal.get(), run.checkpoints.get(), kRunId,
                          resuming, absl::GetFlag(FLAGS_checkpoint_every)};
    options.positions_every = spec->output().frame_interval();
    std::fprintf(stderr, "replex: writing results to %s\n",
                 results_dir.c_str());
  }
  // The results open once the run knows its first round (a resumed run's
  // cut): rows and frames from there on are superseded.
  int64_t first_round = 0;
  options.on_start = [&](int64_t next_round) -> absl::Status {
    first_round = next_round;
    if (next_round > 0 &&
        spec->exchange().mode() == v1::Exchange::ASYNCHRONOUS) {
      std::fprintf(stderr, "replex: resuming at exchange event %lld\n",
                   static_cast<long long>(next_round));
    } else if (next_round > 0) {
      std::fprintf(stderr, "replex: resuming at round %lld of %lld\n",
                   static_cast<long long>(next_round),
                   static_cast<long long>(n_rounds));
    }
    if (results_dir.empty()) return absl::OkStatus();
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    absl::StatusOr<std::unique_ptr<results::ResultsWriter>> opened =
        results::ResultsWriter::Open(
            results_dir, *spec,
            {spec->name(),
             {host},
             {absl::StrCat(spec->platform(), " platform, ", options.threads,
                           " replica thread(s)")}},
            next_round);
    if (!opened.ok()) return opened.status();
    writer = *std::move(opened);
    return absl::OkStatus();
  };
  // The final round's statistics and ladders, for the analysis printed at
  // the end.
  std::optional<exchange::Statistics> statistics;
  std::vector<runner::LadderVersion> ladder_versions;
  bool first_event = true;
  options.on_round = [&](const runner::RoundReport& report) {
    int64_t done = report.outcome.round + 1;
    bool progress = every > 0 && (done % every == 0 || done == n_rounds);
    if (report.segments_by_replica != nullptr) {
      // An exchange event: progress in rounds' worth of segments, which
      // reach n_rounds at the last event only.
      const int64_t segments = runner::SegmentsFinished(report);
      const int64_t before =
          (segments - static_cast<int64_t>(report.replicas->size())) /
          ladder->size();
      done = segments / ladder->size();
      // The speed counts this process's segments (a resumed run's start).
      if (first_event) first_round = before;
      first_event = false;
      progress = every > 0 && (done / every != before / every ||
                               (done == n_rounds && before != done));
    }
    if (progress) {
      PrintProgress(report, done, first_round, n_rounds, ladder->size(),
                    spec->exchange().steps_per_exchange(),
                    spec->integrator().timestep_ps());
    }
    if (done == n_rounds) {
      statistics = report.statistics;
      if (report.ladder_versions != nullptr) {
        ladder_versions = *report.ladder_versions;
      }
    }
    return writer != nullptr ? writer->WriteRound(report) : absl::OkStatus();
  };
  // SIGTERM, SIGINT (RunProcess's handlers) or the walltime: the round in
  // progress ends at a checkpoint, if there is a results directory.
  const absl::Time started = absl::Now();
  const absl::Duration walltime = absl::GetFlag(FLAGS_walltime);
  const char* stop_reason = nullptr;
  options.should_stop = [&](double mean_round_seconds) {
    if (service::TerminationRequested()) {
      stop_reason = "a signal";
    } else if (walltime > absl::ZeroDuration() &&
               started + walltime - absl::Now() <
                   absl::Seconds(2 * mean_round_seconds) + absl::Seconds(1)) {
      stop_reason = "--walltime";
    }
    return stop_reason != nullptr;
  };
  std::fprintf(stderr, "replex: running %s: %d replicas x %lld rounds on %s\n",
               arg.c_str(), ladder->size(), static_cast<long long>(n_rounds),
               spec->platform().c_str());
  std::fprintf(stderr, "replex: %s\n", engine::PluginSummary().c_str());
  absl::StatusOr<runner::RunResult> result = runner::RunJob(*spec, options);
  const bool stopped = service::IsResumable(result.status());
  const char* state =
      result.ok() ? "SUCCEEDED" : (stopped ? "STOPPED" : "FAILED");
  if (writer != nullptr) {
    // MBAR over a large ladder takes a while (256 rungs, 200 rounds: ~10 s).
    if (result.ok()) {
      std::fprintf(stderr,
                   "replex: finishing %s: MBAR free energies and report.html\n",
                   results_dir.c_str());
    }
    absl::Status finished = writer->Finish(state);
    if (result.ok() && !finished.ok()) return finished;
  }
  if (stopped) {
    return service::ResumableError(
        absl::StrCat(result.status().message(), " (", stop_reason,
                     "); go on with: replex run --resume ", results_dir));
  }
  if (run.journal != nullptr) {
    run.job.set_state(result.ok() ? v1::SUCCEEDED : v1::FAILED);
    absl::Status journaled = run.journal->UpdateJob(run.job);
    if (result.ok() && !journaled.ok()) return journaled;
  }
  if (!result.ok()) {
    if (run.journal == nullptr) return result.status();
    return absl::Status(
        result.status().code(),
        absl::StrCat(result.status().message(), "; to go on from the last ",
                     "checkpoint: replex run --resume ", results_dir));
  }
  if (!statistics.has_value()) {
    return absl::InternalError("the run ended without its last round");
  }
  v1::Analysis analysis = results::MakeAnalysis(
      *spec, *ladder, ladder_versions, *result, *statistics, "", "SUCCEEDED");
  if (writer != nullptr && writer->analysis().has_value()) {
    *analysis.mutable_free_energies() = writer->analysis()->free_energies();
  }
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
