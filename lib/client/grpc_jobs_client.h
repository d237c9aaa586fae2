// JobsClient over gRPC: a JobService (the coordinator's, or a gateway's) on
// one address.
#pragma once

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "lib/client/jobs_client.h"
#include "lib/service/tls.h"
#include "replex/v1/job_service.grpc.pb.h"

namespace replex::client {

struct GrpcJobsClientOptions {
  std::string address = "localhost:7070";  // host:port
  // What serves `address`, for error messages: "coordinator at ADDR is
  // unreachable: ...".
  std::string peer = "coordinator";
  // Appended to that message: what to do about it.
  std::string unreachable_hint;
  // A SubmitJob carries the System XML. -1 is no limit (a client may leave
  // refusing an oversized job to the server, which says what its limit is).
  int max_send_bytes = 64 << 20;
  int max_receive_bytes = 64 << 20;
  // The longest wait between attempts to reconnect to a peer that is down.
  absl::Duration max_reconnect_backoff = absl::Seconds(5);
  // Deadline of each unary call. Watches have none: they last as long as
  // their job.
  absl::Duration timeout = absl::Seconds(30);
  // TLS (service::MakeChannelSecurity); plaintext by default.
  service::ChannelSecurity security;
  // Sent as "authorization: Bearer TOKEN" on every call when set: a user's
  // token to a gateway, the gateway's to the coordinator.
  std::string token;
};

// A JobService client: the gateway's to the coordinator, and replexctl's to
// a gateway. Thread-safe (one channel, shared by every call).
class GrpcJobsClient final : public JobsClient {
 public:
  explicit GrpcJobsClient(GrpcJobsClientOptions options);

  absl::StatusOr<v1::SubmitJobResponse> SubmitJob(
      const v1::SubmitJobRequest& request) override;
  absl::StatusOr<v1::Job> GetJob(const v1::GetJobRequest& request) override;
  absl::StatusOr<v1::ListJobsResponse> ListJobs(
      const v1::ListJobsRequest& request) override;
  absl::StatusOr<v1::Job> CancelJob(
      const v1::CancelJobRequest& request) override;
  absl::StatusOr<v1::Job> ExtendJob(
      const v1::ExtendJobRequest& request) override;
  absl::Status DownloadResults(const v1::DownloadResultsRequest& request,
                               const ResultsChunkCallback& on_chunk) override;
  absl::Status WatchJob(const v1::WatchJobRequest& request, StopSignal& stop,
                        const JobEventCallback& on_event) override;
  std::unique_ptr<JobsClient> ActingFor(
      const service::Identity& caller) override;

 private:
  struct Connection {
    GrpcJobsClientOptions options;
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<v1::JobService::Stub> stub;
  };
  GrpcJobsClient(std::shared_ptr<const Connection> connection,
                 const service::Identity& caller);

  // A context with the token and the caller's identity.
  void Prepare(grpc::ClientContext& context) const;
  template <typename Request, typename Response>
  absl::StatusOr<Response> Call(
      grpc::Status (v1::JobService::Stub::*method)(grpc::ClientContext*,
                                                   const Request&, Response*),
      const Request& request);
  // The peer's status, except that failing to reach the peer says where it
  // was looked for. An UNAVAILABLE the peer itself sent (it is connected)
  // passes through, e.g. a gateway's "coordinator at ... is unreachable".
  absl::Status FromPeer(const grpc::Status& status) const;

  std::shared_ptr<const Connection> connection_;
  const GrpcJobsClientOptions& options_;
  v1::JobService::Stub& stub_;
  const service::Identity caller_;
};

}  // namespace replex::client
