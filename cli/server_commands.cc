// replexctl's commands for any replex server, through no replex proto:
// health asks grpc.health.v1, call calls a method learnt by reflection.
#include <cstdio>
#include <iostream>
#include <iterator>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "cli/replexctl_commands.h"
#include "lib/grpc_tools/health_probe.h"
#include "lib/grpc_tools/reflection_client.h"
#include "lib/service/auth.h"
#include "lib/service/tls.h"

namespace replex::cli {

absl::StatusOr<int> Health(const std::string& address,
                           const service::ChannelSecurity& security) {
  absl::StatusOr<std::string> serving =
      grpc_tools::CheckHealth(service::CreateChannel(address, security));
  if (!serving.ok()) {
    const bool unreachable =
        serving.status().code() == absl::StatusCode::kUnavailable;
    return absl::Status(
        serving.status().code(),
        absl::StrCat(address, ": ", serving.status().message(),
                     unreachable ? security.UnreachableHint() : ""));
  }
  std::printf("%s %s\n", address.c_str(), serving->c_str());
  return *serving == "SERVING" ? 0 : kExitFailed;
}

absl::Status Call(const std::string& address,
                  const service::ChannelSecurity& security,
                  const std::string& token, const std::string& method,
                  const std::string& json) {
  std::string request = json;
  if (json == "-") {
    request.assign(std::istreambuf_iterator<char>(std::cin),
                   std::istreambuf_iterator<char>());
  }
  grpc_tools::CallMetadata metadata;
  if (!token.empty()) {
    metadata.emplace_back(service::kAuthorizationKey,
                          absl::StrCat("Bearer ", token));
  }
  grpc_tools::ReflectionClient client(service::CreateChannel(address, security),
                                      std::move(metadata));
  absl::Status status =
      client.Call(method, request, [](const std::string& response) {
        std::printf("%s\n", response.c_str());
        std::fflush(stdout);
      });
  if (status.code() != absl::StatusCode::kUnavailable) return status;
  return absl::UnavailableError(
      absl::StrCat(address, ": ", status.message(),
                   "; point replexctl at a server with --gateway=HOST:PORT or "
                   "REPLEX_GATEWAY=HOST:PORT",
                   security.UnreachableHint()));
}

}  // namespace replex::cli
