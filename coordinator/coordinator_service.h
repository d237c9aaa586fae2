// The coordinator's gRPC edge: thin adapters from replex.v1.JobService and
// replex.v1.Coordinator to the JobManager and the WorkerRegistry, which hold
// all the logic. Only status conversion and stream plumbing live here.
#pragma once

#include <functional>
#include <set>
#include <string>
#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "coordinator/job_manager.h"
#include "coordinator/results_observer.h"
#include "coordinator/worker_registry.h"
#include "grpcpp/grpcpp.h"
#include "lib/service/auth.h"
#include "replex/v1/job_service.grpc.pb.h"
#include "replex/v1/worker.grpc.pb.h"

namespace replex::coordinator {

// The public job API, served by the coordinator (the gateway forwards to
// it). With a gateway token, only callers presenting it are answered, each
// call for the user the gateway names (service::ForwardedIdentity): a job's
// owner is that user, and users act on their own jobs only. Without one,
// every caller acts on every job. Thread-safe.
class JobServiceImpl final : public v1::JobService::WithCallbackMethod_WatchJob<
                                 v1::JobService::Service> {
 public:
  // `jobs` must outlive the service.
  // `results`, when given, serves DownloadResults; it must outlive the
  // service. `gateway_token`: see above; empty: none.
  // `gateway_certificates`: under mutual TLS, the client certificates'
  // Common Names taken (the gateways'); empty: any.
  explicit JobServiceImpl(JobManager* jobs,
                          const ResultsObserver* results = nullptr,
                          std::string gateway_token = "",
                          std::set<std::string> gateway_certificates = {})
      : jobs_(jobs),
        results_(results),
        gateway_token_(std::move(gateway_token)),
        gateway_certificates_(std::move(gateway_certificates)) {}

  grpc::Status SubmitJob(grpc::ServerContext* context,
                         const v1::SubmitJobRequest* request,
                         v1::SubmitJobResponse* response) override;
  grpc::Status GetJob(grpc::ServerContext* context,
                      const v1::GetJobRequest* request,
                      v1::Job* response) override;
  grpc::Status ListJobs(grpc::ServerContext* context,
                        const v1::ListJobsRequest* request,
                        v1::ListJobsResponse* response) override;
  grpc::Status CancelJob(grpc::ServerContext* context,
                         const v1::CancelJobRequest* request,
                         v1::Job* response) override;
  grpc::Status ExtendJob(grpc::ServerContext* context,
                         const v1::ExtendJobRequest* request,
                         v1::Job* response) override;
  // Ends with OK after the job's final snapshot, CANCELLED when the watcher
  // goes away. A reactor, not a thread per watch: each event is written when
  // the job manager publishes it, from that thread, and the next when gRPC
  // has sent the last (100 watch threads woken every round cost a third of
  // a fast job's rounds, docs/benchmarks.md).
  grpc::ServerWriteReactor<v1::JobEvent>* WatchJob(
      grpc::CallbackServerContext* context,
      const v1::WatchJobRequest* request) override;
  // Streams files of the job's results directory as they are on disk now
  // (a running job's files grow; each is sent up to its size when opened).
  grpc::Status DownloadResults(
      grpc::ServerContext* context, const v1::DownloadResultsRequest* request,
      grpc::ServerWriter<v1::ResultsChunk>* writer) override;

 private:
  // Who made the call; UNAUTHENTICATED when the gateway token is required
  // and missing.
  absl::StatusOr<service::Identity> Caller(
      const grpc::ServerContextBase& context) const;
  // The caller, when it may act on job `job_id`; NOT_FOUND for an unknown
  // job, PERMISSION_DENIED for another user's.
  absl::StatusOr<service::Identity> CallerOf(
      const grpc::ServerContextBase& context, const std::string& job_id) const;

  JobManager* const jobs_;
  const ResultsObserver* const results_;
  const std::string gateway_token_;
  const std::set<std::string> gateway_certificates_;
};

// Coordinator.Session: one stream per connected worker. The RPC thread reads
// and hands each message to the registry; a second thread writes what the
// registry queues for the worker. With worker tokens, a session must present
// one, and registers only under the name that token is for (any name for a
// "*" token). Thread-safe.
class SessionServiceImpl final : public v1::Coordinator::Service {
 public:
  // `registry` and `tokens` must outlive the service; null `tokens`: any
  // worker may register. `certificates`: under mutual TLS, the client
  // certificates' Common Names taken (the workers'); empty: any.
  explicit SessionServiceImpl(WorkerRegistry* registry,
                              const service::Tokens* tokens = nullptr,
                              std::set<std::string> certificates = {})
      : registry_(registry),
        tokens_(tokens),
        certificates_(std::move(certificates)) {}

  grpc::Status Session(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<v1::CoordinatorMessage, v1::WorkerMessage>*
          stream) override;

 private:
  // OK when the session's credentials allow registering as `worker_name`.
  absl::Status CheckWorker(const grpc::ServerContext& context,
                           const std::string& worker_name) const;

  WorkerRegistry* const registry_;
  const service::Tokens* const tokens_;
  const std::set<std::string> certificates_;
};

}  // namespace replex::coordinator
