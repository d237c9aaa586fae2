// replexctl's job commands: submit, list, status, cancel and extend, each one
// JobService call whose answer is printed as a table or as JSON.
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "cli/replexctl_commands.h"
#include "cli/replexctl_format.h"
#include "lib/client/jobs_client.h"
#include "lib/spec/spec.h"
#include "replex/v1/job_service.pb.h"

namespace replex::cli {
namespace {

std::string LoginName() {
  for (const char* variable : {"USER", "LOGNAME"}) {
    const char* value = std::getenv(variable);
    if (value != nullptr && *value != '\0') return value;
  }
  const passwd* entry = getpwuid(getuid());
  return entry != nullptr ? entry->pw_name : "";
}

}  // namespace

namespace {

// The job file at `path` as SubmitJob's request: validated, with the files
// it names read in and the owner defaulting to the login name.
absl::StatusOr<v1::SubmitJobRequest> SubmitRequest(const std::string& path) {
  absl::StatusOr<v1::JobSpec> spec = spec::LoadYamlFile(path);
  // Problems inside the file name its field; say which file. Unreadable
  // files are named already.
  if (spec.status().code() == absl::StatusCode::kInvalidArgument) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", spec.status().message()));
  }
  if (!spec.ok()) return spec.status();
  if (spec->owner().empty()) spec->set_owner(LoginName());
  if (const std::string platform = absl::GetFlag(FLAGS_platform);
      !platform.empty()) {
    spec->set_platform(platform);
    if (absl::Status valid = spec::Validate(*spec); !valid.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--platform=", platform, ": ", valid.message()));
    }
  }
  v1::SubmitJobRequest request;
  *request.mutable_spec() = *std::move(spec);
  return request;
}

}  // namespace

absl::Status PrintSubmitRequest(const std::string& path) {
  absl::StatusOr<v1::SubmitJobRequest> request = SubmitRequest(path);
  if (!request.ok()) return request.status();
  return PrintJson(*request);
}

absl::Status Submit(client::JobsClient& client, const std::string& path) {
  absl::StatusOr<v1::SubmitJobRequest> request = SubmitRequest(path);
  if (!request.ok()) return request.status();
  absl::StatusOr<v1::SubmitJobResponse> response = client.SubmitJob(*request);
  if (!response.ok()) {
    // Past the gateway's receive limit gRPC itself refuses, without naming
    // the flag that raises it.
    if (response.status().code() == absl::StatusCode::kResourceExhausted &&
        !absl::StrContains(response.status().message(),
                           "--max_message_bytes")) {
      return absl::ResourceExhaustedError(absl::StrCat(
          response.status().message(),
          "; the gateway refuses jobs this large: start replex-gateway "
          "with a larger --max_message_bytes"));
    }
    return response.status();
  }
  if (absl::GetFlag(FLAGS_json)) return PrintJson(*response);
  std::printf("%s\n", response->job_id().c_str());
  std::fflush(stdout);
  // A job that cannot start now (no worker of its platform, no room) says
  // so at once, on stderr, so `id=$(replexctl submit ...)` still works.
  v1::GetJobRequest get;
  get.set_job_id(response->job_id());
  if (absl::StatusOr<v1::Job> job = client.GetJob(get);
      job.ok() && job->state() == v1::QUEUED && !job->queue_reason().empty()) {
    std::fprintf(stderr, "replexctl: job %s is queued: %s\n",
                 response->job_id().c_str(), job->queue_reason().c_str());
  }
  return absl::OkStatus();
}

absl::StatusOr<JobFilter> FilterFromFlags() {
  JobFilter filter;
  for (absl::string_view name :
       absl::StrSplit(absl::GetFlag(FLAGS_state), ',', absl::SkipEmpty())) {
    v1::JobState state;
    if (!v1::JobState_Parse(absl::AsciiStrToUpper(name), &state) ||
        state == v1::JOB_STATE_UNSPECIFIED) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--state: \"", name,
          "\" is not a job state; use queued, running, succeeded, failed or "
          "cancelled (comma-separated for several)"));
    }
    filter.states.push_back(state);
  }
  filter.owner = absl::GetFlag(FLAGS_owner);
  for (absl::string_view label :
       absl::StrSplit(absl::GetFlag(FLAGS_label), ',', absl::SkipEmpty())) {
    if (label.find('=') == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("--label: \"", label, "\" is not KEY=VALUE"));
    }
    filter.labels.emplace_back(label);
  }
  return filter;
}

absl::Status List(client::JobsClient& client, const JobFilter& filter) {
  v1::ListJobsRequest request;
  for (v1::JobState state : filter.states) request.add_states(state);
  absl::StatusOr<v1::ListJobsResponse> response = client.ListJobs(request);
  if (!response.ok()) return response.status();
  // Owner and labels are filtered here: the API lists by state only.
  auto unwanted = [&](const v1::Job& job) {
    if (!filter.owner.empty() && job.owner() != filter.owner) return true;
    for (const std::string& label : filter.labels) {
      const size_t eq = label.find('=');
      auto it = job.labels().find(label.substr(0, eq));
      if (it == job.labels().end() || it->second != label.substr(eq + 1)) {
        return true;
      }
    }
    return false;
  };
  auto& jobs = *response->mutable_jobs();
  jobs.erase(std::remove_if(jobs.begin(), jobs.end(), unwanted), jobs.end());
  if (absl::GetFlag(FLAGS_json)) return PrintJson(*response);
  if (jobs.empty()) {
    std::printf("no jobs\n");
    return absl::OkStatus();
  }
  std::printf("%s", JobsTable({jobs.begin(), jobs.end()}, absl::Now()).c_str());
  return absl::OkStatus();
}

absl::StatusOr<int> Status(client::JobsClient& client, const std::string& id) {
  v1::GetJobRequest request;
  request.set_job_id(id);
  absl::StatusOr<v1::Job> job = client.GetJob(request);
  if (!job.ok()) return job.status();
  if (absl::GetFlag(FLAGS_json)) {
    if (absl::Status printed = PrintJson(*job); !printed.ok()) return printed;
  } else {
    std::printf("%s", JobDetail(*job, absl::Now()).c_str());
  }
  // Scripts can branch on the outcome without parsing the text.
  switch (job->state()) {
    case v1::FAILED:
      return kExitFailed;
    case v1::CANCELLED:
      return kExitCancelled;
    default:
      return 0;
  }
}

absl::Status Cancel(client::JobsClient& client, const std::string& id) {
  v1::CancelJobRequest request;
  request.set_job_id(id);
  absl::StatusOr<v1::Job> job = client.CancelJob(request);
  if (!job.ok()) return job.status();
  if (absl::GetFlag(FLAGS_json)) return PrintJson(*job);
  std::printf("job %s: %s\n", id.c_str(), StateName(job->state()).c_str());
  return absl::OkStatus();
}

absl::Status Extend(client::JobsClient& client, const std::string& id,
                    int64_t rounds) {
  v1::ExtendJobRequest request;
  request.set_job_id(id);
  request.set_rounds(rounds);
  absl::StatusOr<v1::Job> job = client.ExtendJob(request);
  if (!job.ok()) return job.status();
  if (absl::GetFlag(FLAGS_json)) return PrintJson(*job);
  std::printf(
      "job %s: %s again, %lld rounds in all; it resumes from its last "
      "checkpoint\n",
      id.c_str(), StateName(job->state()).c_str(),
      static_cast<long long>(job->n_rounds()));
  return absl::OkStatus();
}

}  // namespace replex::cli
