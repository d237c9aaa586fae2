#include "tests/cluster.h"

#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "tests/test_paths.h"

namespace replex::testing {

LocalCluster::LocalCluster(const std::string& name)
    : dir_((std::filesystem::path(::testing::TempDir()) / ("cluster-" + name))
               .string()) {
  std::filesystem::remove_all(dir_);
  std::filesystem::create_directories(dir_);
}

LocalCluster::~LocalCluster() {
  // Workers first, so they drain while the coordinator still answers.
  std::vector<Process*> order;
  for (auto& worker : workers_) order.push_back(worker.get());
  order.push_back(gateway_process_.get());
  order.push_back(coordinator_process_.get());
  for (Process* process : order) {
    if (process != nullptr) process->Signal(SIGTERM);
  }
  for (Process* process : order) {
    if (process != nullptr && process->Wait(absl::Seconds(15)) < 0) {
      process->Signal(SIGKILL);
    }
  }
}

absl::StatusOr<std::string> LocalCluster::StartServer(
    const std::string& name, std::vector<std::string> argv,
    std::unique_ptr<Process>& process) {
  AddMetricsFlags(absl::StartsWith(name, "coordinator") ? "coordinator" : name,
                  name, argv);
  // The last --listen wins: a restart passes the port it had.
  argv.insert(argv.begin() + 1, "--listen=127.0.0.1:0");
  return testing::StartServer(dir_, name, std::move(argv), process);
}

absl::Status LocalCluster::StartCoordinator() {
  std::vector<std::string> argv = {REPLEX_COORDINATOR_BIN,
                                   "--heartbeat_interval=1s",
                                   "--shutdown_grace=2s",
                                   "--journal=" + journal_path(),
                                   "--checkpoint_dir=" + checkpoint_dir(),
                                   "--results_root=" + results_root()};
  argv.insert(argv.end(), coordinator_flags_.begin(), coordinator_flags_.end());
  const std::string name = absl::StrCat(
      "coordinator",
      coordinator_starts_ == 0 ? "" : absl::StrCat("-", coordinator_starts_));
  const std::string worker_port_file = dir_ + "/" + name + ".worker.port";
  argv.insert(argv.begin() + 1, "--worker_listen=127.0.0.1:0");
  argv.push_back("--worker_port_file=" + worker_port_file);
  // Later starts keep the ports, so that workers and the gateway reconnect.
  if (!worker_endpoint_.empty()) {
    argv.push_back("--worker_listen=" + worker_endpoint_);
  }
  if (!coordinator_.empty()) argv.push_back("--listen=" + coordinator_);
  absl::StatusOr<std::string> coordinator =
      StartServer(name, argv, coordinator_process_);
  ++coordinator_starts_;
  if (!coordinator.ok()) return coordinator.status();
  coordinator_ = *coordinator;
  // Written before the JobService port file that StartServer waited for.
  absl::StatusOr<std::string> worker_port =
      WaitForFile(worker_port_file, absl::Seconds(5));
  if (!worker_port.ok()) return worker_port.status();
  if (worker_endpoint_.empty()) {
    worker_endpoint_ = absl::StrCat("127.0.0.1:", *worker_port);
  }
  return absl::OkStatus();
}

void LocalCluster::StopCoordinator(int signal) {
  if (coordinator_process_ == nullptr) return;
  coordinator_process_->Signal(signal);
  coordinator_process_->Wait(absl::Seconds(20));
  // Keeps its log for Logs(); the Process object goes with the restart.
  stopped_logs_ += absl::StrCat("---- ", coordinator_process_->log_path(), "\n",
                                coordinator_process_->Log());
}

absl::Status LocalCluster::StartServices() {
  if (absl::Status started = StartCoordinator(); !started.ok()) return started;
  std::vector<std::string> argv = {REPLEX_GATEWAY_BIN,
                                   "--coordinator=" + coordinator_,
                                   "--shutdown_grace=2s"};
  argv.insert(argv.end(), gateway_flags_.begin(), gateway_flags_.end());
  absl::StatusOr<std::string> gateway =
      StartServer("gateway", argv, gateway_process_);
  if (!gateway.ok()) return gateway.status();
  gateway_ = *gateway;
  return absl::OkStatus();
}

absl::Status LocalCluster::AddWorker(const WorkerOptions& options) {
  const std::string name = absl::StrCat("worker-", workers_.size());
  std::vector<std::string> argv = options.prefix;
  for (const std::string& arg :
       {std::string(REPLEX_WORKER_BIN), "--coordinator=" + worker_endpoint_,
        "--name=" + name, "--platform=" + options.platform,
        absl::StrCat("--slots=", options.slots),
        absl::StrCat("--max_replicas=", options.max_replicas),
        std::string("--initial_backoff_ms=100"),
        std::string("--max_backoff_ms=1000"),
        std::string("--shutdown_grace=5s")}) {
    argv.push_back(arg);
  }
  AddMetricsFlags(name, name, argv);
  argv.insert(argv.end(), options.flags.begin(), options.flags.end());
  absl::StatusOr<std::unique_ptr<Process>> worker =
      Process::Start(argv, dir_ + "/" + name + ".log");
  if (!worker.ok()) return worker.status();
  workers_.push_back(*std::move(worker));
  return absl::OkStatus();
}

void LocalCluster::AddMetricsFlags(const std::string& process,
                                   const std::string& file,
                                   std::vector<std::string>& argv) {
  const std::string path = dir_ + "/" + file + ".metrics.port";
  std::filesystem::remove(path);
  metrics_port_files_[process] = path;
  argv.push_back("--metrics_listen=127.0.0.1:0");
  argv.push_back("--metrics_port_file=" + path);
}

absl::StatusOr<int> LocalCluster::MetricsPort(
    const std::string& process) const {
  auto it = metrics_port_files_.find(process);
  if (it == metrics_port_files_.end()) {
    return absl::NotFoundError(absl::StrCat("no process named ", process));
  }
  absl::StatusOr<std::string> port = WaitForFile(it->second, absl::Seconds(30));
  if (!port.ok()) return port.status();
  int value = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(*port), &value)) {
    return absl::InternalError(
        absl::StrCat(it->second, " holds no port: ", *port));
  }
  return value;
}

std::unique_ptr<v1::JobService::Stub> LocalCluster::GatewayStub() const {
  return v1::JobService::NewStub(
      grpc::CreateChannel(gateway_, grpc::InsecureChannelCredentials()));
}

std::pair<int, std::string> LocalCluster::Ctl(const std::string& args) const {
  return RunCommand(absl::StrCat("REPLEX_TOKEN=", token_, " ", REPLEXCTL_BIN,
                                 " --gateway=", gateway_, " ", args));
}

std::string JobIdOf(const std::string& submit_output) {
  // The id is alone on stdout's line; stderr (merged after it) may say why
  // the job is queued.
  return std::string(absl::StripAsciiWhitespace(
      submit_output.substr(0, submit_output.find('\n'))));
}

std::string LocalCluster::SubmitJob(const std::string& yaml) const {
  const auto [code, output] = Ctl("submit " + yaml);
  EXPECT_EQ(code, 0) << output;
  return JobIdOf(output);
}

absl::StatusOr<v1::Job> LocalCluster::GetJob(const std::string& id) const {
  v1::GetJobRequest request;
  request.set_job_id(id);
  v1::Job job;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(5));
  if (!token_.empty()) context.AddMetadata("authorization", "Bearer " + token_);
  const grpc::Status status = GatewayStub()->GetJob(&context, request, &job);
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                        status.error_message());
  }
  return job;
}

v1::Job LocalCluster::WaitForJob(
    const std::string& id, const std::function<bool(const v1::Job&)>& done,
    const std::string& what, absl::Duration timeout) const {
  const absl::Time deadline = absl::Now() + timeout;
  absl::StatusOr<v1::Job> job;
  while (absl::Now() < deadline) {
    job = GetJob(id);
    if (job.ok() && done(*job)) return *job;
    absl::SleepFor(absl::Milliseconds(5));
  }
  ADD_FAILURE() << "timed out waiting for job " << id << " to be " << what
                << "; last: "
                << (job.ok() ? job->ShortDebugString()
                             : job.status().ToString())
                << "\n"
                << Logs();
  return job.ok() ? *job : v1::Job();
}

std::string LocalCluster::Logs() const {
  std::string logs = stopped_logs_;
  auto add = [&](const Process* process) {
    if (process == nullptr) return;
    absl::StrAppend(&logs, "---- ", process->log_path(), "\n", process->Log());
  };
  add(coordinator_process_.get());
  add(gateway_process_.get());
  for (const auto& worker : workers_) add(worker.get());
  return logs;
}

bool WaitForLog(const Process& process, const std::string& text) {
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (!absl::StrContains(process.Log(), text)) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return true;
}

std::string WriteHarmonicJob(const std::string& dir, const std::string& name,
                             int n_rungs, int steps, int rounds,
                             uint64_t seed) {
  const std::string example = SourcePath("examples/harmonic-oscillator");
  const std::string path = dir + "/" + name + ".yaml";
  std::ofstream(path) << absl::StrCat(
      "name: ", name, "\nowner: tests\nsystem: ", example,
      "/system.xml\ncoordinates: ", example,
      "/state.xml\nplatform: Reference\nseed: ", seed,
      "\nintegrator: {timestep_ps: 0.002, friction_per_ps: 20}\n",
      "ladder:\n  n_rungs: ", n_rungs,
      "\n  temperature_range_k: {min: 300, max: 600}\n",
      "exchange: {steps_per_exchange: ", steps, ", n_rounds: ", rounds, "}\n");
  return path;
}

}  // namespace replex::testing
