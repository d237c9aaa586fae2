#include "coordinator/coordinator_server.h"

#include <chrono>
#include <filesystem>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "lib/service/process.h"
#include "lib/service/server.h"

namespace replex::coordinator {

absl::StatusOr<std::unique_ptr<CoordinatorServer>> CoordinatorServer::Start(
    const CoordinatorServerOptions& options) {
  if (options.journal == nullptr) {
    return absl::InvalidArgumentError("the coordinator needs a journal");
  }
  std::unique_ptr<CoordinatorServer> server(new CoordinatorServer());
  absl::StatusOr<int64_t> incarnation = options.journal->NextIncarnation();
  if (!incarnation.ok()) return incarnation.status();
  server->incarnation_ = *incarnation;

  std::vector<JobObserver*> observers;
  WorkerRegistry::Options registry_options = options.registry;
  // Epochs of this incarnation exceed every epoch issued before.
  registry_options.epoch_base = *incarnation << 32;
  if (options.metrics != nullptr) {
    server->metrics_server_ = options.metrics;
    server->metrics_ = std::make_unique<CoordinatorMetrics>(
        options.metrics->registry(), options.clock);
    server->metrics_observer_ =
        std::make_unique<MetricsObserver>(server->metrics_.get());
    observers.push_back(server->metrics_observer_.get());
    registry_options.metrics = server->metrics_.get();
  }
  if (!options.results_root.empty()) {
    // Created now, so that an unwritable directory stops the start rather
    // than the first job.
    std::error_code error;
    std::filesystem::create_directories(options.results_root, error);
    if (error) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot create ", options.results_root, ": ",
                       error.message(), " (--results_root)"));
    }
    server->results_observer_ = std::make_unique<ResultsObserver>(
        options.results_root, options.max_results_bytes_per_owner);
    observers.push_back(server->results_observer_.get());
  }

  server->registry_ =
      std::make_unique<WorkerRegistry>(registry_options, options.clock);
  JobDurability durability;
  durability.journal = options.journal;
  durability.checkpoints = options.checkpoints;
  durability.max_replica_restarts = options.max_replica_restarts;
  durability.max_worker_losses = options.max_worker_losses;
  server->jobs_ = std::make_unique<JobManager>(
      server->registry_.get(), options.clock, options.job_id_seed,
      std::move(observers), durability, options.scheduling);
  if (absl::Status recovered = server->jobs_->Recover(); !recovered.ok()) {
    return recovered;
  }
  server->job_service_ = std::make_unique<JobServiceImpl>(
      server->jobs_.get(), server->results_observer_.get(),
      options.gateway_token, options.gateway_certificate_names);
  server->session_service_ = std::make_unique<SessionServiceImpl>(
      server->registry_.get(), options.worker_tokens,
      options.worker_certificate_names);

  service::ServerOptions server_options;
  server_options.address = options.address;
  server_options.max_message_bytes = options.max_message_bytes;
  server_options.credentials = options.credentials;
  if (options.metrics != nullptr) {
    server_options.metrics = &options.metrics->registry();
  }
  absl::StatusOr<service::RunningServer> running =
      service::StartServer(server_options, {server->job_service_.get()});
  if (!running.ok()) return running.status();
  server->server_ = std::move(running->server);
  server->port_ = running->port;
  server_options.address = options.worker_address;
  running =
      service::StartServer(server_options, {server->session_service_.get()});
  if (!running.ok()) {
    return absl::Status(
        running.status().code(),
        absl::StrCat(running.status().message(), " (the workers' port)"));
  }
  server->worker_server_ = std::move(running->server);
  server->worker_port_ = running->port;
  if (options.metrics != nullptr) {
    options.metrics->Add(ClusterGauges(server->registry_.get(),
                                       server->jobs_.get(), options.clock));
  }
  WorkerRegistry* registry = server->registry_.get();
  server->ticker_ = std::make_unique<timing::PeriodicTicker>(
      registry_options.heartbeat_interval, [registry] { registry->Tick(); });
  return server;
}

CoordinatorServer::~CoordinatorServer() { Shutdown(absl::Now()); }

void CoordinatorServer::Shutdown(absl::Time deadline) {
  if (std::exchange(shut_down_, true) || server_ == nullptr) return;
  ticker_.reset();
  // No scrape reads the jobs and workers below from here on.
  if (metrics_server_ != nullptr) metrics_server_->Stop();
  // Job threads and sessions end first so that the server's graceful
  // shutdown is not left waiting on streams that would never end. Jobs
  // first: they stop as interrupted (their states stay as they are), where
  // a registry shut down under them would fail their rounds.
  jobs_->Shutdown();
  registry_->Shutdown();
  for (grpc::Server* server : {worker_server_.get(), server_.get()}) {
    if (server == nullptr) continue;  // Start failed before it
    server->Shutdown(absl::ToChronoTime(deadline));
    server->Wait();
  }
}

}  // namespace replex::coordinator
