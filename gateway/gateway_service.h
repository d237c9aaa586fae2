// The public replex.v1.JobService as a gRPC service: the thin adapter between
// gRPC and Gateway. Unary methods run on gRPC's synchronous thread pool, where
// blocking on the coordinator is expected. WatchJob is a callback reactor so
// that a client going away is noticed at once (OnCancel) and the upstream
// watch is cancelled then, not whenever the job's next event would arrive.
#pragma once

#include <set>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "gateway/gateway.h"
#include "grpcpp/support/server_callback.h"
#include "lib/client/jobs_client.h"
#include "replex/v1/job_service.grpc.pb.h"

namespace replex::gateway {

struct GatewayServiceOptions {
  // Each watch holds one thread blocked on the coordinator's stream; past
  // this many, WatchJob answers RESOURCE_EXHAUSTED instead of exhausting the
  // process's threads.
  int max_watches = 1024;
  // The users' tokens (--tokens_file): every call must carry one of them.
  // Null: authentication off, every caller acts on every job. Not owned.
  const service::Tokens* tokens = nullptr;
  // Users' JSON Web Tokens (--jwt_key_file): a bearer token in JWT form is
  // verified with it instead of looked up in `tokens`. Null: none. Not
  // owned.
  const service::JwtVerifier* jwt = nullptr;
  // Under mutual TLS: a caller that sends no token is the user its verified
  // client certificate names (Common Name), an admin when listed in
  // `certificate_admins`.
  bool certificate_users = false;
  std::set<std::string> certificate_admins;
};

// Thread-safe.
class GatewayService final : public v1::JobService::WithCallbackMethod_WatchJob<
                                 v1::JobService::Service> {
 public:
  // `gateway` is not owned and must outlive the service.
  explicit GatewayService(Gateway* gateway, GatewayServiceOptions options = {});
  // Waits for the threads of watches still ending; destroy the server (or
  // shut it down) first so that no new watch starts.
  ~GatewayService() override;

  // Ends every watch with UNAVAILABLE (clients should watch again, through
  // another gateway) and refuses new ones, so watchers reconnect at once
  // instead of being cut off at the server's shutdown deadline. Call before
  // grpc::Server::Shutdown.
  void BeginShutdown();

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
  grpc::Status DownloadResults(
      grpc::ServerContext* context, const v1::DownloadResultsRequest* request,
      grpc::ServerWriter<v1::ResultsChunk>* writer) override;
  grpc::ServerWriteReactor<v1::JobEvent>* WatchJob(
      grpc::CallbackServerContext* context,
      const v1::WatchJobRequest* request) override;

 private:
  class WatchReactor;

  // Who made the call (GatewayServiceOptions::tokens); UNAUTHENTICATED
  // saying how to send a token.
  absl::StatusOr<service::Identity> Caller(
      const grpc::ServerContextBase& context) const;

  // Registers a starting watch so BeginShutdown can stop it; RESOURCE_EXHAUSTED
  // at max_watches, UNAVAILABLE once shutting down.
  absl::Status AddWatch(client::StopSignal* stop);
  void RemoveWatch(client::StopSignal* stop);

  Gateway* const gateway_;
  const GatewayServiceOptions options_;
  absl::Mutex mu_;
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
  // The stop signals of watches whose upstream thread is running.
  std::set<client::StopSignal*> watches_ ABSL_GUARDED_BY(mu_);
};

}  // namespace replex::gateway
