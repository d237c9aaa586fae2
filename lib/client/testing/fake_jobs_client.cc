#include "lib/client/testing/fake_jobs_client.h"

#include "absl/strings/str_cat.h"

namespace replex::client {

void FakeJobsClient::PutJob(const v1::Job& job,
                            std::vector<v1::JobEvent> events, bool hold_open) {
  absl::MutexLock lock(&mu_);
  jobs_[job.job_id()] = Entry{job, std::move(events), hold_open};
}

void FakeJobsClient::FailWith(absl::Status status) {
  absl::MutexLock lock(&mu_);
  failure_ = std::move(status);
}

class FakeJobsClient::Acting final : public JobsClient {
 public:
  Acting(FakeJobsClient* fake, service::Identity caller)
      : fake_(fake), caller_(std::move(caller)) {}

  absl::StatusOr<v1::SubmitJobResponse> SubmitJob(
      const v1::SubmitJobRequest& request) override {
    fake_->RecordCaller(caller_);
    return fake_->SubmitJob(request);
  }
  absl::StatusOr<v1::Job> GetJob(const v1::GetJobRequest& request) override {
    fake_->RecordCaller(caller_);
    return fake_->GetJob(request);
  }
  absl::StatusOr<v1::ListJobsResponse> ListJobs(
      const v1::ListJobsRequest& request) override {
    fake_->RecordCaller(caller_);
    return fake_->ListJobs(request);
  }
  absl::StatusOr<v1::Job> CancelJob(
      const v1::CancelJobRequest& request) override {
    fake_->RecordCaller(caller_);
    return fake_->CancelJob(request);
  }
  absl::StatusOr<v1::Job> ExtendJob(
      const v1::ExtendJobRequest& request) override {
    fake_->RecordCaller(caller_);
    return fake_->ExtendJob(request);
  }
  absl::Status WatchJob(const v1::WatchJobRequest& request, StopSignal& stop,
                        const JobEventCallback& on_event) override {
    fake_->RecordCaller(caller_);
    return fake_->WatchJob(request, stop, on_event);
  }
  absl::Status DownloadResults(const v1::DownloadResultsRequest& request,
                               const ResultsChunkCallback& on_chunk) override {
    fake_->RecordCaller(caller_);
    return fake_->DownloadResults(request, on_chunk);
  }
  std::unique_ptr<JobsClient> ActingFor(
      const service::Identity& caller) override {
    return fake_->ActingFor(caller);
  }

 private:
  FakeJobsClient* const fake_;
  const service::Identity caller_;
};

std::unique_ptr<JobsClient> FakeJobsClient::ActingFor(
    const service::Identity& caller) {
  return std::make_unique<Acting>(this, caller);
}

void FakeJobsClient::RecordCaller(const service::Identity& caller) {
  absl::MutexLock lock(&mu_);
  callers_.push_back(caller.admin && !caller.anyone()
                         ? absl::StrCat(caller.user, "+admin")
                         : caller.user);
}

std::vector<std::string> FakeJobsClient::callers() const {
  absl::MutexLock lock(&mu_);
  return callers_;
}

std::vector<v1::SubmitJobRequest> FakeJobsClient::submitted() const {
  absl::MutexLock lock(&mu_);
  return submitted_;
}

bool FakeJobsClient::WaitForWatchStopped(const std::string& job_id,
                                         absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto stopped = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return watches_stopped_[job_id] > 0;
  };
  return mu_.AwaitWithTimeout(absl::Condition(&stopped), timeout);
}

absl::StatusOr<FakeJobsClient::Entry> FakeJobsClient::Find(
    const std::string& job_id) const {
  if (!failure_.ok()) return failure_;
  auto it = jobs_.find(job_id);
  if (it == jobs_.end()) {
    return absl::NotFoundError(absl::StrCat("no job with id ", job_id));
  }
  return it->second;
}

absl::StatusOr<v1::SubmitJobResponse> FakeJobsClient::SubmitJob(
    const v1::SubmitJobRequest& request) {
  absl::MutexLock lock(&mu_);
  if (!failure_.ok()) return failure_;
  submitted_.push_back(request);
  v1::Job job;
  job.set_job_id(absl::StrCat("job-", submitted_.size()));
  job.set_state(v1::QUEUED);
  job.set_name(request.spec().name());
  jobs_[job.job_id()] = Entry{job, {}, false};
  v1::SubmitJobResponse response;
  response.set_job_id(job.job_id());
  return response;
}

absl::StatusOr<v1::Job> FakeJobsClient::GetJob(
    const v1::GetJobRequest& request) {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<Entry> entry = Find(request.job_id());
  if (!entry.ok()) return entry.status();
  return entry->job;
}

absl::StatusOr<v1::ListJobsResponse> FakeJobsClient::ListJobs(
    const v1::ListJobsRequest& request) {
  absl::MutexLock lock(&mu_);
  if (!failure_.ok()) return failure_;
  v1::ListJobsResponse response;
  for (const auto& [id, entry] : jobs_) {
    bool wanted = request.states().empty();
    for (int state : request.states()) wanted |= entry.job.state() == state;
    if (wanted) *response.add_jobs() = entry.job;
  }
  return response;
}

absl::StatusOr<v1::Job> FakeJobsClient::CancelJob(
    const v1::CancelJobRequest& request) {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<Entry> entry = Find(request.job_id());
  if (!entry.ok()) return entry.status();
  v1::Job& job = jobs_[request.job_id()].job;
  job.set_state(v1::CANCELLED);
  return job;
}

absl::StatusOr<v1::Job> FakeJobsClient::ExtendJob(
    const v1::ExtendJobRequest& request) {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<Entry> entry = Find(request.job_id());
  if (!entry.ok()) return entry.status();
  v1::Job& job = jobs_[request.job_id()].job;
  job.set_n_rounds(job.n_rounds() + request.rounds());
  job.set_state(v1::QUEUED);
  return job;
}

absl::Status FakeJobsClient::WatchJob(const v1::WatchJobRequest& request,
                                      StopSignal& stop,
                                      const JobEventCallback& on_event) {
  absl::StatusOr<Entry> entry;
  {
    absl::MutexLock lock(&mu_);
    entry = Find(request.job_id());
  }
  if (!entry.ok()) return entry.status();
  for (const v1::JobEvent& event : entry->events) {
    if (stop.stopped()) return stop.reason();
    if (!on_event(event)) return absl::CancelledError("watch ended early");
  }
  if (!entry->hold_open) return absl::OkStatus();
  stop.WaitForStop(absl::InfiniteDuration());
  absl::MutexLock lock(&mu_);
  ++watches_stopped_[request.job_id()];
  return stop.reason();
}

}  // namespace replex::client
