#include "replica-worker/grpc_coordinator_client.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/channel_arguments.h"
#include "lib/service/auth.h"
#include "lib/service/grpc_status.h"

namespace replex::worker {
namespace {

class GrpcStream : public CoordinatorStream {
 public:
  GrpcStream(v1::Coordinator::Stub& stub, const std::string& token) {
    if (!token.empty()) {
      context_.AddMetadata(service::kAuthorizationKey,
                           absl::StrCat("Bearer ", token));
    }
    stream_ = stub.Session(&context_);
  }

  bool Send(const v1::WorkerMessage& message, bool more_follow) override {
    grpc::WriteOptions options;
    if (more_follow) options.set_buffer_hint();
    return stream_->Write(message, options);
  }
  bool Receive(v1::CoordinatorMessage* message) override {
    return stream_->Read(message);
  }
  void CloseSend() override { stream_->WritesDone(); }
  void Cancel() override { context_.TryCancel(); }
  absl::Status Finish() override {
    return service::FromGrpcStatus(stream_->Finish());
  }

 private:
  grpc::ClientContext context_;  // must outlive stream_
  std::unique_ptr<
      grpc::ClientReaderWriter<v1::WorkerMessage, v1::CoordinatorMessage>>
      stream_;
};

int Milliseconds(absl::Duration duration) {
  return static_cast<int>(absl::ToInt64Milliseconds(duration));
}

}  // namespace

GrpcCoordinatorClient::GrpcCoordinatorClient(const ChannelOptions& options)
    : target_(options.target),
      unreachable_hint_(options.security.UnreachableHint()),
      token_(options.token) {
  grpc::ChannelArguments arguments;
  arguments.SetMaxReceiveMessageSize(options.max_message_bytes);
  arguments.SetMaxSendMessageSize(options.max_message_bytes);
  arguments.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS,
                   Milliseconds(options.initial_backoff));
  arguments.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS,
                   Milliseconds(options.initial_backoff));
  arguments.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS,
                   Milliseconds(options.max_backoff));
  channel_ = service::CreateChannel(target_, options.security, arguments);
  stub_ = v1::Coordinator::NewStub(channel_);
}

absl::StatusOr<std::unique_ptr<CoordinatorStream>>
GrpcCoordinatorClient::Connect(absl::Duration timeout) {
  if (!channel_->WaitForConnected(absl::ToChronoTime(absl::Now() + timeout))) {
    return absl::UnavailableError(
        absl::StrCat("cannot reach the coordinator at ", target_, " within ",
                     absl::FormatDuration(timeout), unreachable_hint_));
  }
  return std::make_unique<GrpcStream>(*stub_, token_);
}

}  // namespace replex::worker
