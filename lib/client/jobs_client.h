// A JobService as its callers see it (the gateway's view of the coordinator,
// replexctl's of a gateway): the calls, returning absl::Status, so the
// gateway's logic is tested against a fake (testing/fake_jobs_client.h) and
// runs against GrpcJobsClient (grpc_jobs_client.h) in production.
#pragma once

#include <functional>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "lib/service/auth.h"
#include "replex/v1/job_service.pb.h"

namespace replex::client {

// Lets one thread end a blocking call (a WatchJob) running on another, and
// says why it was ended. Thread-safe.
class StopSignal {
 public:
  // Ends the call with `reason` (the first reason wins): runs the registered
  // interrupt, if any. Idempotent.
  void Stop(absl::Status reason);
  bool stopped() const;
  // Why Stop was called; OK while not stopped.
  absl::Status reason() const;
  // Blocks until stopped or `timeout` passes; true when stopped. For fakes and
  // tests that wait on a call being ended.
  bool WaitForStop(absl::Duration timeout) const;

  // A blocking call registers how to interrupt itself (e.g. cancel its RPC)
  // for as long as the returned guard lives; runs `interrupt` at once when
  // already stopped. One interrupt at a time.
  class [[nodiscard]] Interrupt {
   public:
    Interrupt(StopSignal& signal, std::function<void()> interrupt);
    ~Interrupt();
    Interrupt(const Interrupt&) = delete;
    Interrupt& operator=(const Interrupt&) = delete;

   private:
    StopSignal& signal_;
  };

 private:
  mutable absl::Mutex mu_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status reason_ ABSL_GUARDED_BY(mu_);
  // Runs under mu_, so it cannot race with the call tearing down what it
  // touches (the Interrupt guard's destructor takes mu_ too).
  std::function<void()> interrupt_ ABSL_GUARDED_BY(mu_);
};

// Called with each event of a watch, in order; returning false ends the watch.
using JobEventCallback = std::function<bool(const v1::JobEvent&)>;
// Called with each chunk of a download, in order; returning false ends it.
using ResultsChunkCallback = std::function<bool(const v1::ResultsChunk&)>;

// The coordinator's JobService. Implementations are thread-safe: the gateway
// calls them from many RPC threads at once.
class JobsClient {
 public:
  virtual ~JobsClient() = default;

  virtual absl::StatusOr<v1::SubmitJobResponse> SubmitJob(
      const v1::SubmitJobRequest& request) = 0;
  virtual absl::StatusOr<v1::Job> GetJob(const v1::GetJobRequest& request) = 0;
  virtual absl::StatusOr<v1::ListJobsResponse> ListJobs(
      const v1::ListJobsRequest& request) = 0;
  virtual absl::StatusOr<v1::Job> CancelJob(
      const v1::CancelJobRequest& request) = 0;
  virtual absl::StatusOr<v1::Job> ExtendJob(
      const v1::ExtendJobRequest& request) = 0;

  // Blocks, calling `on_event` for each event, until the stream ends (its
  // status is returned), `on_event` returns false, or `stop` is stopped (both
  // return CANCELLED or stop's reason).
  virtual absl::Status WatchJob(const v1::WatchJobRequest& request,
                                StopSignal& stop,
                                const JobEventCallback& on_event) = 0;

  // Blocks, calling `on_chunk` for each chunk, until the stream ends (its
  // status is returned) or `on_chunk` returns false (CANCELLED).
  virtual absl::Status DownloadResults(
      const v1::DownloadResultsRequest& /*request*/,
      const ResultsChunkCallback& /*on_chunk*/) {
    return absl::UnimplementedError("DownloadResults is not supported here");
  }

  // This client calling on behalf of `caller`, whose identity travels with
  // each call (the gateway forwards its authenticated caller so that the
  // coordinator applies that caller's rights; Identity::Anyone() adds
  // nothing). Shares this client's connection and must not outlive it.
  virtual std::unique_ptr<JobsClient> ActingFor(
      const service::Identity& caller) = 0;
};

}  // namespace replex::client
