// CoordinatorClient over a real gRPC channel (synchronous bidirectional
// stream; the session reads on its own thread).
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "lib/service/tls.h"
#include "replex/v1/worker.grpc.pb.h"
#include "replica-worker/coordinator_client.h"

namespace replex::worker {

struct ChannelOptions {
  std::string target = "localhost:7071";
  // Largest message sent or received: LoadJob carries a whole System XML and
  // state reports carry coordinates, so this must match the coordinator's.
  int max_message_bytes = 64 << 20;
  // gRPC's own reconnect backoff is kept within the session's, so a retry
  // by the session is not refused by a channel still waiting out its own.
  absl::Duration initial_backoff = absl::Milliseconds(500);
  absl::Duration max_backoff = absl::Seconds(30);
  // TLS (service::MakeChannelSecurity); plaintext by default.
  service::ChannelSecurity security;
  // Sent as "authorization: Bearer TOKEN" on each session when set: one of
  // the coordinator's --worker_tokens_file.
  std::string token;
};

// Thread-compatible (Connect from one thread at a time).
class GrpcCoordinatorClient : public CoordinatorClient {
 public:
  explicit GrpcCoordinatorClient(const ChannelOptions& options);

  absl::StatusOr<std::unique_ptr<CoordinatorStream>> Connect(
      absl::Duration timeout) override;
  std::string target() const override { return target_; }

 private:
  const std::string target_;
  const std::string unreachable_hint_;
  const std::string token_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Coordinator::Stub> stub_;
};

}  // namespace replex::worker
