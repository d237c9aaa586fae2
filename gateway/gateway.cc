#include "gateway/gateway.h"

#include <algorithm>
#include <climits>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "lib/spec/spec.h"
#include "lib/text/utf8.h"

namespace replex::gateway {
namespace {

std::string Mebibytes(int64_t bytes) {
  return absl::StrFormat("%.1f MiB", static_cast<double>(bytes) / (1 << 20));
}

bool IsJobIdChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' ||
         c == '_' || c == '.';
}

absl::Status CheckStates(const v1::ListJobsRequest& request) {
  for (int i = 0; i < request.states_size(); ++i) {
    const int state = request.states(i);
    if (state == v1::JOB_STATE_UNSPECIFIED || !v1::JobState_IsValid(state)) {
      std::vector<std::string> names;
      for (int s = v1::QUEUED; s <= v1::JobState_MAX; ++s) {
        names.push_back(v1::JobState_Name(static_cast<v1::JobState>(s)));
      }
      return absl::InvalidArgumentError(absl::StrCat(
          "states[", i, "]: ", state, " is not a job state; use ",
          absl::StrJoin(names, ", "), ", or no states for every job"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckJobId(absl::string_view job_id) {
  const std::string what =
      absl::StrCat("a job id is 1 to ", kMaxJobIdLength,
                   " letters, digits, '-', '_' or '.', as printed by SubmitJob "
                   "(`replexctl submit`) and listed by ListJobs");
  if (job_id.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("job_id: empty; ", what));
  }
  if (job_id.size() > kMaxJobIdLength ||
      !std::all_of(job_id.begin(), job_id.end(), IsJobIdChar)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "job_id: ", text::Shown(job_id), " is not a job id; ", what));
  }
  return absl::OkStatus();
}

int ServerReceiveLimit(int64_t max_message_bytes) {
  return static_cast<int>(std::min<int64_t>(
      INT_MAX, max_message_bytes +
                   std::max<int64_t>(max_message_bytes / 4, int64_t{1} << 20)));
}

Gateway::Gateway(client::JobsClient* jobs, GatewayOptions options)
    : jobs_(jobs), options_(options) {}

absl::Status Gateway::CheckSize(const v1::SubmitJobRequest& request) const {
  const int64_t size = static_cast<int64_t>(request.ByteSizeLong());
  if (size <= options_.max_message_bytes) return absl::OkStatus();
  const v1::JobSpec& spec = request.spec();
  const int64_t coordinates =
      static_cast<int64_t>(spec.state_xml().size() + spec.pdb().size());
  return absl::ResourceExhaustedError(absl::StrCat(
      "the job is ", Mebibytes(size), " (System XML ",
      Mebibytes(spec.system_xml().size()), ", coordinates ",
      Mebibytes(coordinates), "), over this gateway's limit of ",
      Mebibytes(options_.max_message_bytes), " (", options_.max_message_bytes,
      " bytes); start replex-gateway with a larger --max_message_bytes, and "
      "give replex-coordinator at least the same"));
}

absl::StatusOr<v1::SubmitJobResponse> Gateway::SubmitJob(
    const service::Identity& caller, const v1::SubmitJobRequest& request) {
  // Size first: it is cheap and says the most useful thing about a huge job.
  if (absl::Status status = CheckSize(request); !status.ok()) return status;
  v1::SubmitJobRequest forwarded = request;
  spec::ApplyDefaults(*forwarded.mutable_spec());
  if (absl::Status status = spec::Validate(forwarded.spec()); !status.ok()) {
    return status;
  }
  return jobs_->ActingFor(caller)->SubmitJob(forwarded);
}

absl::StatusOr<v1::Job> Gateway::GetJob(const service::Identity& caller,
                                        const v1::GetJobRequest& request) {
  if (absl::Status status = CheckJobId(request.job_id()); !status.ok()) {
    return status;
  }
  return jobs_->ActingFor(caller)->GetJob(request);
}

absl::StatusOr<v1::ListJobsResponse> Gateway::ListJobs(
    const service::Identity& caller, const v1::ListJobsRequest& request) {
  if (absl::Status status = CheckStates(request); !status.ok()) return status;
  return jobs_->ActingFor(caller)->ListJobs(request);
}

absl::StatusOr<v1::Job> Gateway::CancelJob(
    const service::Identity& caller, const v1::CancelJobRequest& request) {
  if (absl::Status status = CheckJobId(request.job_id()); !status.ok()) {
    return status;
  }
  return jobs_->ActingFor(caller)->CancelJob(request);
}

absl::StatusOr<v1::Job> Gateway::ExtendJob(
    const service::Identity& caller, const v1::ExtendJobRequest& request) {
  if (absl::Status status = CheckJobId(request.job_id()); !status.ok()) {
    return status;
  }
  return jobs_->ActingFor(caller)->ExtendJob(request);
}

absl::Status Gateway::WatchJob(const service::Identity& caller,
                               const v1::WatchJobRequest& request,
                               client::StopSignal& stop,
                               const client::JobEventCallback& on_event) {
  if (absl::Status status = CheckJobId(request.job_id()); !status.ok()) {
    return status;
  }
  return jobs_->ActingFor(caller)->WatchJob(request, stop, on_event);
}

absl::Status Gateway::DownloadResults(
    const service::Identity& caller, const v1::DownloadResultsRequest& request,
    const client::ResultsChunkCallback& on_chunk) {
  if (absl::Status status = CheckJobId(request.job_id()); !status.ok()) {
    return status;
  }
  return jobs_->ActingFor(caller)->DownloadResults(request, on_chunk);
}

}  // namespace replex::gateway
