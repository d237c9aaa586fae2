// A gRPC client that knows no service ahead of time, as grpcurl does: it
// learns the methods and message types from the server's reflection service
// (grpc.reflection.v1alpha, whose few fields it encodes itself, so no .proto
// of any kind is compiled in), builds the request from JSON with dynamic
// messages and prints each response as JSON. `replexctl call` is this client.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor_database.h"
#include "google/protobuf/dynamic_message.h"
#include "grpcpp/channel.h"

namespace replex::grpc_tools {

// The server's file descriptors, fetched through reflection on first use of
// a file or symbol and kept. Thread-compatible.
class ReflectionDescriptorDatabase final
    : public google::protobuf::DescriptorDatabase {
 public:
  explicit ReflectionDescriptorDatabase(std::shared_ptr<grpc::Channel> channel)
      : channel_(std::move(channel)) {}

  bool FindFileByName(const std::string &filename,
                      google::protobuf::FileDescriptorProto *output) override;
  bool FindFileContainingSymbol(
      const std::string &symbol_name,
      google::protobuf::FileDescriptorProto *output) override;
  // Extensions are never needed to call a method.
  bool FindFileContainingExtension(
      const std::string & /*containing_type*/, int /*field_number*/,
      google::protobuf::FileDescriptorProto * /*output*/) override {
    return false;
  }

  // The services the server lists.
  absl::StatusOr<std::vector<std::string>> ListServices();
  // Why the last lookup failed (OK if none did): the server's reflection
  // error or the RPC's status.
  const absl::Status &last_error() const { return last_error_; }

 private:
  // One ServerReflectionInfo exchange: a request with the string field
  // `field` set to `value`; the response's fields as wire bytes.
  absl::StatusOr<std::string> Ask(int field, const std::string &value);
  // Asks for the files of `field`=`value` and adds them to cache_.
  bool Fetch(int field, const std::string &value);

  std::shared_ptr<grpc::Channel> channel_;
  google::protobuf::SimpleDescriptorDatabase cache_;
  absl::Status last_error_;
};

// Metadata sent with a call (e.g. "authorization": "Bearer TOKEN").
using CallMetadata = std::vector<std::pair<std::string, std::string>>;

// Thread-compatible: one call at a time.
class ReflectionClient {
 public:
  // `metadata` goes with each Call (not with the reflection queries).
  explicit ReflectionClient(std::shared_ptr<grpc::Channel> channel,
                            CallMetadata metadata = {});

  absl::StatusOr<std::vector<std::string>> ListServices() {
    return database_.ListServices();
  }
  // Calls `method`, "package.Service/Method" (grpcurl's form) or
  // "package.Service.Method", with the request given as JSON (proto or JSON
  // field names, as grpcurl takes it), and hands each response to
  // `on_response` as JSON (camelCase names, fields at their defaults left
  // out, as grpcurl prints it): one for a unary method, one per message of a
  // server stream. INVALID_ARGUMENT naming the problem for an unknown method
  // or JSON that does not fit the request type; client-streaming methods are
  // not supported. Otherwise the call's status.
  absl::Status Call(
      const std::string &method, const std::string &request_json,
      const std::function<void(const std::string &)> &on_response);

 private:
  std::shared_ptr<grpc::Channel> channel_;
  const CallMetadata metadata_;
  ReflectionDescriptorDatabase database_;
  google::protobuf::DescriptorPool pool_;
  google::protobuf::DynamicMessageFactory factory_;
};

}  // namespace replex::grpc_tools
