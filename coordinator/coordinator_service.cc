#include "coordinator/coordinator_service.h"

#include <algorithm>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "lib/results/results.h"
#include "lib/service/grpc_status.h"

namespace replex::coordinator {
namespace {

using service::ToGrpcStatus;

// How often a quiet WatchJob checks whether its client is still there.
constexpr absl::Duration kWatchPoll = absl::Seconds(1);

}  // namespace

grpc::Status JobServiceImpl::SubmitJob(grpc::ServerContext*,
                                       const v1::SubmitJobRequest* request,
                                       v1::SubmitJobResponse* response) {
  absl::StatusOr<std::string> id = jobs_->Submit(request->spec());
  if (!id.ok()) return ToGrpcStatus(id.status());
  response->set_job_id(*id);
  return grpc::Status::OK;
}

grpc::Status JobServiceImpl::GetJob(grpc::ServerContext*,
                                    const v1::GetJobRequest* request,
                                    v1::Job* response) {
  absl::StatusOr<v1::Job> job = jobs_->Get(request->job_id());
  if (!job.ok()) return ToGrpcStatus(job.status());
  *response = *std::move(job);
  return grpc::Status::OK;
}

grpc::Status JobServiceImpl::ListJobs(grpc::ServerContext*,
                                      const v1::ListJobsRequest* request,
                                      v1::ListJobsResponse* response) {
  std::vector<v1::JobState> states;
  for (int state : request->states()) {
    states.push_back(static_cast<v1::JobState>(state));
  }
  for (v1::Job& job : jobs_->List(states)) {
    *response->add_jobs() = std::move(job);
  }
  return grpc::Status::OK;
}

grpc::Status JobServiceImpl::CancelJob(grpc::ServerContext*,
                                       const v1::CancelJobRequest* request,
                                       v1::Job* response) {
  absl::StatusOr<v1::Job> job = jobs_->Cancel(request->job_id());
  if (!job.ok()) return ToGrpcStatus(job.status());
  *response = *std::move(job);
  return grpc::Status::OK;
}

grpc::Status JobServiceImpl::ExtendJob(grpc::ServerContext*,
                                       const v1::ExtendJobRequest* request,
                                       v1::Job* response) {
  absl::StatusOr<v1::Job> job =
      jobs_->Extend(request->job_id(), request->rounds());
  if (!job.ok()) return ToGrpcStatus(job.status());
  *response = *std::move(job);
  return grpc::Status::OK;
}

grpc::Status JobServiceImpl::DownloadResults(
    grpc::ServerContext* context, const v1::DownloadResultsRequest* request,
    grpc::ServerWriter<v1::ResultsChunk>* writer) {
  constexpr int64_t kChunkBytes = 1 << 20;
  if (absl::StatusOr<v1::Job> job = jobs_->Get(request->job_id()); !job.ok()) {
    return ToGrpcStatus(job.status());
  }
  if (results_ == nullptr) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        "this coordinator writes no results");
  }
  absl::StatusOr<std::filesystem::path> dir =
      results_->DirectoryOf(request->job_id());
  if (!dir.ok()) return ToGrpcStatus(dir.status());
  absl::StatusOr<std::vector<std::string>> files =
      results::ResultsFiles(*dir, request->path());
  if (!files.ok()) return ToGrpcStatus(files.status());
  std::string buffer;
  for (const std::string& file : *files) {
    std::ifstream in(*dir / file, std::ios::binary | std::ios::ate);
    if (!in) continue;  // replaced or removed since listed
    const int64_t size = in.tellg();
    in.seekg(0);
    int64_t offset = 0;
    do {
      const int64_t n = std::min(kChunkBytes, size - offset);
      buffer.resize(n);
      in.read(buffer.data(), n);
      v1::ResultsChunk chunk;
      chunk.set_path(file);
      chunk.set_offset(offset);
      chunk.set_data(buffer.data(), in.gcount());
      chunk.set_size(size);
      offset += n;
      chunk.set_eof(offset >= size || !in);
      if (context->IsCancelled() || !writer->Write(chunk)) {
        return grpc::Status(grpc::StatusCode::CANCELLED,
                            "the downloader went away");
      }
      if (!in) break;
    } while (offset < size);
  }
  return grpc::Status::OK;
}

grpc::Status JobServiceImpl::WatchJob(
    grpc::ServerContext* context, const v1::WatchJobRequest* request,
    grpc::ServerWriter<v1::JobEvent>* writer) {
  absl::StatusOr<std::shared_ptr<JobWatch>> watch =
      jobs_->Watch(request->job_id());
  if (!watch.ok()) return ToGrpcStatus(watch.status());
  const grpc::Status gone(grpc::StatusCode::CANCELLED, "the watcher went away");
  v1::JobEvent event;
  while (true) {
    switch ((*watch)->Take(&event, kWatchPoll)) {
      case JobWatch::Next::kEvent:
        if (!writer->Write(event)) {
          (*watch)->Cancel();
          return gone;
        }
        break;
      case JobWatch::Next::kTimeout:
        if (context->IsCancelled()) {
          (*watch)->Cancel();
          return gone;
        }
        break;
      case JobWatch::Next::kEnded:
        return ToGrpcStatus((*watch)->end_status());
    }
  }
}

grpc::Status SessionServiceImpl::Session(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<v1::CoordinatorMessage, v1::WorkerMessage>*
        stream) {
  v1::WorkerMessage message;
  if (!stream->Read(&message)) {
    return grpc::Status(grpc::StatusCode::CANCELLED,
                        "the worker went away before registering");
  }
  if (!message.has_register_()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "the first message of a Session must be Register");
  }
  absl::StatusOr<WorkerRegistry::Session> session = registry_->Connect(
      message.register_(), [context] { context->TryCancel(); });
  if (!session.ok()) return ToGrpcStatus(session.status());

  // gRPC allows one reader and one writer on a stream at the same time.
  std::thread writer([this, context, stream, key = session->key] {
    std::vector<v1::CoordinatorMessage> batch;
    bool first = true;
    while (registry_->NextOutgoing(key, &batch)) {
      for (size_t i = 0; i < batch.size(); ++i) {
        // Corks all but the last message of a batch, so a batch leaves in a
        // few packets rather than one syscall per message. Never the
        // stream's first write: gRPC's synchronous API would then hold back
        // the call's initial metadata and the worker would hear nothing
        // (grpc/grpc#12975).
        grpc::WriteOptions options;
        if (i + 1 < batch.size() && !first) options.set_buffer_hint();
        first = false;
        if (!stream->Write(batch[i], options)) {
          context->TryCancel();  // unblocks the reader below
          return;
        }
      }
    }
  });
  while (stream->Read(&message)) registry_->Receive(session->key, message);
  const absl::Status end = registry_->Disconnect(session->key);
  writer.join();
  return ToGrpcStatus(end);
}

}  // namespace replex::coordinator
