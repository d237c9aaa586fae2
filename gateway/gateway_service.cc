#include "gateway/gateway_service.h"

#include <deque>
#include <memory>
#include <optional>
#include <system_error>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "lib/service/grpc_status.h"

namespace replex::gateway {
namespace {

// What an unauthenticated caller is told to do.
constexpr char kHowToAuthenticate[] =
    "send the metadata \"authorization: Bearer TOKEN\" with a token from "
    "this gateway's --tokens_file, or a JSON Web Token signed with its "
    "--jwt_key_file: replexctl reads it from $REPLEX_TOKEN or "
    "~/.config/replex/token, grpcurl takes -H 'authorization: Bearer TOKEN'";

template <typename Response>
grpc::Status Reply(absl::StatusOr<Response> result, Response* response) {
  if (!result.ok()) return service::ToGrpcStatus(result.status());
  *response = *std::move(result);
  return grpc::Status::OK;
}

}  // namespace

// One WatchJob call. A thread of its own runs the (blocking) upstream watch
// and queues events; gRPC writes them one at a time. The reactor is shared by
// gRPC (until OnDone) and that thread (until it has finished), and deletes
// itself when both are done, so neither has to wait for the other.
// Thread-safe.
class GatewayService::WatchReactor
    : public grpc::ServerWriteReactor<v1::JobEvent> {
 public:
  static WatchReactor* Start(GatewayService* service,
                             const service::Identity& caller,
                             const v1::WatchJobRequest& request) {
    auto* reactor = new WatchReactor;
    reactor->self_.reset(reactor);
    if (absl::Status added = service->AddWatch(&reactor->stop_); !added.ok()) {
      reactor->Finish(service::ToGrpcStatus(added));
      return reactor;
    }
    try {
      std::thread([service, reactor = reactor->self_, caller,
                   request]() mutable {
        reactor->Run(*service->gateway_, caller, request);
        // Unregister before letting go: BeginShutdown may touch the signal.
        service->RemoveWatch(&reactor->stop_);
        reactor.reset();
      }).detach();
    } catch (const std::system_error& e) {
      service->RemoveWatch(&reactor->stop_);
      reactor->Finish(grpc::Status(
          grpc::StatusCode::RESOURCE_EXHAUSTED,
          absl::StrCat("replex-gateway cannot start a thread for this watch (",
                       e.what(), "); try again or use another gateway")));
    }
    return reactor;
  }

  // A watch refused before it starts: ends with `status`.
  static WatchReactor* Refuse(const absl::Status& status) {
    auto* reactor = new WatchReactor;
    reactor->self_.reset(reactor);
    reactor->Finish(service::ToGrpcStatus(status));
    return reactor;
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    if (ok) {
      pending_.pop_front();
    } else {
      // The client is gone or the stream broke: nothing more can be sent.
      write_failed_ = true;
      pending_.clear();
      stop_.Stop(absl::CancelledError("the client went away"));
    }
    if (!pending_.empty()) {
      StartWrite(&pending_.front());
    } else if (upstream_status_.has_value()) {
      Finish(service::ToGrpcStatus(*upstream_status_));
    }
  }

  void OnCancel() override {
    stop_.Stop(absl::CancelledError("the client went away"));
  }

  void OnDone() override {
    // May delete this reactor; nothing may touch it afterwards.
    std::shared_ptr<WatchReactor> release = std::move(self_);
  }

  client::StopSignal& stop() { return stop_; }

 private:
  // Queued events; a slow client holds the upstream reader back once this many
  // wait, instead of the queue growing without bound.
  static constexpr size_t kMaxPending = 64;

  WatchReactor() = default;

  // The upstream thread: forward events until the watch ends, then finish the
  // call (or leave that to OnWriteDone while writes are still queued).
  void Run(Gateway& gateway, const service::Identity& caller,
           const v1::WatchJobRequest& request) {
    absl::Status status = gateway.WatchJob(
        caller, request, stop_,
        [this](const v1::JobEvent& event) { return Forward(event); });
    // A stopped watch ends for the stop's reason (client gone, gateway
    // shutting down), not with the upstream call's bare CANCELLED.
    if (!status.ok() && stop_.stopped()) status = stop_.reason();
    absl::MutexLock lock(&mu_);
    upstream_status_ = status;
    if (pending_.empty()) Finish(service::ToGrpcStatus(status));
  }

  bool Forward(const v1::JobEvent& event) {
    absl::MutexLock lock(&mu_);
    if (write_failed_) return false;
    pending_.push_back(event);
    // References to deque elements survive push_back, so the event being
    // written stays put.
    if (pending_.size() == 1) StartWrite(&pending_.front());
    mu_.Await(absl::Condition(this, &WatchReactor::HasRoom));
    return !write_failed_;
  }

  bool HasRoom() const ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return pending_.size() < kMaxPending || write_failed_;
  }

  client::StopSignal stop_;
  absl::Mutex mu_;
  // front() is being written whenever the queue is not empty.
  std::deque<v1::JobEvent> pending_ ABSL_GUARDED_BY(mu_);
  bool write_failed_ ABSL_GUARDED_BY(mu_) = false;
  // Set when the upstream watch has ended: the status the call ends with.
  std::optional<absl::Status> upstream_status_ ABSL_GUARDED_BY(mu_);
  // gRPC's reference, dropped in OnDone.
  std::shared_ptr<WatchReactor> self_;
};

GatewayService::GatewayService(Gateway* gateway, GatewayServiceOptions options)
    : gateway_(gateway), options_(options) {}

GatewayService::~GatewayService() {
  absl::MutexLock lock(&mu_);
  auto none = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return watches_.empty();
  };
  mu_.Await(absl::Condition(&none));
}

void GatewayService::BeginShutdown() {
  absl::MutexLock lock(&mu_);
  shutting_down_ = true;
  for (client::StopSignal* stop : watches_) {
    stop->Stop(absl::UnavailableError(
        "replex-gateway is shutting down; watch the job again (through "
        "another gateway if there is one)"));
  }
}

absl::Status GatewayService::AddWatch(client::StopSignal* stop) {
  absl::MutexLock lock(&mu_);
  if (shutting_down_) {
    return absl::UnavailableError(
        "replex-gateway is shutting down; try another gateway or retry");
  }
  if (static_cast<int>(watches_.size()) >= options_.max_watches) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "replex-gateway is already serving ", watches_.size(),
        " watches, its limit; retry later or use another gateway"));
  }
  watches_.insert(stop);
  return absl::OkStatus();
}

void GatewayService::RemoveWatch(client::StopSignal* stop) {
  absl::MutexLock lock(&mu_);
  watches_.erase(stop);
}

grpc::Status GatewayService::SubmitJob(grpc::ServerContext* context,
                                       const v1::SubmitJobRequest* request,
                                       v1::SubmitJobResponse* response) {
  absl::StatusOr<service::Identity> caller = Caller(*context);
  if (!caller.ok()) return service::ToGrpcStatus(caller.status());
  return Reply(gateway_->SubmitJob(*caller, *request), response);
}

grpc::Status GatewayService::GetJob(grpc::ServerContext* context,
                                    const v1::GetJobRequest* request,
                                    v1::Job* response) {
  absl::StatusOr<service::Identity> caller = Caller(*context);
  if (!caller.ok()) return service::ToGrpcStatus(caller.status());
  return Reply(gateway_->GetJob(*caller, *request), response);
}

grpc::Status GatewayService::ListJobs(grpc::ServerContext* context,
                                      const v1::ListJobsRequest* request,
                                      v1::ListJobsResponse* response) {
  absl::StatusOr<service::Identity> caller = Caller(*context);
  if (!caller.ok()) return service::ToGrpcStatus(caller.status());
  return Reply(gateway_->ListJobs(*caller, *request), response);
}

grpc::Status GatewayService::CancelJob(grpc::ServerContext* context,
                                       const v1::CancelJobRequest* request,
                                       v1::Job* response) {
  absl::StatusOr<service::Identity> caller = Caller(*context);
  if (!caller.ok()) return service::ToGrpcStatus(caller.status());
  return Reply(gateway_->CancelJob(*caller, *request), response);
}

grpc::Status GatewayService::ExtendJob(grpc::ServerContext* context,
                                       const v1::ExtendJobRequest* request,
                                       v1::Job* response) {
  absl::StatusOr<service::Identity> caller = Caller(*context);
  if (!caller.ok()) return service::ToGrpcStatus(caller.status());
  return Reply(gateway_->ExtendJob(*caller, *request), response);
}

grpc::Status GatewayService::DownloadResults(
    grpc::ServerContext* context, const v1::DownloadResultsRequest* request,
    grpc::ServerWriter<v1::ResultsChunk>* writer) {
  absl::StatusOr<service::Identity> caller = Caller(*context);
  if (!caller.ok()) return service::ToGrpcStatus(caller.status());
  return service::ToGrpcStatus(gateway_->DownloadResults(
      *caller, *request, [&](const v1::ResultsChunk& chunk) {
        return !context->IsCancelled() && writer->Write(chunk);
      }));
}

grpc::ServerWriteReactor<v1::JobEvent>* GatewayService::WatchJob(
    grpc::CallbackServerContext* context, const v1::WatchJobRequest* request) {
  absl::StatusOr<service::Identity> caller = Caller(*context);
  if (!caller.ok()) {
    return WatchReactor::Refuse(caller.status());
  }
  return WatchReactor::Start(this, *caller, *request);
}

absl::StatusOr<service::Identity> GatewayService::Caller(
    const grpc::ServerContextBase& context) const {
  const bool token_sent =
      context.client_metadata().count(service::kAuthorizationKey) > 0;
  if ((options_.tokens != nullptr || options_.jwt != nullptr) &&
      (token_sent || !options_.certificate_users)) {
    absl::StatusOr<std::string> token =
        service::BearerToken(context.client_metadata(), kHowToAuthenticate);
    if (!token.ok()) return token.status();
    if (options_.jwt != nullptr && service::LooksLikeJwt(*token)) {
      return options_.jwt->Verify(*token, absl::Now());
    }
    if (options_.tokens == nullptr) {
      return absl::UnauthenticatedError(absl::StrCat(
          "the token is not a JSON Web Token (", kHowToAuthenticate, ")"));
    }
    return service::Authenticate(*options_.tokens, context.client_metadata(),
                                 kHowToAuthenticate);
  }
  if (options_.certificate_users) {
    return service::CertificateIdentity(*context.auth_context(),
                                        options_.certificate_admins,
                                        kHowToAuthenticate);
  }
  return service::Identity::Anyone();
}

}  // namespace replex::gateway
