// The coordinator's gRPC edge: thin adapters from replex.v1.JobService and
// replex.v1.Coordinator to the JobManager and the WorkerRegistry, which hold
// all the logic. Only status conversion and stream plumbing live here.
#pragma once

#include <functional>
#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "coordinator/job_manager.h"
#include "coordinator/results_observer.h"
#include "coordinator/worker_registry.h"
#include "grpcpp/grpcpp.h"
#include "replex/v1/job_service.grpc.pb.h"
#include "replex/v1/worker.grpc.pb.h"

namespace replex::coordinator {

// The public job API, served by the coordinator (the gateway forwards to
// it). Thread-safe.
class JobServiceImpl final : public v1::JobService::Service {
 public:
  // `jobs` must outlive the service.
  // `results`, when given, serves DownloadResults; it must outlive the
  // service.
  explicit JobServiceImpl(JobManager* jobs,
                          const ResultsObserver* results = nullptr)
      : jobs_(jobs), results_(results) {}

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
  // goes away (noticed within a second even while the job is quiet).
  grpc::Status WatchJob(grpc::ServerContext* context,
                        const v1::WatchJobRequest* request,
                        grpc::ServerWriter<v1::JobEvent>* writer) override;
  // Streams files of the job's results directory as they are on disk now
  // (a running job's files grow; each is sent up to its size when opened).
  grpc::Status DownloadResults(
      grpc::ServerContext* context, const v1::DownloadResultsRequest* request,
      grpc::ServerWriter<v1::ResultsChunk>* writer) override;

 private:
  JobManager* const jobs_;
  const ResultsObserver* const results_;
};

// Coordinator.Session: one stream per connected worker. The RPC thread reads
// and hands each message to the registry; a second thread writes what the
// registry queues for the worker. Thread-safe.
class SessionServiceImpl final : public v1::Coordinator::Service {
 public:
  // `registry` must outlive the service.
  explicit SessionServiceImpl(WorkerRegistry* registry) : registry_(registry) {}

  grpc::Status Session(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<v1::CoordinatorMessage, v1::WorkerMessage>*
          stream) override;

 private:
  WorkerRegistry* const registry_;
};

}  // namespace replex::coordinator
