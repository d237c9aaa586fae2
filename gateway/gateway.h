// The gateway's logic, without gRPC: check each public JobService request
// (spec validation, message size, job id syntax) so bad input is refused with
// a message that says what to fix before it reaches the coordinator, then
// forward it through a JobsClient acting for the authenticated caller (the
// coordinator decides which jobs that caller may act on). Holds no job state,
// so any number of gateways can run side by side.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "lib/client/jobs_client.h"
#include "replex/v1/job_service.pb.h"

namespace replex::gateway {

// Job ids are what the coordinator hands out: 1 to kMaxJobIdLength letters,
// digits, '-', '_' or '.'. Anything else cannot name a job, so it is refused
// here with INVALID_ARGUMENT rather than looked up.
inline constexpr int kMaxJobIdLength = 128;
absl::Status CheckJobId(absl::string_view job_id);

struct GatewayOptions {
  // Largest SubmitJob request forwarded (the spec carries the System XML
  // inline); the server should accept somewhat more (ServerReceiveLimit) so
  // that Gateway::SubmitJob, not gRPC, explains an oversized request.
  int64_t max_message_bytes = int64_t{64} << 20;
};

// The receive limit for a server whose gateway forwards up to
// `max_message_bytes`: a quarter more, capped at what gRPC can take.
int ServerReceiveLimit(int64_t max_message_bytes);

// Thread-safe if its JobsClient is (JobsClient implementations must be).
class Gateway {
 public:
  // `jobs` is not owned and must outlive the gateway.
  Gateway(client::JobsClient* jobs, GatewayOptions options);

  // INVALID_ARGUMENT naming the spec field, RESOURCE_EXHAUSTED when the
  // request is over max_message_bytes; otherwise forwards the spec with its
  // defaults filled in (spec::ApplyDefaults), so the coordinator stores what
  // will run.
  absl::StatusOr<v1::SubmitJobResponse> SubmitJob(
      const service::Identity& caller, const v1::SubmitJobRequest& request);
  absl::StatusOr<v1::Job> GetJob(const service::Identity& caller,
                                 const v1::GetJobRequest& request);
  absl::StatusOr<v1::ListJobsResponse> ListJobs(
      const service::Identity& caller, const v1::ListJobsRequest& request);
  absl::StatusOr<v1::Job> CancelJob(const service::Identity& caller,
                                    const v1::CancelJobRequest& request);
  absl::StatusOr<v1::Job> ExtendJob(const service::Identity& caller,
                                    const v1::ExtendJobRequest& request);
  // As JobsClient::WatchJob, after checking the job id.
  absl::Status WatchJob(const service::Identity& caller,
                        const v1::WatchJobRequest& request,
                        client::StopSignal& stop,
                        const client::JobEventCallback& on_event);
  // As JobsClient::DownloadResults, after checking the job id (the
  // coordinator checks the path, which only it can resolve).
  absl::Status DownloadResults(const service::Identity& caller,
                               const v1::DownloadResultsRequest& request,
                               const client::ResultsChunkCallback& on_chunk);

 private:
  absl::Status CheckSize(const v1::SubmitJobRequest& request) const;

  client::JobsClient* const jobs_;
  const GatewayOptions options_;
};

}  // namespace replex::gateway
