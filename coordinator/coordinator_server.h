// replex-coordinator's parts wired together as the binary runs them: the
// worker registry and the job manager over a journal and a checkpoint store,
// the results and metrics observers, and two gRPC servers: JobService (for
// the gateway) and the workers' Coordinator service, each on its own port so
// that a network policy, a firewall or TLS can keep each to its callers.
// main.cc and the tests both start it, so the tests run what ships.
#pragma once

#include <memory>
#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "coordinator/coordinator_metrics.h"
#include "coordinator/coordinator_service.h"
#include "coordinator/job_manager.h"
#include "coordinator/metrics_observer.h"
#include "coordinator/results_observer.h"
#include "coordinator/worker_registry.h"
#include "grpcpp/server.h"
#include "lib/metrics/metrics.h"
#include "lib/service/auth.h"
#include "lib/store/checkpoint_store.h"
#include "lib/store/journal.h"
#include "lib/timing/clock.h"

namespace replex::coordinator {

struct CoordinatorServerOptions {
  std::string address = "127.0.0.1:0";         // JobService; port 0 picks one
  std::string worker_address = "127.0.0.1:0";  // the workers' Coordinator
  int max_message_bytes = 64 << 20;
  // TLS (service::MakeServerCredentials) of both ports; null: plaintext.
  std::shared_ptr<grpc::ServerCredentials> credentials;
  // The token JobService callers must present (the gateway's); empty: any
  // caller acts on every job (see JobServiceImpl).
  std::string gateway_token;
  // Workers' tokens; null: any worker may register. Not owned; must
  // outlive the server.
  const service::Tokens* worker_tokens = nullptr;
  // Under mutual TLS, the client certificates' Common Names each port takes
  // (the gateways' for JobService, the workers' for theirs); empty: any
  // certificate the CA signed.
  std::set<std::string> gateway_certificate_names;
  std::set<std::string> worker_certificate_names;
  // Heartbeats; epoch_base and metrics are set by the server.
  WorkerRegistry::Options registry;
  // Not owned; must outlive the server. The journal is required; without a
  // checkpoint store a rollback goes back to round 0.
  store::Journal* journal = nullptr;
  store::CheckpointStore* checkpoints = nullptr;
  // Where jobs' results go (created); empty: none are written.
  std::string results_root;
  // Each owner's quota of results disk; 0: none (ResultsObserver).
  uint64_t max_results_bytes_per_owner = 0;
  int max_replica_restarts = 3;
  int max_worker_losses = 3;  // see JobDurability
  JobScheduling scheduling;
  uint64_t job_id_seed = 0;
  // Not owned; must outlive the server. Null: no metrics. Its scrapes of
  // the cluster's gauges stop at Shutdown.
  metrics::MetricsServer* metrics = nullptr;
  timing::Clock* clock = timing::Clock::Real();
};

// Thread-safe.
class CoordinatorServer {
 public:
  // Counts a new incarnation in the journal (so epochs issued now exceed
  // every earlier one), recovers its unfinished jobs, and serves.
  // FAILED_PRECONDITION naming the problem when the journal, the results
  // root or the address cannot be used.
  static absl::StatusOr<std::unique_ptr<CoordinatorServer>> Start(
      const CoordinatorServerOptions& options);
  // Shuts down at once if Shutdown was not called.
  ~CoordinatorServer();

  // Graceful stop: metrics scrapes end, job threads stop with their jobs'
  // states as they are (a coordinator restarted on the journal resumes
  // them), workers' sessions end, and calls in flight get until `deadline`.
  // Idempotent.
  void Shutdown(absl::Time deadline);

  int port() const { return port_; }                // JobService
  int worker_port() const { return worker_port_; }  // the workers' service
  int64_t incarnation() const { return incarnation_; }
  JobManager& jobs() { return *jobs_; }
  WorkerRegistry& registry() { return *registry_; }

 private:
  CoordinatorServer() = default;

  metrics::MetricsServer* metrics_server_ = nullptr;
  int64_t incarnation_ = 0;
  std::unique_ptr<CoordinatorMetrics> metrics_;
  std::unique_ptr<MetricsObserver> metrics_observer_;
  std::unique_ptr<ResultsObserver> results_observer_;
  std::unique_ptr<WorkerRegistry> registry_;
  std::unique_ptr<JobManager> jobs_;
  std::unique_ptr<JobServiceImpl> job_service_;
  std::unique_ptr<SessionServiceImpl> session_service_;
  // Declared after what they serve, so destroyed before it.
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<grpc::Server> worker_server_;
  std::unique_ptr<timing::PeriodicTicker> ticker_;
  int port_ = 0;
  int worker_port_ = 0;
  bool shut_down_ = false;
};

}  // namespace replex::coordinator
