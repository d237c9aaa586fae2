#include "coordinator/coordinator_service.h"

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "grpc/support/time.h"
#include "grpcpp/alarm.h"
#include "lib/results/results.h"
#include "lib/service/grpc_status.h"

namespace replex::coordinator {
namespace {

using service::ToGrpcStatus;

constexpr char kGatewayOnly[] =
    "this coordinator's JobService answers replex-gateway only; send the "
    "request to the gateway (a gateway needs --coordinator_token_file naming "
    "this coordinator's --gateway_token_file)";

}  // namespace

absl::StatusOr<service::Identity> JobServiceImpl::Caller(
    const grpc::ServerContextBase& context) const {
  if (!gateway_certificates_.empty()) {
    if (absl::Status status = service::CheckCertificateName(
            *context.auth_context(), gateway_certificates_,
            "this coordinator's --gateway_certificate_names; call the "
            "gateway instead");
        !status.ok()) {
      return status;
    }
  }
  if (!gateway_token_.empty()) {
    absl::StatusOr<std::string> token =
        service::BearerToken(context.client_metadata(), kGatewayOnly);
    if (!token.ok()) return token.status();
    if (!service::SameToken(*token, gateway_token_)) {
      return absl::UnauthenticatedError(absl::StrCat(
          "the token is not this coordinator's gateway token; ", kGatewayOnly));
    }
  }
  return service::ForwardedIdentity(context.client_metadata());
}

absl::StatusOr<service::Identity> JobServiceImpl::CallerOf(
    const grpc::ServerContextBase& context, const std::string& job_id) const {
  absl::StatusOr<service::Identity> caller = Caller(context);
  if (!caller.ok() || caller->admin) return caller;
  absl::StatusOr<v1::Job> job = jobs_->Get(job_id);
  if (!job.ok()) return job.status();
  if (absl::Status access = service::CheckAccess(*caller, job->owner(), job_id);
      !access.ok()) {
    return access;
  }
  return caller;
}

grpc::Status JobServiceImpl::SubmitJob(grpc::ServerContext* context,
                                       const v1::SubmitJobRequest* request,
                                       v1::SubmitJobResponse* response) {
  absl::StatusOr<service::Identity> caller = Caller(*context);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  absl::StatusOr<std::string> id;
  if (caller->anyone()) {
    id = jobs_->Submit(request->spec());
  } else {
    // The owner is who submitted, whatever the spec says.
    v1::JobSpec spec = request->spec();
    spec.set_owner(caller->user);
    id = jobs_->Submit(spec);
  }
  if (!id.ok()) return ToGrpcStatus(id.status());
  response->set_job_id(*id);
  return grpc::Status::OK;
}

grpc::Status JobServiceImpl::GetJob(grpc::ServerContext* context,
                                    const v1::GetJobRequest* request,
                                    v1::Job* response) {
  // The job read once serves both the access check and the answer.
  absl::StatusOr<service::Identity> caller = Caller(*context);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  absl::StatusOr<v1::Job> job = jobs_->Get(request->job_id());
  if (!job.ok()) return ToGrpcStatus(job.status());
  if (absl::Status access =
          service::CheckAccess(*caller, job->owner(), request->job_id());
      !access.ok()) {
    return ToGrpcStatus(access);
  }
  *response = *std::move(job);
  return grpc::Status::OK;
}

grpc::Status JobServiceImpl::ListJobs(grpc::ServerContext* context,
                                      const v1::ListJobsRequest* request,
                                      v1::ListJobsResponse* response) {
  absl::StatusOr<service::Identity> caller = Caller(*context);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  std::vector<v1::JobState> states;
  for (int state : request->states()) {
    states.push_back(static_cast<v1::JobState>(state));
  }
  for (v1::Job& job : jobs_->List(states)) {
    if (caller->MayActOn(job.owner())) *response->add_jobs() = std::move(job);
  }
  return grpc::Status::OK;
}

grpc::Status JobServiceImpl::CancelJob(grpc::ServerContext* context,
                                       const v1::CancelJobRequest* request,
                                       v1::Job* response) {
  absl::StatusOr<service::Identity> caller =
      CallerOf(*context, request->job_id());
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  absl::StatusOr<v1::Job> job = jobs_->Cancel(request->job_id());
  if (!job.ok()) return ToGrpcStatus(job.status());
  *response = *std::move(job);
  return grpc::Status::OK;
}

grpc::Status JobServiceImpl::ExtendJob(grpc::ServerContext* context,
                                       const v1::ExtendJobRequest* request,
                                       v1::Job* response) {
  absl::StatusOr<service::Identity> caller =
      CallerOf(*context, request->job_id());
  if (!caller.ok()) return ToGrpcStatus(caller.status());
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
  if (absl::StatusOr<service::Identity> caller =
          CallerOf(*context, request->job_id());
      !caller.ok()) {
    return ToGrpcStatus(caller.status());
  }
  if (results_ == nullptr) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        "this coordinator writes no results");
  }
  absl::StatusOr<std::filesystem::path> dir =
      results_->DirectoryOf(request->job_id());
  if (!dir.ok()) return ToGrpcStatus(dir.status());
  // An ended job's last files are written just after its end is published.
  if (absl::StatusOr<v1::Job> job = jobs_->Get(request->job_id());
      job.ok() &&
      (job->state() == v1::SUCCEEDED || job->state() == v1::FAILED ||
       job->state() == v1::CANCELLED)) {
    constexpr absl::Duration kFinishWait = absl::Minutes(2);
    if (!results_->AwaitFinished(request->job_id(), kFinishWait)) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                          absl::StrCat("job ", request->job_id(),
                                       "'s results are still being finished "
                                       "(free energies, report); try again"));
    }
  }
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

namespace {

// WatchJobRequest.batch_ms at most: ten seconds between progress reports.
constexpr int kMaxBatchMs = 10000;

// One WatchJob call: writes the watch's events one at a time, each as soon as
// the last is sent (with batch_ms, rounds batch_ms after the last rounds), and
// finishes with the watch's end. Owned by itself from Start until gRPC's
// OnDone; the watch and the pacing alarm hold it weakly, so a publish or an
// alarm racing the end finds it gone or finished, never freed.
class WatchReactor : public grpc::ServerWriteReactor<v1::JobEvent>,
                     public JobWatch::Listener {
 public:
  static WatchReactor* Start(std::shared_ptr<JobWatch> watch,
                             int64_t batch_ms) {
    auto reactor =
        std::shared_ptr<WatchReactor>(new WatchReactor(watch, batch_ms));
    reactor->self_ = reactor;
    watch->Listen(reactor);  // writes what is already queued
    return reactor.get();
  }

  // A watch refused before it starts: ends with `status`.
  static WatchReactor* Refuse(const absl::Status& status) {
    auto watch = std::make_shared<JobWatch>();
    watch->End(status);
    return Start(std::move(watch), /*batch_ms=*/0);
  }

  void Ready() override {
    absl::MutexLock lock(&mu_);
    WriteNextLocked();
  }

  void OnWriteDone(bool ok) override {
    if (!ok) watch_->Cancel();  // the client is gone: stop feeding it
    absl::MutexLock lock(&mu_);
    writing_.reset();
    if (!ok) {
      FinishLocked(
          grpc::Status(grpc::StatusCode::CANCELLED, "the watcher went away"));
      return;
    }
    WriteNextLocked();
  }

  // Ends the watch; Ready() then writes what is queued (batched rounds
  // included) and finishes the call, or OnWriteDone does once the write in
  // flight is done.
  void OnCancel() override { watch_->Cancel(); }

  void OnDone() override {
    // May delete this reactor; nothing may touch it afterwards.
    std::shared_ptr<WatchReactor> release = std::move(self_);
  }

 private:
  WatchReactor(std::shared_ptr<JobWatch> watch, int64_t batch_ms)
      : watch_(std::move(watch)), batch_ms_(batch_ms) {}

  // Starts writing the next event, or finishes once the watch has ended and
  // everything is written; nothing while a write is in flight. With a batch,
  // rounds are written batch_ms_ after the last rounds at the soonest: until
  // then they gather, and the alarm writes them. Snapshots (state changes)
  // go as they come, after the rounds before them, and once the watch has
  // ended (the job's end, a cancel, a shutdown) nothing waits. The times are
  // on the monotonic clock, as the alarm's are.
  void WriteNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (writing_ != nullptr || finished_) return;
    const gpr_timespec now = gpr_now(GPR_CLOCK_MONOTONIC);
    const JobWatch::Next next =
        batch_ms_ > 0 ? watch_->TakeRounds(
                            &writing_, gpr_time_cmp(now, next_rounds_) >= 0 ||
                                           watch_->ended())
                      : watch_->Take(&writing_, absl::ZeroDuration());
    switch (next) {
      case JobWatch::Next::kEvent:
        if (!writing_->has_snapshot()) {
          next_rounds_ =
              gpr_time_add(now, gpr_time_from_millis(batch_ms_, GPR_TIMESPAN));
        }
        StartWrite(writing_.get());
        break;
      case JobWatch::Next::kEnded:
        FinishLocked(ToGrpcStatus(watch_->end_status()));
        break;
      case JobWatch::Next::kLater:
        if (!alarm_set_) {
          alarm_set_ = true;
          alarm_ = std::make_unique<grpc::Alarm>();
          alarm_->Set(next_rounds_,
                      [weak = std::weak_ptr<WatchReactor>(self_)](bool) {
                        if (auto self = weak.lock()) self->OnAlarm();
                      });
        }
        break;
      case JobWatch::Next::kTimeout:
        break;  // nothing yet: Ready() comes with the next event
    }
  }

  // The alarm fired: writes what has gathered, unless a write began since
  // (the rounds then wait for the next alarm).
  void OnAlarm() {
    absl::MutexLock lock(&mu_);
    alarm_set_ = false;
    WriteNextLocked();
  }

  void FinishLocked(const grpc::Status& status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    Finish(status);
  }

  const std::shared_ptr<JobWatch> watch_;
  const int64_t batch_ms_;  // WatchJobRequest.batch_ms
  std::shared_ptr<WatchReactor> self_;
  absl::Mutex mu_;
  // The event being written: it must live until OnWriteDone.
  std::shared_ptr<const v1::JobEvent> writing_ ABSL_GUARDED_BY(mu_);
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  // batch_ms_ after the last rounds began; an alarm then, while alarm_set_.
  gpr_timespec next_rounds_ ABSL_GUARDED_BY(mu_) =
      gpr_inf_past(GPR_CLOCK_MONOTONIC);
  std::unique_ptr<grpc::Alarm> alarm_ ABSL_GUARDED_BY(mu_);
  bool alarm_set_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

grpc::ServerWriteReactor<v1::JobEvent>* JobServiceImpl::WatchJob(
    grpc::CallbackServerContext* context, const v1::WatchJobRequest* request) {
  if (absl::StatusOr<service::Identity> caller =
          CallerOf(*context, request->job_id());
      !caller.ok()) {
    return WatchReactor::Refuse(caller.status());
  }
  if (request->batch_ms() < 0 || request->batch_ms() > kMaxBatchMs) {
    return WatchReactor::Refuse(absl::InvalidArgumentError(
        absl::StrCat("batch_ms: ", request->batch_ms(),
                     " is out of range; give 0 (a "
                     "message per round) to ",
                     kMaxBatchMs, " milliseconds")));
  }
  absl::StatusOr<std::shared_ptr<JobWatch>> watch =
      jobs_->Watch(request->job_id());
  if (!watch.ok()) return WatchReactor::Refuse(watch.status());
  return WatchReactor::Start(*std::move(watch), request->batch_ms());
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
  if (absl::Status allowed =
          CheckWorker(*context, message.register_().worker_name());
      !allowed.ok()) {
    return ToGrpcStatus(allowed);
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

absl::Status SessionServiceImpl::CheckWorker(
    const grpc::ServerContext& context, const std::string& worker_name) const {
  if (!certificates_.empty()) {
    if (absl::Status status = service::CheckCertificateName(
            *context.auth_context(), certificates_,
            "the coordinator's --worker_certificate_names; give the worker "
            "a worker's certificate (--tls_client_cert)");
        !status.ok()) {
      return status;
    }
  }
  if (tokens_ == nullptr) return absl::OkStatus();
  absl::StatusOr<service::Identity> worker = service::Authenticate(
      *tokens_, context.client_metadata(),
      "start replex-worker with --token_file naming a file that holds a "
      "token of the coordinator's --worker_tokens_file");
  if (!worker.ok()) return worker.status();
  if (worker->user != "*" && worker->user != worker_name) {
    return absl::PermissionDeniedError(absl::StrCat(
        "this token is for the worker named \"", worker->user,
        "\", not for the name this session registers; start the worker "
        "with --name=",
        worker->user, " or give it its own token"));
  }
  return absl::OkStatus();
}

}  // namespace replex::coordinator
