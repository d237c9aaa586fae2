#include "lib/service/server.h"

#include <unistd.h>

#include <atomic>
#include <csignal>
#include <mutex>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "grpc/health/v1/health.pb.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/resource_quota.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"
#include "grpcpp/support/server_interceptor.h"
#include "lib/files/atomic_file.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace replex::service {
namespace {

std::atomic<bool> termination_requested{false};
int signal_pipe[2] = {-1, -1};

void OnSignal(int) {
  termination_requested = true;
  const char byte = 1;
  // Async-signal-safe wake-up of WaitForTerminationSignal.
  [[maybe_unused]] ssize_t ignored = write(signal_pipe[1], &byte, 1);
}

// The families of every server in the process (one registry may serve
// several), shared by the interceptors of every call.
struct GrpcMetrics {
  explicit GrpcMetrics(prometheus::Registry& registry)
      : started(prometheus::BuildCounter()
                    .Name("grpc_server_started_total")
                    .Help("RPCs started on the server.")
                    .Register(registry)),
        handled(prometheus::BuildCounter()
                    .Name("grpc_server_handled_total")
                    .Help("RPCs completed on the server, by status code.")
                    .Register(registry)),
        handling(prometheus::BuildHistogram()
                     .Name("grpc_server_handling_seconds")
                     .Help("Time from an RPC's start to its status being "
                           "sent (streams: the whole stream).")
                     .Register(registry)) {}
  prometheus::Family<prometheus::Counter>& started;
  prometheus::Family<prometheus::Counter>& handled;
  prometheus::Family<prometheus::Histogram>& handling;
};

// The grpc_code names of Grafana's gRPC dashboards (Go's codes.Code names).
const char* CodeName(grpc::StatusCode code) {
  static constexpr const char* kNames[] = {"OK",
                                           "Canceled",
                                           "Unknown",
                                           "InvalidArgument",
                                           "DeadlineExceeded",
                                           "NotFound",
                                           "AlreadyExists",
                                           "PermissionDenied",
                                           "ResourceExhausted",
                                           "FailedPrecondition",
                                           "Aborted",
                                           "OutOfRange",
                                           "Unimplemented",
                                           "Internal",
                                           "Unavailable",
                                           "DataLoss",
                                           "Unauthenticated"};
  const int index = static_cast<int>(code);
  return index >= 0 && index < 17 ? kNames[index] : "Unknown";
}

const char* TypeName(grpc::experimental::ServerRpcInfo::Type type) {
  using Type = grpc::experimental::ServerRpcInfo::Type;
  switch (type) {
    case Type::UNARY:
      return "unary";
    case Type::CLIENT_STREAMING:
      return "client_stream";
    case Type::SERVER_STREAMING:
      return "server_stream";
    case Type::BIDI_STREAMING:
      return "bidi_stream";
  }
  return "unknown";
}

// One per call: created when the call starts, destroyed when it is over.
class MetricsInterceptor : public grpc::experimental::Interceptor {
 public:
  MetricsInterceptor(GrpcMetrics* metrics,
                     grpc::experimental::ServerRpcInfo* info)
      : metrics_(metrics), start_(absl::Now()) {
    // "/package.Service/Method"
    const std::string full = info->method() != nullptr ? info->method() : "";
    const size_t slash = full.rfind('/');
    labels_ = {{"grpc_service", slash == std::string::npos || slash == 0
                                    ? full
                                    : full.substr(1, slash - 1)},
               {"grpc_method",
                slash == std::string::npos ? full : full.substr(slash + 1)},
               {"grpc_type", TypeName(info->type())}};
    metrics_->started.Add(labels_).Increment();
  }
  ~MetricsInterceptor() override {
    // A call that ends without a status of its own (the client went away).
    if (!handled_) Handled(grpc::StatusCode::CANCELLED);
  }

  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS)) {
      Handled(methods->GetSendStatus().error_code());
    }
    methods->Proceed();
  }

 private:
  void Handled(grpc::StatusCode code) {
    if (std::exchange(handled_, true)) return;
    metrics_->handling
        .Add(labels_,
             prometheus::Histogram::BucketBoundaries{
                 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60, 600, 3600})
        .Observe(absl::ToDoubleSeconds(absl::Now() - start_));
    prometheus::Labels with_code = labels_;
    with_code["grpc_code"] = CodeName(code);
    metrics_->handled.Add(with_code).Increment();
  }

  GrpcMetrics* const metrics_;
  const absl::Time start_;
  prometheus::Labels labels_;
  bool handled_ = false;
};

class MetricsInterceptorFactory
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit MetricsInterceptorFactory(prometheus::Registry& registry)
      : metrics_(registry) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new MetricsInterceptor(&metrics_, info);
  }

 private:
  GrpcMetrics metrics_;
};

}  // namespace

void InstallTerminationHandlers() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (pipe(signal_pipe) != 0) return;
    struct sigaction action = {};
    action.sa_handler = OnSignal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGTERM, &action, nullptr);
    sigaction(SIGINT, &action, nullptr);
  });
}

absl::StatusOr<RunningServer> StartServer(
    const ServerOptions& options, const std::vector<grpc::Service*>& services) {
  // Both must be set before the builder is created.
  grpc::EnableDefaultHealthCheckService(true);
  // Links the health protocol's descriptor into the generated pool, where
  // reflection finds it (proto/grpc/health/v1/health.proto says why).
  (void)grpc::health::v1::HealthCheckRequest::descriptor();
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  RunningServer running;
  builder.AddListeningPort(options.address,
                           options.credentials != nullptr
                               ? options.credentials
                               : grpc::InsecureServerCredentials(),
                           &running.port);
  builder.SetMaxReceiveMessageSize(options.max_message_bytes);
  builder.SetMaxSendMessageSize(options.max_message_bytes);
  grpc::ResourceQuota quota("replex-server");
  quota.SetMaxThreads(options.max_threads);
  builder.SetResourceQuota(quota);
  // Keepalive: the server pings a quiet connection every minute and drops
  // it when the ping goes unanswered for 20 s (a peer gone without a FIN);
  // clients may ping it at most every 10 s, and one that pings more often
  // is disconnected (ping floods).
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 60'000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20'000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(
      GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10'000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 2);
  for (grpc::Service* service : services) builder.RegisterService(service);
  if (options.metrics != nullptr) {
    std::vector<
        std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
        interceptors;
    interceptors.push_back(
        std::make_unique<MetricsInterceptorFactory>(*options.metrics));
    builder.experimental().SetInterceptorCreators(std::move(interceptors));
  }
  running.server = builder.BuildAndStart();
  if (running.server == nullptr || running.port == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot listen on ", options.address,
                     ": is the address valid and the port free?"));
  }
  return running;
}

absl::Status WritePortFile(const std::string& path, int port) {
  absl::Status written =
      files::WriteFileAtomically(path, absl::StrCat(port, "\n"));
  if (written.ok()) return written;
  return absl::FailedPreconditionError(
      absl::StrCat("cannot write --port_file: ", written.message()));
}

void WaitForTerminationSignal() {
  InstallTerminationHandlers();
  char byte;
  while (!termination_requested) {
    if (read(signal_pipe[0], &byte, 1) < 0 && errno != EINTR) break;
  }
}

bool TerminationRequested() { return termination_requested; }

}  // namespace replex::service
