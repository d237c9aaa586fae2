#include "lib/service/server.h"

#include <atomic>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <mutex>

#include <unistd.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"

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
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  RunningServer running;
  builder.AddListeningPort(options.address, grpc::InsecureServerCredentials(),
                           &running.port);
  builder.SetMaxReceiveMessageSize(options.max_message_bytes);
  builder.SetMaxSendMessageSize(options.max_message_bytes);
  for (grpc::Service* service : services) builder.RegisterService(service);
  running.server = builder.BuildAndStart();
  if (running.server == nullptr || running.port == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot listen on ", options.address,
                     ": is the address valid and the port free?"));
  }
  return running;
}

absl::Status WritePortFile(const std::string& path, int port) {
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << port << "\n";
    if (!out.flush()) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot write --port_file ", temporary));
    }
  }
  std::error_code error;
  std::filesystem::rename(temporary, path, error);
  if (error) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot write --port_file ", path, ": ", error.message()));
  }
  return absl::OkStatus();
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
