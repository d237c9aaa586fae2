// Coordinator scale: a real replex-coordinator process driven by simulated
// workers that speak the real gRPC Session protocol and answer every
// SegmentOrder at once with an energy from an analytic model, so the only
// work measured is the coordinator's (and loopback gRPC).
//
// Per configuration (scheme, replicas, worker connections) a fresh
// coordinator runs one job and the table shows rounds per second, round
// latency p50/p99 (the last SegmentDone of round r sent -> the last
// SegmentOrder of round r + 1 received, both seen by this process), the
// coordinator's CPU time per round and its peak RSS. The client-side latency
// includes the coordinator reading the round's n SegmentDone messages, which
// the simulated workers send all at once; the coordinator's own measure,
// replex_exchange_overhead_seconds (its last result in -> the next orders
// handed to the sessions), is read from its /metrics at the end: its mean and
// the share of rounds at most 5 ms. `--watchers` adds WatchJob streams on the
// job for the fan-out comparison; `--watchers_apart` gives them a CPU of their
// own.
//
//   replex-bench-coordinator
//   --coordinator_bin=build/coordinator/replex-coordinator
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/bench_util.h"
#include "grpcpp/grpcpp.h"
#include "lib/engine/portable_state.h"
#include "lib/wire/wire.h"
#include "replex/v1/job_service.grpc.pb.h"
#include "replex/v1/worker.grpc.pb.h"
#include "tests/process.h"

ABSL_FLAG(std::string, coordinator_bin, "",
          "Path of the replex-coordinator binary.");
ABSL_FLAG(std::string, coordinator_flags, "",
          "Space-separated extra flags for the coordinator.");
ABSL_FLAG(std::string, replicas, "16,256,1024,4096",
          "Comma-separated replica counts.");
ABSL_FLAG(std::string, connections, "8,64",
          "Comma-separated simulated worker connection counts.");
ABSL_FLAG(std::string, schemes, "neighbors,gibbs", "Exchange schemes.");
ABSL_FLAG(int, rounds, 200, "Rounds per job.");
ABSL_FLAG(std::string, watchers, "0",
          "Comma-separated WatchJob stream counts to run each job with.");
ABSL_FLAG(std::string, watch_batch_ms, "0",
          "Comma-separated WatchJobRequest.batch_ms values to run each "
          "watcher count above 0 with (0: a message per round; replexctl "
          "asks for 250).");
ABSL_FLAG(bool, watchers_apart, false,
          "Run the watchers on the last CPU this process may use and "
          "everything else (the coordinator, the simulated workers) on the "
          "others, as watchers on other machines would be: the ratio to no "
          "watchers then measures what the watchers cost the coordinator, "
          "not the CPU their own reading takes from it on a shared machine.");
ABSL_FLAG(int, atoms, 0,
          "Atoms of the simulated system: with N > 0 the job writes a "
          "trajectory frame every round (output.frame_interval: 1), so every "
          "result carries its replica's positions (N atoms, packed float32), "
          "and the coordinator writes them to NetCDF.");
ABSL_FLAG(int, segment_ms, 0,
          "Milliseconds each simulated worker takes over a round's segments "
          "before it answers them (0: at once), as a GPU running its replicas "
          "would: the coordinator's per-round work then overlaps the "
          "segments, as it does in production.");
ABSL_FLAG(int, repeats, 1,
          "Runs per configuration; the table shows each (alternating the "
          "watcher counts when several are given).");

namespace replex::bench {
namespace {

// A replica state the coordinator checkpoints and the results' final_states
// decode: an empty portable state (the energies are simulated).
std::string SimulatedState() { return engine::PortableState().Serialize(); }

// `atoms` positions inside a 3 nm box, packed as SegmentDone carries them.
std::string SimulatedPositions(int atoms) {
  std::vector<engine::Vec3> positions(atoms);
  for (int i = 0; i < atoms; ++i) {
    positions[i] = {0.1 * (i % 30), 0.1 * (i / 30 % 30), 0.1 * (i / 900 % 30)};
  }
  return wire::PackFloat32(positions);
}

// A System of `atoms` particles: what the coordinator reads of it (the
// results size estimate counts <Particle>s; the workers simulate).
std::string SimulatedSystem(int atoms) {
  std::string xml = "<System><Particles>";
  for (int i = 0; i < atoms; ++i) xml += "<Particle mass=\"12\"/>";
  return xml + "</Particles></System>";
}

using Clock = std::chrono::steady_clock;
int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             Clock::now().time_since_epoch())
      .count();
}

// Atomically raises `slot` to `value`.
void RaiseTo(std::atomic<int64_t>& slot, int64_t value) {
  int64_t seen = slot.load(std::memory_order_relaxed);
  while (seen < value && !slot.compare_exchange_weak(seen, value)) {
  }
}

// The analytic model: n_dof harmonic degrees of freedom at temperature T
// have potential energy ~ Gamma(n_dof / 2, k_B T), drawn per (replica, round)
// from a fixed seed so every run sees the same energies.
constexpr double kBoltzmann = 0.0083144626;  // kJ/mol/K
constexpr int kDegreesOfFreedom = 3000;
double ModelEnergy(const std::vector<double>& temperatures, int rung,
                   int replica, int64_t round) {
  std::mt19937_64 rng(static_cast<uint64_t>(replica) * 1000003 + round);
  std::gamma_distribution<double> gamma(kDegreesOfFreedom / 2.0,
                                        kBoltzmann * temperatures[rung]);
  return gamma(rng);
}

// Geometric ladder 300..600 K: with 3000 degrees of freedom neighbouring
// rungs overlap enough for accepts to happen at every size measured.
std::vector<double> Temperatures(int n) {
  std::vector<double> t(n);
  for (int k = 0; k < n; ++k) {
    t[k] = n == 1 ? 300 : 300 * std::pow(2.0, static_cast<double>(k) / (n - 1));
  }
  return t;
}

struct Timeline {
  explicit Timeline(int rounds)
      : last_done(rounds + 1), last_order(rounds + 1) {
    for (auto& t : last_done) t = 0;
    for (auto& t : last_order) t = 0;
  }
  std::vector<std::atomic<int64_t>> last_done;   // per round, ns
  std::vector<std::atomic<int64_t>> last_order;  // per round, ns
};

// One simulated worker: one Session stream, answered on its own thread.
class SimulatedWorker {
 public:
  SimulatedWorker(std::shared_ptr<grpc::Channel> channel, int index,
                  int max_replicas, const std::vector<double>* temperatures,
                  const std::string* positions, Timeline* timeline)
      : stub_(v1::Coordinator::NewStub(channel)),
        temperatures_(temperatures),
        positions_(positions),
        timeline_(timeline) {
    stream_ = stub_->Session(&context_);
    v1::WorkerMessage hello;
    v1::Register& reg = *hello.mutable_register_();
    reg.set_worker_name(absl::StrCat("sim-", index));
    reg.set_slots(max_replicas);
    reg.set_max_replicas(max_replicas);
    reg.set_platform("CPU");
    reg.set_hostname("bench");
    stream_->Write(hello);
    thread_ = std::thread([this] { Serve(); });
  }
  ~SimulatedWorker() {
    context_.TryCancel();
    thread_.join();
  }

 private:
  void Serve() {
    v1::CoordinatorMessage in;
    while (stream_->Read(&in)) {
      v1::WorkerMessage out;
      switch (in.message_case()) {
        case v1::CoordinatorMessage::kSegmentOrders: {
          for (const v1::SegmentOrder& order : in.segment_orders().orders()) {
            RaiseTo(timeline_->last_order[order.round()], NowNs());
          }
          if (const int ms = absl::GetFlag(FLAGS_segment_ms); ms > 0) {
            absl::SleepFor(absl::Milliseconds(ms));
          }
          // Answered as a real worker answers (replica-worker/replica_host.h):
          // a synchronous round's results (batch_result) in SegmentDones
          // messages of up to wire::kMaxBatchBytes, others one SegmentDone
          // per order.
          size_t bytes = 0;
          const auto write = [&](int64_t round) {
            stream_->Write(out);
            RaiseTo(timeline_->last_done[round], NowNs());
            out.Clear();
            bytes = 0;
          };
          for (const v1::SegmentOrder& order : in.segment_orders().orders()) {
            v1::SegmentDone done;
            done.set_job_id(order.job_id());
            done.set_replica(order.replica());
            done.set_round(order.round());
            done.set_epoch(order.epoch());
            done.set_potential_kj_mol(ModelEnergy(
                *temperatures_, order.rung(), order.replica(), order.round()));
            if (order.want_state()) done.set_state(SimulatedState());
            if (order.want_positions()) done.set_positions_f32(*positions_);
            if (!order.batch_result()) {
              *out.mutable_segment_done() = std::move(done);
              write(order.round());
              continue;
            }
            bytes += done.ByteSizeLong();
            *out.mutable_segment_dones()->add_done() = std::move(done);
            if (bytes >= wire::kMaxBatchBytes) write(order.round());
          }
          if (out.segment_dones().done_size() > 0) {
            write(out.segment_dones().done(0).round());
          }
          continue;
        }
        case v1::CoordinatorMessage::kReleaseReplica: {
          const v1::ReleaseReplica& release = in.release_replica();
          if (!release.want_state()) continue;
          v1::ReplicaStateReport& report = *out.mutable_replica_state();
          report.set_job_id(release.job_id());
          report.set_replica(release.replica());
          report.set_epoch(release.epoch());
          report.set_state(SimulatedState());
          break;
        }
        case v1::CoordinatorMessage::kHeartbeat:
          out.mutable_heartbeat()->set_sent_unix_ms(
              absl::ToUnixMillis(absl::Now()));
          break;
        default:
          continue;  // Welcome, LoadJob, LoadReplica, UnloadJob: nothing to say
      }
      stream_->Write(out);
    }
  }

  std::unique_ptr<v1::Coordinator::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<
      grpc::ClientReaderWriter<v1::WorkerMessage, v1::CoordinatorMessage>>
      stream_;
  const std::vector<double>* temperatures_;
  const std::string* positions_;
  Timeline* timeline_;
  std::thread thread_;
};

// A WatchJob subscriber that reads every event until the stream ends,
// counting the rounds it hears of.
class Watcher {
 public:
  Watcher(v1::JobService::Stub* stub, const std::string& job_id, int batch_ms) {
    thread_ = std::thread([this, stub, job_id, batch_ms] {
      if (absl::GetFlag(FLAGS_watchers_apart)) {
        PinThisThread({AllowedCpus().back()});
      }
      v1::WatchJobRequest request;
      request.set_job_id(job_id);
      request.set_batch_ms(batch_ms);
      auto reader = stub->WatchJob(&context_, request);
      v1::JobEvent event;
      while (reader->Read(&event)) {
        // Snapshots count the rounds before them; a watch's first round
        // events may repeat rounds its first snapshot counts (docs/api.md).
        if (event.has_snapshot()) {
          next_ = std::max(next_, event.snapshot().rounds_completed());
        }
        if (event.has_round()) Heard(event.round());
        for (const v1::RoundEvent& round : event.rounds().rounds()) {
          Heard(round);
        }
      }
      reader->Finish();
    });
  }
  ~Watcher() {
    context_.TryCancel();
    thread_.join();
  }
  // Waits for the stream to end (it does once the job has); an error unless
  // it heard of every round, with no gap.
  absl::Status Check(int64_t rounds) {
    thread_.join();
    thread_ = std::thread([] {});
    if (next_ == rounds && gaps_ == 0) return absl::OkStatus();
    return absl::DataLossError(absl::StrCat("heard of rounds to ", next_,
                                            " of ", rounds, " with ", gaps_,
                                            " missing"));
  }

 private:
  void Heard(const v1::RoundEvent& round) {
    if (round.round() > next_) gaps_ += round.round() - next_;
    next_ = std::max(next_, round.round() + 1);
  }

  grpc::ClientContext context_;
  // Read by Check once the thread is joined.
  int64_t next_ = 0, gaps_ = 0;
  std::thread thread_;
};

// utime + stime of `pid`, in seconds.
double CpuSeconds(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string text((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  // Fields after the parenthesised command: state is field 3; utime 14.
  std::istringstream rest(text.substr(text.rfind(')') + 2));
  std::string field;
  double utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stod(field);
    if (i == 15) stime = std::stod(field);
  }
  return (utime + stime) / sysconf(_SC_CLK_TCK);
}

// Peak resident set (VmHWM) of `pid`, in MiB.
double PeakRssMiB(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) {
      return std::stod(line.substr(6)) / 1024;  // kB
    }
  }
  return NAN;
}

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return NAN;
  std::sort(values.begin(), values.end());
  const size_t index = std::min(
      values.size() - 1, static_cast<size_t>(p * (values.size() - 1) + 0.5));
  return values[index];
}

struct Row {
  double rounds_per_second = NAN, p50_ms = NAN, p99_ms = NAN;
  double cpu_ms_per_round = NAN, peak_rss_mib = NAN;
  // The coordinator's replex_exchange_overhead_seconds.
  double overhead_mean_ms = NAN, overhead_within_5ms = NAN;
  std::string error;
};

// The value of the sample line `name` (e.g. `x_bucket{le="0.005"}`) in a
// Prometheus text exposition, or NaN.
double Sample(const std::string& exposition, const std::string& name) {
  for (absl::string_view line : absl::StrSplit(exposition, '\n')) {
    if (!absl::ConsumePrefix(&line, name) || !absl::ConsumePrefix(&line, " ")) {
      continue;
    }
    double value;
    if (absl::SimpleAtod(line, &value)) return value;
  }
  return NAN;
}

Row RunOne(const std::string& scheme, int n, int connections, int watchers,
           int batch_ms, int rounds) {
  Row row;
  char dir_template[] = "/tmp/replex-bench-XXXXXX";
  const std::string dir = mkdtemp(dir_template);
  std::vector<std::string> argv = {
      absl::GetFlag(FLAGS_coordinator_bin),
      "--listen=127.0.0.1:0",
      absl::StrCat("--port_file=", dir, "/port"),
      "--worker_listen=127.0.0.1:0",
      absl::StrCat("--worker_port_file=", dir, "/worker_port"),
      absl::StrCat("--journal=", dir, "/journal.sqlite"),
      absl::StrCat("--checkpoint_dir=", dir, "/checkpoints"),
      absl::StrCat("--results_root=", dir, "/results"),
      "--metrics_listen=127.0.0.1:0",
      absl::StrCat("--metrics_port_file=", dir, "/metrics_port"),
      "--heartbeat_timeout=120s"};
  for (absl::string_view flag : absl::StrSplit(
           absl::GetFlag(FLAGS_coordinator_flags), ' ', absl::SkipEmpty())) {
    argv.emplace_back(flag);
  }
  auto coordinator = testing::Process::Start(argv, dir + "/coordinator.log");
  if (!coordinator.ok()) {
    row.error = coordinator.status().ToString();
    return row;
  }
  absl::StatusOr<std::string> port =
      testing::WaitForFile(dir + "/port", absl::Seconds(20));
  if (!port.ok()) {
    row.error =
        absl::StrCat("coordinator did not start: ", (*coordinator)->Log());
    return row;
  }
  const std::string address = absl::StrCat("127.0.0.1:", *port);
  // Written before the JobService port file.
  absl::StatusOr<std::string> worker_port =
      testing::WaitForFile(dir + "/worker_port", absl::Seconds(1));
  if (!worker_port.ok()) {
    row.error = worker_port.status().ToString();
    return row;
  }
  const std::string worker_address = absl::StrCat("127.0.0.1:", *worker_port);
  const std::vector<double> temperatures = Temperatures(n);
  const int atoms = absl::GetFlag(FLAGS_atoms);
  const std::string positions = SimulatedPositions(atoms);
  Timeline timeline(rounds);
  {
    std::vector<std::unique_ptr<SimulatedWorker>> workers;
    const int per_worker = (n + connections - 1) / connections;
    for (int w = 0; w < connections; ++w) {
      // A channel each, as separate worker processes would have.
      grpc::ChannelArguments args;
      args.SetInt("grpc.channel_id", w);
      workers.push_back(std::make_unique<SimulatedWorker>(
          grpc::CreateCustomChannel(worker_address,
                                    grpc::InsecureChannelCredentials(), args),
          w, per_worker, &temperatures, &positions, &timeline));
    }
    auto jobs = v1::JobService::NewStub(
        grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
    v1::SubmitJobRequest submit;
    v1::JobSpec& spec = *submit.mutable_spec();
    spec.set_name("bench");
    // Never loaded: the workers simulate.
    spec.set_system_xml(atoms > 0 ? SimulatedSystem(atoms) : "<System/>");
    if (atoms > 0) spec.mutable_output()->set_frame_interval(1);
    spec.set_state_xml("<State/>");
    spec.set_platform("CPU");
    spec.set_seed(7);
    spec.set_checkpoint_interval(rounds);  // the end only: not measured here
    spec.mutable_exchange()->set_n_rounds(rounds);
    spec.mutable_exchange()->set_steps_per_exchange(500);
    spec.mutable_exchange()->set_scheme(
        scheme == "gibbs" ? v1::Exchange::GIBBS : v1::Exchange::NEIGHBORS);
    for (double t : temperatures) spec.mutable_ladder()->add_temperatures_k(t);
    // Workers register asynchronously; the job queues until they have.
    v1::SubmitJobResponse submitted;
    grpc::ClientContext submit_context;
    grpc::Status status = jobs->SubmitJob(&submit_context, submit, &submitted);
    if (!status.ok()) {
      row.error = absl::StrCat("SubmitJob: ", status.error_message());
      return row;
    }
    std::vector<std::unique_ptr<Watcher>> watching;
    for (int i = 0; i < watchers; ++i) {
      watching.push_back(
          std::make_unique<Watcher>(jobs.get(), submitted.job_id(), batch_ms));
    }
    double cpu_start = NAN;
    v1::Job job;
    const absl::Time deadline = absl::Now() + absl::Minutes(10);
    while (absl::Now() < deadline) {
      if (std::isnan(cpu_start) && timeline.last_order[0].load() != 0) {
        cpu_start = CpuSeconds((*coordinator)->pid());
      }
      grpc::ClientContext get_context;
      v1::GetJobRequest get;
      get.set_job_id(submitted.job_id());
      if (!jobs->GetJob(&get_context, get, &job).ok()) break;
      if (job.state() != v1::QUEUED && job.state() != v1::RUNNING) break;
      absl::SleepFor(absl::Milliseconds(20));
    }
    const double cpu_end = CpuSeconds((*coordinator)->pid());
    if (job.state() != v1::SUCCEEDED) {
      row.error = absl::StrCat("job ended ", v1::JobState_Name(job.state()),
                               ": ", job.error());
      return row;
    }
    for (size_t i = 0; i < watching.size(); ++i) {
      if (absl::Status heard = watching[i]->Check(rounds); !heard.ok()) {
        row.error = absl::StrCat("watcher ", i, ": ", heard.message());
        return row;
      }
    }
    std::vector<double> latencies_ms;
    for (int r = 0; r + 1 < rounds; ++r) {
      latencies_ms.push_back(
          (timeline.last_order[r + 1] - timeline.last_done[r]) / 1e6);
    }
    const double seconds =
        (timeline.last_done[rounds - 1] - timeline.last_order[0]) / 1e9;
    row.rounds_per_second = rounds / seconds;
    row.p50_ms = Percentile(latencies_ms, 0.5);
    row.p99_ms = Percentile(latencies_ms, 0.99);
    // The status polls above cost the coordinator a little too: included.
    row.cpu_ms_per_round = (cpu_end - cpu_start) * 1000 / rounds;
    row.peak_rss_mib = PeakRssMiB((*coordinator)->pid());
    absl::StatusOr<std::string> metrics_port =
        testing::WaitForFile(dir + "/metrics_port", absl::Seconds(1));
    int metrics_port_number = 0;
    absl::StatusOr<std::string> exposition =
        metrics_port.ok() &&
                absl::SimpleAtoi(*metrics_port, &metrics_port_number)
            ? testing::HttpGet(metrics_port_number, "/metrics")
            : absl::StatusOr<std::string>(absl::UnavailableError("no port"));
    if (exposition.ok()) {
      const std::string name = "replex_exchange_overhead_seconds";
      const double count = Sample(*exposition, name + "_count");
      row.overhead_mean_ms = Sample(*exposition, name + "_sum") * 1000 / count;
      row.overhead_within_5ms =
          Sample(*exposition, name + "_bucket{le=\"0.005\"}") / count;
    }
  }
  (*coordinator)->Signal(SIGTERM);
  (*coordinator)->Wait(absl::Seconds(20));
  testing::RunCommand(absl::StrCat("rm -rf ", dir));
  return row;
}

int Main() {
  if (absl::GetFlag(FLAGS_coordinator_bin).empty()) {
    std::fprintf(stderr, "--coordinator_bin is required\n");
    return 2;
  }
  const int rounds = absl::GetFlag(FLAGS_rounds);
  const std::vector<int> replica_counts =
      Ints("replicas", absl::GetFlag(FLAGS_replicas));
  const std::vector<int> connection_counts =
      Ints("connections", absl::GetFlag(FLAGS_connections));
  const std::vector<int> watcher_counts =
      Ints("watchers", absl::GetFlag(FLAGS_watchers));
  const std::vector<int> batches =
      Ints("watch_batch_ms", absl::GetFlag(FLAGS_watch_batch_ms));
  if (absl::GetFlag(FLAGS_atoms) > 0) {
    std::printf("%d atoms, a frame every round\n", absl::GetFlag(FLAGS_atoms));
  }
  if (absl::GetFlag(FLAGS_watchers_apart)) {
    std::vector<int> cpus = AllowedCpus();
    if (cpus.size() < 2) {
      std::fprintf(stderr, "--watchers_apart needs at least 2 CPUs\n");
      return 2;
    }
    // Before any thread or process starts, so that all of them but the
    // watchers inherit it.
    std::printf("watchers on CPU %d, the rest on the other %zu\n", cpus.back(),
                cpus.size() - 1);
    cpus.pop_back();
    PinThisThread(cpus);
  }
  std::printf("%-10s %8s %6s %8s %8s %10s %9s %9s %12s %9s %12s %10s\n",
              "scheme", "replicas", "conns", "watchers", "batch ms", "rounds/s",
              "p50 ms", "p99 ms", "cpu ms/round", "RSS MiB", "in-out ms",
              "<=5ms");
  int failures = 0;
  const std::vector<std::string> schemes =
      absl::StrSplit(absl::GetFlag(FLAGS_schemes), ',', absl::SkipEmpty());
  for (const std::string& scheme : schemes) {
    for (int n : replica_counts) {
      for (int connections : connection_counts) {
        if (connections > n) continue;
        for (int repeat = 0; repeat < absl::GetFlag(FLAGS_repeats); ++repeat) {
          for (int watchers : watcher_counts) {
            for (int batch_ms : batches) {
              // Without watchers the batch makes no difference: run once.
              if (watchers == 0 && batch_ms != batches.front()) continue;
              const Row row =
                  RunOne(scheme, n, connections, watchers, batch_ms, rounds);
              if (!row.error.empty()) {
                ++failures;
                std::printf("%-10s %8d %6d %8d %8d  FAILED: %s\n",
                            scheme.c_str(), n, connections, watchers, batch_ms,
                            row.error.c_str());
                continue;
              }
              std::printf(
                  "%-10s %8d %6d %8d %8d %10.1f %9.2f %9.2f %12.2f %9.1f "
                  "%12.2f %9.0f%%\n",
                  scheme.c_str(), n, connections, watchers, batch_ms,
                  row.rounds_per_second, row.p50_ms, row.p99_ms,
                  row.cpu_ms_per_round, row.peak_rss_mib, row.overhead_mean_ms,
                  row.overhead_within_5ms * 100);
              std::fflush(stdout);
            }
          }
        }
      }
    }
  }
  return failures == 0 ? 0 : 1;
}

}  // namespace
}  // namespace replex::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return replex::bench::Main();
}
