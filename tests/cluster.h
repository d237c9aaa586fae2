// A real replex cluster for end-to-end tests: replex-coordinator,
// replex-gateway and any number of replex-worker processes on loopback ports
// chosen by the OS, with their logs in a per-test directory. Everything is
// stopped (SIGTERM, then SIGKILL) when the object goes away.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "replex/v1/job_service.grpc.pb.h"
#include "tests/process.h"

namespace replex::testing {

struct WorkerOptions {
  std::string platform = "Reference";
  int slots = 1;
  int max_replicas = 256;
  std::vector<std::string> flags = {};  // more replex-worker flags
  // Runs the worker under this command (e.g. {"ip", "netns", "exec", "ns"}).
  std::vector<std::string> prefix = {};
};

// Not thread-safe.
class LocalCluster {
 public:
  // `name` names the log directory under the test temp dir.
  explicit LocalCluster(const std::string& name);
  ~LocalCluster();

  // Coordinator and gateway, no workers. The coordinator's journal and
  // checkpoints live in dir() (journal_path(), checkpoint_dir()).
  absl::Status StartServices();
  absl::Status AddWorker(const WorkerOptions& options = {});
  // More replex-coordinator flags for every (re)start; set before
  // StartServices.
  void set_coordinator_flags(std::vector<std::string> flags) {
    coordinator_flags_ = std::move(flags);
  }
  // More replex-gateway flags; set before StartServices.
  void set_gateway_flags(std::vector<std::string> flags) {
    gateway_flags_ = std::move(flags);
  }
  // Ends the coordinator with `signal` (SIGKILL: a crash) and waits for it.
  void StopCoordinator(int signal);
  // Starts it again on the same port, journal and checkpoint directory.
  absl::Status StartCoordinator();
  Process& coordinator_process() { return *coordinator_process_; }
  std::string journal_path() const { return dir_ + "/journal.sqlite"; }
  std::string checkpoint_dir() const { return dir_ + "/checkpoints"; }
  // The coordinator's --results_root: jobs' results files (docs/results.md).
  std::string results_root() const { return dir_ + "/results"; }

  const std::string& gateway() const { return gateway_; }
  // The coordinator's JobService and workers' ports, "127.0.0.1:PORT".
  const std::string& coordinator() const { return coordinator_; }
  const std::string& worker_endpoint() const { return worker_endpoint_; }
  Process& worker(int i) { return *workers_[i]; }
  int workers() const { return static_cast<int>(workers_.size()); }
  std::unique_ptr<v1::JobService::Stub> GatewayStub() const;

  // The token Ctl and GetJob present (REPLEX_TOKEN), for a gateway with
  // --tokens_file; empty: none.
  void set_token(std::string token) { token_ = std::move(token); }
  // Runs `replexctl --gateway=... ARGS`; exit code and stdout+stderr.
  std::pair<int, std::string> Ctl(const std::string& args) const;
  // `replexctl submit YAML`; the job id (a test failure if it fails).
  std::string SubmitJob(const std::string& yaml) const;
  // GetJob through the gateway, with a 5 s deadline.
  absl::StatusOr<v1::Job> GetJob(const std::string& id) const;
  // Polls GetJob until `done(job)`; on timeout fails the test with every
  // log, naming `what` it waited for, and returns the last job seen.
  v1::Job WaitForJob(const std::string& id,
                     const std::function<bool(const v1::Job&)>& done,
                     const std::string& what, absl::Duration timeout) const;
  // The Prometheus /metrics port of "coordinator" (its latest start),
  // "gateway" or "worker-I": every process serves metrics on a port of its
  // own chosen by the OS. Waits up to 30 s for the process to bind it.
  absl::StatusOr<int> MetricsPort(const std::string& process) const;
  // Every process's log, for failure messages.
  std::string Logs() const;
  const std::string& dir() const { return dir_; }

 private:
  absl::StatusOr<std::string> StartServer(const std::string& name,
                                          std::vector<std::string> argv,
                                          std::unique_ptr<Process>& process);
  std::string dir_;
  std::string coordinator_, worker_endpoint_, gateway_;
  std::unique_ptr<Process> coordinator_process_, gateway_process_;
  std::vector<std::unique_ptr<Process>> workers_;
  std::vector<std::string> coordinator_flags_;
  std::vector<std::string> gateway_flags_;
  std::string token_;
  int coordinator_starts_ = 0;
  std::string stopped_logs_;  // of coordinators stopped before
  // --metrics_port_file of each process by the name MetricsPort takes.
  std::map<std::string, std::string> metrics_port_files_;
  // Adds --metrics_listen on port 0 and its port file for `process`.
  void AddMetricsFlags(const std::string& process, const std::string& file,
                       std::vector<std::string>& argv);
};

// Waits up to 20 s for `text` in `process`'s log; false if it never came.
bool WaitForLog(const Process& process, const std::string& text);

// The job id in the output of `replexctl submit` (stdout and stderr).
std::string JobIdOf(const std::string& submit_output);

// Writes a job YAML into `dir` using the harmonic-oscillator example's
// System and State: `temperatures` is the YAML of the temperature key (e.g.
// "temperature_range_k: {min: 300, max: 600}"), plus n_rungs and exchange.
std::string WriteHarmonicJob(const std::string& dir, const std::string& name,
                             int n_rungs, int steps, int rounds,
                             uint64_t seed = 11);

}  // namespace replex::testing
