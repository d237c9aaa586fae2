// Efficiency: the same replicas x rounds x steps run
//   (a) as plain OpenMM: one Context per replica in this process, the
//       replicas spread over `--slots` threads (pinned unless
//       --pin_plain=false), each Context made and stepped on one of them, no
//       exchange at all,
//   (b) in embedded mode: the job through runner::RunJob in this process
//       with `--slots` threads (what `replex run --threads` does), and
//   (c) through the replex cluster on loopback: coordinator, gateway and one
//       replica-worker with `--slots` slots as processes, the job submitted
//       through the gateway,
// on `--platform` (CPU by default, one thread per Context; the worker runs
// on it too; `--cluster=false` leaves (c) out). Every time runs from the
// start (Contexts created, RunJob called, or the job submitted) to the end
// (last step, RunJob returned, or SUCCEEDED). Efficiency = time(a) / time(b)
// and time(a) / time(c), medians over `--repeats` runs that alternate a, b
// and c so drifting machine load hits all alike.
//
//   replex-bench-efficiency --bin_dir=build
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "OpenMM.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/bench_cluster.h"
#include "bench/bench_job.h"
#include "bench/bench_util.h"
#include "grpcpp/grpcpp.h"
#include "lib/engine/engine.h"
#include "lib/exchange/ladder.h"
#include "lib/results/results.h"
#include "lib/runner/runner.h"
#include "lib/spec/spec.h"
#include "lib/threads/slot_pool.h"
#include "replex/v1/job_service.grpc.pb.h"
#include "tests/process.h"

ABSL_FLAG(std::string, bin_dir, "build", "The build directory.");
ABSL_FLAG(std::string, job, "examples/alanine-dipeptide/job.yaml",
          "The job whose system, coordinates and integrator are run.");
ABSL_FLAG(std::string, replicas, "4,8", "Comma-separated replica counts.");
ABSL_FLAG(std::string, steps, "500,100", "Comma-separated steps per exchange.");
ABSL_FLAG(int, total_steps, 20000,
          "Steps per replica in each run (rounds = total_steps / steps).");
ABSL_FLAG(int, slots, 2, "Replicas run at once (threads / worker slots).");
ABSL_FLAG(std::string, platform, "CPU",
          "The OpenMM platform of every run (CPU Contexts get Threads=1).");
ABSL_FLAG(bool, cluster, true,
          "Also run the job through coordinator + gateway + worker (needs "
          "their binaries in --bin_dir).");
ABSL_FLAG(int, repeats, 3, "Alternating (a, b, c) runs per configuration.");
ABSL_FLAG(bool, pin_slots, false,
          "Run the worker with --pin_slots and embedded mode with "
          "--pin_threads (their threads pinned to cores).");
ABSL_FLAG(int, frames_every, 0,
          "With N > 0, embedded mode also writes the results directory, as "
          "`replex run --results` does, with a trajectory frame every N "
          "rounds (output.frame_interval): the cost of results on the "
          "round's path. The cluster's coordinator writes results anyway.");
ABSL_FLAG(bool, plain_energy, false,
          "The plain runs also read each replica's potential energy after "
          "each segment (getState(Energy), one more force evaluation a "
          "segment), the one piece of work exchange adds to every segment: "
          "the ratio then shows what replex costs beyond it.");
ABSL_FLAG(bool, pin_plain, true,
          "Pin the plain runs' threads to cores (their best configuration on "
          "a machine the benchmark has to itself).");

namespace replex::bench {
namespace {

// The one-thread CPU Context, or the platform's defaults.
std::map<std::string, std::string> Properties() {
  if (absl::GetFlag(FLAGS_platform) != "CPU") return {};
  return {{"Threads", "1"}};
}

v1::JobSpec Configure(v1::JobSpec spec, int replicas, int steps, int rounds) {
  spec.set_platform(absl::GetFlag(FLAGS_platform));
  spec.clear_platform_properties();
  for (const auto& [name, value] : Properties()) {
    (*spec.mutable_platform_properties())[name] = value;
  }
  v1::Ladder& ladder = *spec.mutable_ladder();
  ladder.Clear();
  for (double t : exchange::Ladder::Geometric(300, 450, replicas)) {
    ladder.add_temperatures_k(t);
  }
  spec.mutable_exchange()->set_steps_per_exchange(steps);
  spec.mutable_exchange()->set_n_rounds(rounds);
  spec.set_checkpoint_interval(rounds);  // the end only, as plain OpenMM
  spec.clear_output();
  return spec;
}

// (a): seconds for every replica to run rounds x steps, in the best way this
// benchmark knows for plain OpenMM: on a threads::SlotPool of `slots` slots,
// pinned with --pin_plain (each slot then runs its own replicas only),
// replica i's Context made on and stepped by
// slot i % slots (so its OpenMM pool thread shares that slot's CPUs), all
// rounds of a replica in one task (with --plain_energy, each segment followed
// by reading the potential energy). The Contexts are made one at a time and all
// of them before any steps: OpenMM 7.7's CPU platform must not create or
// destroy a Context while another steps (see lib/engine).
double PlainOpenMM(const engine::Model& model, const v1::JobSpec& spec,
                   int slots) {
  const absl::Time start = absl::Now();
  const int n = spec.ladder().temperatures_k_size();
  OpenMM::Platform& platform =
      OpenMM::Platform::getPlatformByName(absl::GetFlag(FLAGS_platform));
  std::vector<OpenMM::Vec3> positions;
  for (const engine::Vec3& p : model.initial_state().positions_nm) {
    positions.emplace_back(p[0], p[1], p[2]);
  }
  std::vector<std::unique_ptr<OpenMM::LangevinMiddleIntegrator>> integrators(n);
  std::vector<std::unique_ptr<OpenMM::Context>> contexts(n);
  threads::SlotPool pool(slots, absl::GetFlag(FLAGS_pin_plain));
  absl::Mutex making;
  auto same_slot = [](int replica) { return static_cast<uint64_t>(replica); };
  threads::ParallelFor(pool, n, same_slot, [&](int replica) {
    absl::MutexLock lock(&making);
    const double temperature = spec.ladder().temperatures_k(replica);
    integrators[replica] = std::make_unique<OpenMM::LangevinMiddleIntegrator>(
        temperature, spec.integrator().friction_per_ps(),
        spec.integrator().timestep_ps());
    contexts[replica] = std::make_unique<OpenMM::Context>(
        const_cast<OpenMM::System&>(model.system()), *integrators[replica],
        platform, Properties());
    contexts[replica]->setPositions(positions);
    contexts[replica]->setVelocitiesToTemperature(temperature, 1 + replica);
    // Kernels that finish setting up at the first force evaluation (the CPU
    // PME plugin's FFT plans) do it here, one Context at a time, as the
    // engine does: FFTW's planner is not thread-safe.
    contexts[replica]->getState(OpenMM::State::Forces);
  });
  threads::ParallelFor(pool, n, same_slot, [&](int replica) {
    const bool energy = absl::GetFlag(FLAGS_plain_energy);
    for (int64_t round = 0; round < spec.exchange().n_rounds(); ++round) {
      integrators[replica]->step(spec.exchange().steps_per_exchange());
      if (energy) contexts[replica]->getState(OpenMM::State::Energy);
    }
  });
  contexts.clear();
  return absl::ToDoubleSeconds(absl::Now() - start);
}

// (b): seconds for RunJob to return (with --frames_every, writing the
// results as it goes; the analysis at the end, ResultsWriter::Finish, is not
// timed).
absl::StatusOr<double> Embedded(v1::JobSpec spec, int slots) {
  const absl::Time start = absl::Now();
  runner::RunOptions options;
  options.threads = slots;
  options.pin_threads = absl::GetFlag(FLAGS_pin_slots);
  std::unique_ptr<results::ResultsWriter> writer;
  char dir_template[] = "/tmp/replex-efficiency-results-XXXXXX";
  if (const int every = absl::GetFlag(FLAGS_frames_every); every > 0) {
    spec.mutable_output()->set_frame_interval(every);
    const char* dir = mkdtemp(dir_template);
    if (dir == nullptr) return absl::InternalError("mkdtemp failed");
    absl::StatusOr<std::unique_ptr<results::ResultsWriter>> opened =
        results::ResultsWriter::Open(dir, spec, {}, 0);
    if (!opened.ok()) return opened.status();
    writer = *std::move(opened);
    options.positions_every = every;
    options.on_round = [&](const runner::RoundReport& report) {
      return writer->WriteRound(report);
    };
  }
  absl::StatusOr<runner::RunResult> result = runner::RunJob(spec, options);
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  if (writer != nullptr) {
    const std::string dir = writer->dir().string();
    writer.reset();
    testing::RunCommand(absl::StrCat("rm -rf ", dir));
  }
  if (!result.ok()) return result.status();
  return seconds;
}

int Main() {
  absl::StatusOr<BenchJob> job = LoadBenchJob(absl::GetFlag(FLAGS_job));
  if (!job.ok()) {
    std::fprintf(stderr, "%s\n", job.status().ToString().c_str());
    return 2;
  }
  const v1::JobSpec* base = &job->spec;
  const std::shared_ptr<const engine::Model>* model = &job->model;
  // Loads the plugins (the CPU PME and CUDA ones among them) before plain
  // OpenMM asks for the platform by name.
  const std::vector<std::string> platforms = engine::AvailablePlatforms();
  const std::string platform = absl::GetFlag(FLAGS_platform);
  if (std::find(platforms.begin(), platforms.end(), platform) ==
      platforms.end()) {
    std::fprintf(stderr,
                 "--platform=%s is not available (have %s; plugin failures: "
                 "%s)\n",
                 platform.c_str(), absl::StrJoin(platforms, ", ").c_str(),
                 absl::StrJoin(engine::PluginLoadFailures(), "; ").c_str());
    return 2;
  }
  const int slots = absl::GetFlag(FLAGS_slots);
  Cluster cluster;
  const std::vector<int> step_counts =
      Ints("steps", absl::GetFlag(FLAGS_steps));
  const std::vector<int> replica_counts =
      Ints("replicas", absl::GetFlag(FLAGS_replicas));
  const bool with_cluster = absl::GetFlag(FLAGS_cluster);
  if (absl::Status started =
          with_cluster ? cluster.Start(
                             absl::GetFlag(FLAGS_bin_dir),
                             {{{},
                               {absl::StrCat("--platform=",
                                             absl::GetFlag(FLAGS_platform)),
                                absl::StrCat("--slots=", slots),
                                absl::StrCat("--pin_slots=",
                                             absl::GetFlag(FLAGS_pin_slots))}}})
                       : absl::OkStatus();
      !started.ok()) {
    std::fprintf(stderr, "%s\n", started.ToString().c_str());
    return 2;
  }
  // One untimed Context first: the CUDA and OpenCL platforms compile their
  // kernels for the first Context and cache them (on disk, or in the
  // process), which would otherwise be charged to the first timed run alone
  // (on an H200 it made the first plain run of one replica 3.5 times as long).
  PlainOpenMM(**model, Configure(*base, 1, step_counts.front(), 1), 1);
  std::printf("%8s %6s %7s %10s %11s %10s %19s %18s %13s %16s %17s  %s\n",
              "replicas", "steps", "rounds", "plain s", "embedded s",
              "cluster s", "efficiency embedded", "efficiency cluster",
              "plain ns/day", "embedded ns/day", "idle CPU-s p|e|c",
              "per-run ratios embedded | cluster");
  for (int steps : step_counts) {
    for (int replicas : replica_counts) {
      const int rounds = absl::GetFlag(FLAGS_total_steps) / steps;
      const v1::JobSpec spec = Configure(*base, replicas, steps, rounds);
      std::vector<double> plain_s, embedded_s, cluster_s, embedded_efficiency,
          cluster_efficiency, plain_idle, embedded_idle, cluster_idle;
      for (int repeat = 0; repeat < absl::GetFlag(FLAGS_repeats); ++repeat) {
        double idle = IdleCpuSeconds();
        plain_s.push_back(PlainOpenMM(**model, spec, slots));
        plain_idle.push_back(IdleCpuSeconds() - idle);
        idle = IdleCpuSeconds();
        absl::StatusOr<double> seconds = Embedded(spec, slots);
        embedded_idle.push_back(IdleCpuSeconds() - idle);
        if (!seconds.ok()) {
          std::fprintf(stderr, "embedded: %s\n",
                       seconds.status().ToString().c_str());
          return 1;
        }
        embedded_s.push_back(*seconds);
        embedded_efficiency.push_back(plain_s.back() / embedded_s.back());
        if (!with_cluster) continue;
        absl::StatusOr<Cluster::Timed> timed = cluster.Run(spec);
        if (!timed.ok()) {
          std::fprintf(stderr, "%s\n", timed.status().ToString().c_str());
          return 1;
        }
        cluster_s.push_back(timed->seconds);
        cluster_idle.push_back(timed->idle_cpu_s);
        cluster_efficiency.push_back(plain_s.back() / cluster_s.back());
      }
      // Aggregate over replicas: simulated ns per wall day.
      const double ns = static_cast<double>(replicas) * rounds * steps *
                        spec.integrator().timestep_ps() / 1000;
      // "-" where the cluster did not run (--cluster=false).
      const auto cell = [&](const char* format, double value) {
        return with_cluster ? absl::StrFormat(format, value) : "-";
      };
      const std::string idle =
          absl::StrFormat("%.2f|%.2f|%s", Median(plain_idle),
                          Median(embedded_idle),
                          cell("%.2f", Median(cluster_idle)));
      std::printf(
          "%8d %6d %7d %10.2f %11.2f %10s %19.3f %18s %13.1f %16.1f %17s  "
          "%s| %s\n",
          replicas, steps, rounds, Median(plain_s), Median(embedded_s),
          cell("%.2f", Median(cluster_s)).c_str(), Median(embedded_efficiency),
          cell("%.3f", Median(cluster_efficiency)).c_str(),
          ns * 86400 / Median(plain_s), ns * 86400 / Median(embedded_s),
          idle.c_str(), Ratios(embedded_efficiency).c_str(),
          with_cluster ? Ratios(cluster_efficiency).c_str() : "-");
      std::fflush(stdout);
    }
  }
  return 0;
}

}  // namespace
}  // namespace replex::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return replex::bench::Main();
}
