#include "lib/grpc_tools/health_probe.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "grpcpp/client_context.h"
#include "grpcpp/completion_queue.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/support/byte_buffer.h"
#include "lib/service/grpc_status.h"

namespace replex::grpc_tools {
namespace {

constexpr absl::Duration kTimeout = absl::Seconds(10);

grpc::ByteBuffer ToBuffer(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

std::string FromBuffer(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string bytes;
  if (!buffer.Dump(&slices).ok()) return bytes;
  for (const grpc::Slice& slice : slices) {
    bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  return bytes;
}

// A completion queue for one call at a time, shut down and drained when it
// goes, as gRPC requires.
class Queue {
 public:
  ~Queue() {
    queue_.Shutdown();
    void* tag;
    bool ok;
    while (queue_.Next(&tag, &ok)) {
    }
  }
  grpc::CompletionQueue* get() { return &queue_; }
  // Waits for the one operation in flight; true if it succeeded.
  bool Await() {
    void* tag;
    bool ok = false;
    return queue_.Next(&tag, &ok) && ok;
  }

 private:
  grpc::CompletionQueue queue_;
};

}  // namespace

absl::StatusOr<std::string> CheckHealth(
    const std::shared_ptr<grpc::Channel>& channel, const std::string& service) {
  // HealthCheckRequest { string service = 1; }
  std::string request;
  if (!service.empty()) {
    google::protobuf::io::StringOutputStream stream(&request);
    google::protobuf::io::CodedOutputStream out(&stream);
    out.WriteTag(10);  // field 1, length-delimited
    out.WriteVarint32(static_cast<uint32_t>(service.size()));
    out.WriteString(service);
  }
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kTimeout));
  Queue queue;
  std::unique_ptr<grpc::GenericClientAsyncResponseReader> call =
      stub.PrepareUnaryCall(&context, "/grpc.health.v1.Health/Check",
                            ToBuffer(request), queue.get());
  call->StartCall();
  grpc::ByteBuffer response;
  grpc::Status status;
  call->Finish(&response, &status, nullptr);
  queue.Await();
  if (!status.ok()) return service::FromGrpcStatus(status);

  // HealthCheckResponse { ServingStatus status = 1; }, absent when UNKNOWN.
  const std::string bytes = FromBuffer(response);
  google::protobuf::io::CodedInputStream in(
      reinterpret_cast<const uint8_t*>(bytes.data()),
      static_cast<int>(bytes.size()));
  uint32_t serving = 0;
  if (uint32_t tag = in.ReadTag(); tag == 8 && !in.ReadVarint32(&serving)) {
    return absl::DataLossError("malformed HealthCheckResponse");
  }
  constexpr const char* kNames[] = {"UNKNOWN", "SERVING", "NOT_SERVING",
                                    "SERVICE_UNKNOWN"};
  return serving < 4 ? std::string(kNames[serving])
                     : absl::StrCat("status ", serving);
}

}  // namespace replex::grpc_tools
