// An in-memory JobsClient for tests: jobs are put in by the test, watches
// replay scripted events, and every request is recorded.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "lib/client/jobs_client.h"

namespace replex::client {

// Thread-safe.
class FakeJobsClient final : public JobsClient {
 public:
  // Adds or replaces a job; WatchJob on it replays `events` and then, if
  // `hold_open`, blocks until stopped (a job still running) instead of ending
  // OK.
  void PutJob(const v1::Job& job, std::vector<v1::JobEvent> events = {},
              bool hold_open = false);
  // Every call fails with `status` while it is not OK (e.g. UNAVAILABLE).
  void FailWith(absl::Status status);

  std::vector<v1::SubmitJobRequest> submitted() const;
  // The users of the calls made through ActingFor, in order ("" for
  // Identity::Anyone(), "NAME+admin" for an admin).
  std::vector<std::string> callers() const;
  // True once a held-open watch of `job_id` was stopped, waiting up to
  // `timeout` for it: how tests see that the upstream call was cancelled.
  bool WaitForWatchStopped(const std::string& job_id, absl::Duration timeout);

  absl::StatusOr<v1::SubmitJobResponse> SubmitJob(
      const v1::SubmitJobRequest& request) override;
  absl::StatusOr<v1::Job> GetJob(const v1::GetJobRequest& request) override;
  absl::StatusOr<v1::ListJobsResponse> ListJobs(
      const v1::ListJobsRequest& request) override;
  absl::StatusOr<v1::Job> CancelJob(
      const v1::CancelJobRequest& request) override;
  // Adds the rounds and queues the job again.
  absl::StatusOr<v1::Job> ExtendJob(
      const v1::ExtendJobRequest& request) override;
  absl::Status WatchJob(const v1::WatchJobRequest& request, StopSignal& stop,
                        const JobEventCallback& on_event) override;
  // A client recording `caller` in callers() at each call, then making it
  // on this fake.
  std::unique_ptr<JobsClient> ActingFor(
      const service::Identity& caller) override;

 private:
  class Acting;
  void RecordCaller(const service::Identity& caller);

  struct Entry {
    v1::Job job;
    std::vector<v1::JobEvent> events;
    bool hold_open = false;
  };
  absl::StatusOr<Entry> Find(const std::string& job_id) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  absl::Status failure_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Entry> jobs_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::SubmitJobRequest> submitted_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> callers_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int> watches_stopped_ ABSL_GUARDED_BY(mu_);
};

}  // namespace replex::client
