// The worker's view of the coordinator: a client that opens Session streams,
// and the stream itself. Small on purpose, so the session logic is tested
// with a fake and only grpc_coordinator_client.cc knows about gRPC.
#pragma once

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "replex/v1/worker.pb.h"

namespace replex::worker {

// One Coordinator.Session stream. Send and Receive may run concurrently with
// each other (one caller each); Cancel may be called from any thread.
class CoordinatorStream {
 public:
  virtual ~CoordinatorStream() = default;
  // Blocks until the transport takes the message; false once the stream is
  // broken. `more_follow`: more messages are sent right after this one, so
  // the transport may hold it back and send them together. Not concurrently
  // with itself or CloseSend.
  virtual bool Send(const v1::WorkerMessage& message, bool more_follow) = 0;
  // Blocks for the next message; false once the stream has ended.
  virtual bool Receive(v1::CoordinatorMessage* message) = 0;
  // Half-close: no more messages from this side.
  virtual void CloseSend() = 0;
  // Breaks the stream, unblocking Send and Receive.
  virtual void Cancel() = 0;
  // Why the stream ended. Call once, after Receive has returned false.
  virtual absl::Status Finish() = 0;
};

// Thread-compatible.
class CoordinatorClient {
 public:
  virtual ~CoordinatorClient() = default;
  // Opens a new Session stream, waiting at most `timeout` for the
  // coordinator to be reachable (UNAVAILABLE otherwise).
  virtual absl::StatusOr<std::unique_ptr<CoordinatorStream>> Connect(
      absl::Duration timeout) = 0;
  // The coordinator's address, for log lines.
  virtual std::string target() const = 0;
};

}  // namespace replex::worker
