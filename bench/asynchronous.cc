// Asynchronous against synchronous exchange with one CPU made slower: the
// job's replicas through runner::RunJob (embedded mode, `--slots` pinned
// threads, so replica i's Context computes on CPU share i % slots) in both
// modes, against the pool's capacity: plain OpenMM Contexts, the same
// replicas on the same shares, each share stepping its own replicas one
// segment after another for `--capacity_seconds`, no exchange and nothing
// waiting. The slower CPU: `--hogs` busy processes pinned to the last CPU
// this process may use (the last share's), so a share's thread there gets
// about 1/(hogs + 1) of it. Each configuration runs without and with the
// hogs, `--repeats` times alternating capacity, synchronous, asynchronous
// and asynchronous with a checkpoint every `--checkpoint_rounds` rounds'
// worth of segments (each one a barrier: docs/exchange.md; journal and
// states kept in memory, so what it measures is the barriers' wait); the
// table has medians of segments per second and of the ratios. With
// `--cluster` the replex jobs run through coordinator, gateway and one
// single-slot worker per share instead (bench_cluster.h), the same
// capacity beside them.
//
//   replex-bench-asynchronous [--cluster --bin_dir=build]
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "OpenMM.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/bench_cluster.h"
#include "bench/bench_job.h"
#include "bench/bench_util.h"
#include "lib/engine/engine.h"
#include "lib/exchange/ladder.h"
#include "lib/runner/runner.h"
#include "lib/spec/spec.h"
#include "lib/store/checkpoint_store.h"
#include "lib/store/in_memory_journal.h"
#include "lib/threads/slot_pool.h"

ABSL_FLAG(std::string, job, "examples/alanine-dipeptide/job.yaml",
          "The job whose system, coordinates and integrator are run (CPU "
          "platform, one thread per Context).");
ABSL_FLAG(int, replicas, 8, "Replicas (rungs, 300-450 K geometric).");
ABSL_FLAG(int, steps, 100, "Steps per segment.");
ABSL_FLAG(int, rounds, 300,
          "Rounds (the segments of each job: replicas x "
          "rounds).");
ABSL_FLAG(int, slots, 2, "Threads, pinned to disjoint CPU shares.");
ABSL_FLAG(int, hogs, 2, "Busy processes on the last CPU in the slow rows.");
ABSL_FLAG(double, capacity_seconds, 3, "Length of each capacity run.");
ABSL_FLAG(int, repeats, 3, "Alternating runs per row.");
ABSL_FLAG(int, checkpoint_rounds, 30,
          "Rounds' worth of segments between the checkpoints (barriers) of "
          "the last column's asynchronous runs.");
ABSL_FLAG(bool, cluster, false,
          "Run the replex jobs through a cluster on loopback instead of "
          "embedded mode: coordinator, gateway and --slots workers of one "
          "slot each, worker i under `taskset -c` on CPU share i (the last "
          "one the slow CPU's), the jobs submitted through the gateway and "
          "timed from submission to SUCCEEDED.");
ABSL_FLAG(std::string, bin_dir, "build",
          "The build directory (the cluster's binaries).");
ABSL_FLAG(std::string, scheme, "gibbs",
          "The exchange scheme of both modes (docs/exchange.md: gibbs is the "
          "one to use with asynchronous exchange).");

namespace replex::bench {
namespace {

v1::JobSpec Configure(v1::JobSpec spec, v1::Exchange::Mode mode) {
  spec.set_platform("CPU");
  spec.clear_platform_properties();
  (*spec.mutable_platform_properties())["Threads"] = "1";
  v1::Ladder& ladder = *spec.mutable_ladder();
  ladder.Clear();
  for (double t :
       exchange::Ladder::Geometric(300, 450, absl::GetFlag(FLAGS_replicas))) {
    ladder.add_temperatures_k(t);
  }
  v1::Exchange& exchange = *spec.mutable_exchange();
  exchange.set_steps_per_exchange(absl::GetFlag(FLAGS_steps));
  exchange.set_n_rounds(absl::GetFlag(FLAGS_rounds));
  exchange.set_mode(mode);
  exchange.set_scheme(absl::GetFlag(FLAGS_scheme) == "gibbs"
                          ? v1::Exchange::GIBBS
                          : v1::Exchange::NEIGHBORS);
  spec.set_checkpoint_interval(0);
  spec.clear_output();
  return spec;
}

// Busy processes pinned to one CPU, for as long as the object lives.
class Hogs {
 public:
  Hogs(int count, int cpu) {
    for (int i = 0; i < count; ++i) {
      const pid_t pid = fork();
      if (pid == 0) {
        PinThisThread({cpu});
        for (volatile uint64_t spin = 0;; spin = spin + 1) {
        }
      }
      if (pid > 0) pids_.push_back(pid);
    }
  }
  ~Hogs() {
    for (pid_t pid : pids_) kill(pid, SIGKILL);
    for (pid_t pid : pids_) waitpid(pid, nullptr, 0);
  }

 private:
  std::vector<pid_t> pids_;
};

int LastCpu() { return AllowedCpus().back(); }

// Segments per second with every share busy: on a pinned SlotPool, share s
// makes the Contexts of replicas s, s + slots, ... (one at a time: OpenMM
// 7.7's CPU platform must not make one while another steps) and steps them
// in turn, a segment each, for --capacity_seconds.
double Capacity(const engine::Model& model, const v1::JobSpec& spec) {
  const int slots = absl::GetFlag(FLAGS_slots);
  const int n = spec.ladder().temperatures_k_size();
  const int steps = spec.exchange().steps_per_exchange();
  const absl::Duration window =
      absl::Seconds(absl::GetFlag(FLAGS_capacity_seconds));
  OpenMM::Platform& platform = OpenMM::Platform::getPlatformByName("CPU");
  std::vector<OpenMM::Vec3> positions;
  for (const engine::Vec3& p : model.initial_state().positions_nm) {
    positions.emplace_back(p[0], p[1], p[2]);
  }
  threads::SlotPool pool(slots, /*pin=*/true);
  absl::Mutex making;
  std::vector<double> rates(slots);
  threads::ParallelFor(
      pool, slots, [](int s) { return static_cast<uint64_t>(s); },
      [&](int share) {
        std::vector<std::unique_ptr<OpenMM::LangevinMiddleIntegrator>>
            integrators;
        std::vector<std::unique_ptr<OpenMM::Context>> contexts;
        for (int replica = share; replica < n; replica += slots) {
          absl::MutexLock lock(&making);
          const double temperature = spec.ladder().temperatures_k(replica);
          integrators.push_back(
              std::make_unique<OpenMM::LangevinMiddleIntegrator>(
                  temperature, spec.integrator().friction_per_ps(),
                  spec.integrator().timestep_ps()));
          contexts.push_back(std::make_unique<OpenMM::Context>(
              const_cast<OpenMM::System&>(model.system()), *integrators.back(),
              platform, std::map<std::string, std::string>{{"Threads", "1"}}));
          contexts.back()->setPositions(positions);
          contexts.back()->setVelocitiesToTemperature(temperature, 1 + replica);
        }
        int64_t segments = 0;
        const absl::Time start = absl::Now();
        while (absl::Now() - start < window) {
          integrators[segments % integrators.size()]->step(steps);
          ++segments;
        }
        rates[share] = segments / absl::ToDoubleSeconds(absl::Now() - start);
        absl::MutexLock lock(&making);  // destroyed one at a time as well
        contexts.clear();
      });
  double total = 0;
  for (double rate : rates) total += rate;
  return total;
}

// Segments per second of RunJob, from its call to its return, or with
// `cluster` of the job there, from its submission to its end; durable (a
// journal and checkpoints in memory, or the coordinator's on disk) when the
// spec has a checkpoint_interval.
absl::StatusOr<double> Replex(const v1::JobSpec& spec, Cluster* cluster) {
  const double segments = static_cast<double>(spec.exchange().n_rounds()) *
                          spec.ladder().temperatures_k_size();
  if (cluster != nullptr) {
    absl::StatusOr<Cluster::Timed> timed = cluster->Run(spec);
    if (!timed.ok()) return timed.status();
    return segments / timed->seconds;
  }
  runner::RunOptions options;
  options.threads = absl::GetFlag(FLAGS_slots);
  options.pin_threads = true;
  store::InMemoryJournal journal;
  store::InMemoryCheckpointStore checkpoints;
  if (spec.checkpoint_interval() > 0) {
    options.durability.journal = &journal;
    options.durability.checkpoints = &checkpoints;
  }
  const absl::Time start = absl::Now();
  absl::StatusOr<runner::RunResult> result = runner::RunJob(spec, options);
  if (!result.ok()) return result.status();
  return segments / absl::ToDoubleSeconds(absl::Now() - start);
}

int Main() {
  absl::StatusOr<BenchJob> job = LoadBenchJob(absl::GetFlag(FLAGS_job));
  if (!job.ok()) {
    std::fprintf(stderr, "%s\n", job.status().ToString().c_str());
    return 2;
  }
  engine::AvailablePlatforms();  // loads the plugins before plain OpenMM
  const v1::JobSpec synchronous =
      Configure(job->spec, v1::Exchange::SYNCHRONOUS);
  const v1::JobSpec asynchronous =
      Configure(job->spec, v1::Exchange::ASYNCHRONOUS);
  const v1::JobSpec checkpointed = [&] {
    v1::JobSpec spec = asynchronous;
    spec.set_checkpoint_interval(absl::GetFlag(FLAGS_checkpoint_rounds));
    return spec;
  }();
  std::unique_ptr<Cluster> cluster;
  if (absl::GetFlag(FLAGS_cluster)) {
    const std::vector<int> cpus = AllowedCpus();
    const int slots = absl::GetFlag(FLAGS_slots);
    if (static_cast<int>(cpus.size()) < slots) {
      std::fprintf(stderr, "--slots=%d workers need as many CPUs (have %zu)\n",
                   slots, cpus.size());
      return 2;
    }
    // Worker i on CPU share i, as the capacity's and embedded mode's share
    // i; the hogs' CPU is the last share's.
    std::vector<Cluster::WorkerCommand> workers;
    for (int i = 0; i < slots; ++i) {
      const int cpu = cpus[cpus.size() - slots + i];
      workers.push_back(
          {{"/usr/bin/taskset", "-c", absl::StrCat(cpu)},
           {"--platform=CPU", "--slots=1", "--max_replicas=256"}});
    }
    cluster = std::make_unique<Cluster>();
    if (absl::Status started =
            cluster->Start(absl::GetFlag(FLAGS_bin_dir), workers);
        !started.ok()) {
      std::fprintf(stderr, "%s\n", started.ToString().c_str());
      return 1;
    }
  }
  std::printf("%-22s %10s %10s %10s %10s %12s %12s %12s  %s\n", "slow CPU",
              "capacity", "sync", "async", "async+ckpt", "sync/cap",
              "async/cap", "ckpt/cap", "per-run async/cap | sync/cap");
  for (int hogs : {0, absl::GetFlag(FLAGS_hogs)}) {
    std::vector<double> capacity, sync, async, durable, sync_ratio, async_ratio,
        durable_ratio;
    for (int repeat = 0; repeat < absl::GetFlag(FLAGS_repeats); ++repeat) {
      Hogs running(hogs, LastCpu());
      capacity.push_back(Capacity(*job->model, synchronous));
      for (const auto& [spec, rates] :
           {std::pair{&synchronous, &sync}, std::pair{&asynchronous, &async},
            std::pair{&checkpointed, &durable}}) {
        absl::StatusOr<double> rate = Replex(*spec, cluster.get());
        if (!rate.ok()) {
          std::fprintf(stderr, "%s\n", rate.status().ToString().c_str());
          return 1;
        }
        rates->push_back(*rate);
      }
      sync_ratio.push_back(sync.back() / capacity.back());
      async_ratio.push_back(async.back() / capacity.back());
      durable_ratio.push_back(durable.back() / capacity.back());
    }
    const std::string each =
        absl::StrCat(Ratios(async_ratio), "| ", Ratios(sync_ratio));
    const std::string slow =
        hogs == 0 ? "none" : absl::StrCat(hogs, " hogs on CPU ", LastCpu());
    std::printf("%-22s %10.1f %10.1f %10.1f %10.1f %12.3f %12.3f %12.3f  %s\n",
                slow.c_str(), Median(capacity), Median(sync), Median(async),
                Median(durable), Median(sync_ratio), Median(async_ratio),
                Median(durable_ratio), each.c_str());
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace
}  // namespace replex::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return replex::bench::Main();
}
