#include "lib/grpc_tools/reflection_client.h"

#include <deque>
#include <optional>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/message.h"
#include "google/protobuf/unknown_field_set.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/client_context.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/client_callback.h"
#include "lib/service/grpc_status.h"

namespace replex::grpc_tools {
namespace {

using google::protobuf::FileDescriptorProto;
using google::protobuf::UnknownFieldSet;

constexpr char kReflectionMethod[] =
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo";
// Field numbers of grpc/reflection/v1alpha/reflection.proto.
constexpr int kFileByFilename = 3;          // ServerReflectionRequest
constexpr int kFileContainingSymbol = 4;    // ServerReflectionRequest
constexpr int kListServices = 7;            // ServerReflectionRequest
constexpr int kFileDescriptorResponse = 4;  // ServerReflectionResponse
constexpr int kListServicesResponse = 6;    // ServerReflectionResponse
constexpr int kErrorResponse = 7;           // ServerReflectionResponse
constexpr int kFileDescriptorProto = 1;     // FileDescriptorResponse
constexpr int kService = 1;                 // ListServiceResponse
constexpr int kServiceName = 1;             // ServiceResponse
constexpr int kErrorCode = 1;               // ErrorResponse
constexpr int kErrorMessage = 2;            // ErrorResponse
constexpr absl::Duration kReflectionTimeout = absl::Seconds(10);

// The values of the length-delimited fields numbered `number` in the
// wire-format `message` (none if it does not parse).
std::vector<std::string> Strings(const std::string &message, int number) {
  UnknownFieldSet fields;
  std::vector<std::string> values;
  if (!fields.ParseFromString(message)) return values;
  for (int i = 0; i < fields.field_count(); ++i) {
    const google::protobuf::UnknownField &field = fields.field(i);
    if (field.number() == number &&
        field.type() == google::protobuf::UnknownField::TYPE_LENGTH_DELIMITED) {
      values.push_back(field.length_delimited());
    }
  }
  return values;
}

// The varint field `number` of `message`, 0 when absent.
uint64_t Varint(const std::string &message, int number) {
  UnknownFieldSet fields;
  if (!fields.ParseFromString(message)) return 0;
  for (int i = 0; i < fields.field_count(); ++i) {
    const google::protobuf::UnknownField &field = fields.field(i);
    if (field.number() == number &&
        field.type() == google::protobuf::UnknownField::TYPE_VARINT) {
      return field.varint();
    }
  }
  return 0;
}

// One call that sends one message and takes any number back: a unary or
// server-streaming call on the wire. Through the generic stub, so no stub
// of the method is needed. gRPC's threads only queue the responses: the
// caller decodes them, since decoding may look up a type by reflection,
// which must not block a gRPC thread.
class OneRequestCall final
    : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  OneRequestCall(grpc::GenericStub &stub, grpc::ClientContext *context,
                 const std::string &method, const std::string &request) {
    grpc::Slice slice(request);
    request_ = grpc::ByteBuffer(&slice, 1);
    stub.PrepareBidiStreamingCall(context, method, grpc::StubOptions(), this);
    StartWriteLast(&request_, grpc::WriteOptions());
    StartRead(&response_);
    StartCall();
  }

  // The next response in order; nullopt once the call has ended, when
  // `status` is its status.
  std::optional<std::string> Next(grpc::Status &status) {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](OneRequestCall *call) ABSL_EXCLUSIVE_LOCKS_REQUIRED(call->mu_) {
          return !call->responses_.empty() || call->done_;
        },
        this));
    if (responses_.empty()) {
      status = status_;
      return std::nullopt;
    }
    std::string next = std::move(responses_.front());
    responses_.pop_front();
    return next;
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // the stream has ended; OnDone follows
    grpc::Slice slice;
    std::string bytes;
    if (response_.DumpToSingleSlice(&slice).ok()) {
      bytes.assign(reinterpret_cast<const char *>(slice.begin()), slice.size());
    }
    {
      absl::MutexLock lock(&mu_);
      responses_.push_back(std::move(bytes));
    }
    StartRead(&response_);
  }
  void OnDone(const grpc::Status &status) override {
    absl::MutexLock lock(&mu_);
    status_ = status;
    done_ = true;
  }

 private:
  grpc::ByteBuffer request_, response_;  // owned by the reactor's thread
  absl::Mutex mu_;
  std::deque<std::string> responses_ ABSL_GUARDED_BY(mu_);
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
  bool done_ ABSL_GUARDED_BY(mu_) = false;
};

// Calls `method` with `request` and hands each response to `on_response`,
// on this thread, as it comes.
absl::Status CallOnce(const std::shared_ptr<grpc::Channel> &channel,
                      const std::string &method, const std::string &request,
                      absl::Duration timeout,
                      const std::function<void(std::string)> &on_response,
                      const CallMetadata &metadata = {}) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  for (const auto &[key, value] : metadata) context.AddMetadata(key, value);
  if (timeout != absl::InfiniteDuration()) {
    context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  }
  OneRequestCall call(stub, &context, method, request);
  grpc::Status status;
  while (std::optional<std::string> response = call.Next(status)) {
    on_response(*std::move(response));
  }
  return service::FromGrpcStatus(status);
}

}  // namespace

absl::StatusOr<std::string> ReflectionDescriptorDatabase::Ask(
    int field, const std::string &value) {
  std::string request;
  UnknownFieldSet fields;
  fields.AddLengthDelimited(field, value);
  fields.SerializeToString(&request);
  std::vector<std::string> responses;
  absl::Status status =
      CallOnce(channel_, kReflectionMethod, request, kReflectionTimeout,
               [&](std::string r) { responses.push_back(std::move(r)); });
  if (!status.ok()) {
    return absl::Status(status.code(),
                        absl::StrCat("server reflection: ", status.message()));
  }
  if (responses.size() != 1) {
    return absl::DataLossError(absl::StrCat("server reflection answered with ",
                                            responses.size(),
                                            " messages, not one"));
  }
  if (std::vector<std::string> error = Strings(responses[0], kErrorResponse);
      !error.empty()) {
    const std::vector<std::string> message = Strings(error[0], kErrorMessage);
    return absl::Status(
        static_cast<absl::StatusCode>(Varint(error[0], kErrorCode)),
        absl::StrCat("server reflection: ",
                     message.empty() ? "error" : message[0]));
  }
  return responses[0];
}

bool ReflectionDescriptorDatabase::Fetch(int field, const std::string &value) {
  absl::StatusOr<std::string> response = Ask(field, value);
  if (!response.ok()) {
    last_error_ = response.status();
    return false;
  }
  const std::vector<std::string> files =
      Strings(*response, kFileDescriptorResponse);
  if (files.empty()) {
    last_error_ = absl::NotFoundError(
        absl::StrCat("server reflection sent no file for ", value));
    return false;
  }
  // The answer holds the file and the files it imports; some may be known.
  for (const std::string &bytes : Strings(files[0], kFileDescriptorProto)) {
    FileDescriptorProto file, known;
    if (file.ParseFromString(bytes) &&
        !cache_.FindFileByName(file.name(), &known)) {
      cache_.Add(file);
    }
  }
  return true;
}

bool ReflectionDescriptorDatabase::FindFileByName(const std::string &filename,
                                                  FileDescriptorProto *output) {
  return cache_.FindFileByName(filename, output) ||
         (Fetch(kFileByFilename, filename) &&
          cache_.FindFileByName(filename, output));
}

bool ReflectionDescriptorDatabase::FindFileContainingSymbol(
    const std::string &symbol_name, FileDescriptorProto *output) {
  return cache_.FindFileContainingSymbol(symbol_name, output) ||
         (Fetch(kFileContainingSymbol, symbol_name) &&
          cache_.FindFileContainingSymbol(symbol_name, output));
}

absl::StatusOr<std::vector<std::string>>
ReflectionDescriptorDatabase::ListServices() {
  absl::StatusOr<std::string> response = Ask(kListServices, "");
  if (!response.ok()) return response.status();
  std::vector<std::string> names;
  for (const std::string &list : Strings(*response, kListServicesResponse)) {
    for (const std::string &service : Strings(list, kService)) {
      for (std::string &name : Strings(service, kServiceName)) {
        names.push_back(std::move(name));
      }
    }
  }
  return names;
}

ReflectionClient::ReflectionClient(std::shared_ptr<grpc::Channel> channel,
                                   CallMetadata metadata)
    : channel_(channel),
      metadata_(std::move(metadata)),
      database_(channel),
      pool_(&database_),
      factory_(&pool_) {}

absl::Status ReflectionClient::Call(
    const std::string &method, const std::string &request_json,
    const std::function<void(const std::string &)> &on_response) {
  // "package.Service/Method" or "package.Service.Method".
  const size_t split = method.find('/') != std::string::npos
                           ? method.rfind('/')
                           : method.rfind('.');
  if (split == std::string::npos || split == 0 || split + 1 == method.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "method \"", method,
        "\" is not package.Service/Method (e.g. replex.v1.JobService/GetJob)"));
  }
  const std::string service_name =
      method.substr(method[0] == '/' ? 1 : 0, split - (method[0] == '/'));
  const std::string method_name = method.substr(split + 1);

  const google::protobuf::ServiceDescriptor *service =
      pool_.FindServiceByName(service_name);
  if (service == nullptr) {
    // Not reached, or no reflection: that is the error to report.
    if (!database_.last_error().ok() &&
        database_.last_error().code() != absl::StatusCode::kNotFound) {
      return database_.last_error();
    }
    absl::StatusOr<std::vector<std::string>> services = ListServices();
    return absl::InvalidArgumentError(absl::StrCat(
        "the server has no service \"", service_name, "\"",
        services.ok()
            ? absl::StrCat("; it serves ", absl::StrJoin(*services, ", "))
            : ""));
  }
  const google::protobuf::MethodDescriptor *rpc =
      service->FindMethodByName(method_name);
  if (rpc == nullptr) {
    std::vector<std::string> names;
    for (int i = 0; i < service->method_count(); ++i) {
      names.push_back(service->method(i)->name());
    }
    return absl::InvalidArgumentError(
        absl::StrCat(service_name, " has no method \"", method_name,
                     "\"; its methods are ", absl::StrJoin(names, ", ")));
  }
  if (rpc->client_streaming()) {
    return absl::InvalidArgumentError(absl::StrCat(
        rpc->full_name(),
        " is client-streaming; only unary and server-streaming methods can be "
        "called with one request"));
  }

  std::unique_ptr<google::protobuf::Message> request(
      factory_.GetPrototype(rpc->input_type())->New());
  google::protobuf::util::JsonParseOptions parse;
  if (auto status = google::protobuf::util::JsonStringToMessage(
          request_json, request.get(), parse);
      !status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the request is not a ", rpc->input_type()->full_name(),
                     " in JSON: ", std::string(status.message())));
  }

  const google::protobuf::Message *response_type =
      factory_.GetPrototype(rpc->output_type());
  google::protobuf::util::JsonPrintOptions print;
  print.add_whitespace = true;
  absl::Status decoding;
  absl::Status status = CallOnce(
      channel_, absl::StrCat("/", service->full_name(), "/", rpc->name()),
      request->SerializeAsString(), absl::InfiniteDuration(),
      [&](std::string bytes) {
        std::unique_ptr<google::protobuf::Message> response(
            response_type->New());
        std::string json;
        if (!response->ParseFromString(bytes) ||
            !google::protobuf::util::MessageToJsonString(*response, &json,
                                                         print)
                 .ok()) {
          decoding = absl::DataLossError(absl::StrCat(
              "a response is not a ", rpc->output_type()->full_name()));
          return;
        }
        on_response(json);
      },
      metadata_);
  return status.ok() ? decoding : status;
}

}  // namespace replex::grpc_tools
