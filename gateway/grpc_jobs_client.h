// JobsClient over gRPC: the coordinator's JobService on one address.
#pragma once

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "gateway/jobs_client.h"
#include "grpcpp/channel.h"
#include "replex/v1/job_service.grpc.pb.h"

namespace replex::gateway {

struct GrpcJobsClientOptions {
  std::string address = "localhost:7070";  // the coordinator, host:port
  // Largest message sent or received; a SubmitJob carries the System XML.
  int max_message_bytes = 64 << 20;
  // Deadline of each unary call. Watches have none: they last as long as
  // their job.
  absl::Duration timeout = absl::Seconds(30);
};

// Thread-safe (one channel, shared by every call).
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
  absl::Status WatchJob(const v1::WatchJobRequest& request, StopSignal& stop,
                        const JobEventCallback& on_event) override;

 private:
  template <typename Request, typename Response>
  absl::StatusOr<Response> Call(
      grpc::Status (v1::JobService::Stub::*method)(grpc::ClientContext*,
                                                   const Request&, Response*),
      const Request& request);
  // The coordinator's status, except that failing to reach it says where it
  // was looked for.
  absl::Status FromCoordinator(const grpc::Status& status) const;

  const GrpcJobsClientOptions options_;
  std::unique_ptr<v1::JobService::Stub> stub_;
};

}  // namespace replex::gateway
