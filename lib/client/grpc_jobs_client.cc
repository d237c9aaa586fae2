#include "lib/client/grpc_jobs_client.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpc/grpc.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/channel_arguments.h"
#include "lib/service/grpc_status.h"

namespace replex::client {

namespace {

std::shared_ptr<grpc::Channel> NewChannel(
    const GrpcJobsClientOptions& options) {
  grpc::ChannelArguments arguments;
  arguments.SetMaxSendMessageSize(options.max_send_bytes);
  arguments.SetMaxReceiveMessageSize(options.max_receive_bytes);
  // After a failed connection gRPC fails calls at once until its next
  // attempt, by default up to 2 minutes later: a restarted peer would look
  // down for that long. Peers here restart in seconds (a rollout, a pod).
  arguments.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS,
                   static_cast<int>(absl::ToInt64Milliseconds(
                       options.max_reconnect_backoff)));
  return service::CreateChannel(options.address, options.security, arguments);
}

}  // namespace

GrpcJobsClient::GrpcJobsClient(GrpcJobsClientOptions options)
    : GrpcJobsClient(
          [&options] {
            auto connection = std::make_shared<Connection>();
            connection->channel = NewChannel(options);
            connection->stub = v1::JobService::NewStub(connection->channel);
            connection->options = std::move(options);
            return connection;
          }(),
          service::Identity::Anyone()) {}

GrpcJobsClient::GrpcJobsClient(std::shared_ptr<const Connection> connection,
                               const service::Identity& caller)
    : connection_(std::move(connection)),
      options_(connection_->options),
      stub_(*connection_->stub),
      caller_(caller) {}

std::unique_ptr<JobsClient> GrpcJobsClient::ActingFor(
    const service::Identity& caller) {
  return std::unique_ptr<JobsClient>(new GrpcJobsClient(connection_, caller));
}

void GrpcJobsClient::Prepare(grpc::ClientContext& context) const {
  if (!options_.token.empty()) {
    context.AddMetadata(service::kAuthorizationKey,
                        absl::StrCat("Bearer ", options_.token));
  }
  if (!caller_.anyone()) {
    context.AddMetadata(service::kUserKey, caller_.user);
    if (caller_.admin) context.AddMetadata(service::kAdminKey, "1");
  }
}

absl::Status GrpcJobsClient::FromPeer(const grpc::Status& status) const {
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE &&
      connection_->channel->GetState(/*try_to_connect=*/false) !=
          GRPC_CHANNEL_READY) {
    return absl::UnavailableError(absl::StrCat(
        options_.peer, " at ", options_.address, " is unreachable: ",
        status.error_message(), options_.unreachable_hint));
  }
  return service::FromGrpcStatus(status);
}

template <typename Request, typename Response>
absl::StatusOr<Response> GrpcJobsClient::Call(
    grpc::Status (v1::JobService::Stub::*method)(grpc::ClientContext*,
                                                 const Request&, Response*),
    const Request& request) {
  grpc::ClientContext context;
  Prepare(context);
  context.set_deadline(absl::ToChronoTime(absl::Now() + options_.timeout));
  Response response;
  const grpc::Status status = (stub_.*method)(&context, request, &response);
  if (!status.ok()) return FromPeer(status);
  return response;
}

absl::StatusOr<v1::SubmitJobResponse> GrpcJobsClient::SubmitJob(
    const v1::SubmitJobRequest& request) {
  return Call(&v1::JobService::Stub::SubmitJob, request);
}

absl::StatusOr<v1::Job> GrpcJobsClient::GetJob(
    const v1::GetJobRequest& request) {
  return Call(&v1::JobService::Stub::GetJob, request);
}

absl::StatusOr<v1::ListJobsResponse> GrpcJobsClient::ListJobs(
    const v1::ListJobsRequest& request) {
  return Call(&v1::JobService::Stub::ListJobs, request);
}

absl::StatusOr<v1::Job> GrpcJobsClient::CancelJob(
    const v1::CancelJobRequest& request) {
  return Call(&v1::JobService::Stub::CancelJob, request);
}

absl::StatusOr<v1::Job> GrpcJobsClient::ExtendJob(
    const v1::ExtendJobRequest& request) {
  return Call(&v1::JobService::Stub::ExtendJob, request);
}

absl::Status GrpcJobsClient::DownloadResults(
    const v1::DownloadResultsRequest& request,
    const ResultsChunkCallback& on_chunk) {
  grpc::ClientContext context;
  Prepare(context);
  std::unique_ptr<grpc::ClientReader<v1::ResultsChunk>> reader =
      stub_.DownloadResults(&context, request);
  v1::ResultsChunk chunk;
  bool ended_by_callback = false;
  while (reader->Read(&chunk)) {
    if (!on_chunk(chunk)) {
      ended_by_callback = true;
      context.TryCancel();
      break;
    }
  }
  while (reader->Read(&chunk)) {
  }
  const grpc::Status status = reader->Finish();
  if (status.ok()) return absl::OkStatus();
  if (ended_by_callback) return absl::CancelledError("download ended early");
  return FromPeer(status);
}

absl::Status GrpcJobsClient::WatchJob(const v1::WatchJobRequest& request,
                                      StopSignal& stop,
                                      const JobEventCallback& on_event) {
  grpc::ClientContext context;
  Prepare(context);
  // Cancelling before the call starts is fine: gRPC cancels it on start.
  StopSignal::Interrupt interrupt(stop, [&context] { context.TryCancel(); });
  std::unique_ptr<grpc::ClientReader<v1::JobEvent>> reader =
      stub_.WatchJob(&context, request);
  v1::JobEvent event;
  bool ended_by_callback = false;
  while (reader->Read(&event)) {
    if (!on_event(event)) {
      ended_by_callback = true;
      context.TryCancel();
      break;
    }
  }
  // Finish wants every message read; after TryCancel this ends at once.
  while (reader->Read(&event)) {
  }
  const grpc::Status status = reader->Finish();
  if (status.ok()) return absl::OkStatus();
  if (stop.stopped()) return stop.reason();
  if (ended_by_callback) return absl::CancelledError("watch ended early");
  return FromPeer(status);
}

}  // namespace replex::client
