// What replexctl's main (replexctl_main.cc) dispatches to once a command's
// arguments are checked: one function per command, defined in the file of
// its group, and what the groups share (exit codes, --json). Internal to
// replexctl.
#pragma once

#include <string>

#include "absl/flags/declare.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "google/protobuf/message.h"
#include "lib/client/jobs_client.h"
#include "lib/service/process.h"
#include "lib/service/tls.h"

ABSL_DECLARE_FLAG(bool, json);

namespace replex::cli {

inline constexpr int kExitFailed = service::kExitFailed;
inline constexpr int kExitUsage = service::kExitUsage;
// `watch`: the job was CANCELLED.
inline constexpr int kExitCancelled = 3;

// What --json prints: `message` on one line, proto field names, every field
// present.
absl::Status PrintJson(const google::protobuf::Message& message);

// jobs_commands.cc
absl::Status Submit(client::JobsClient& client, const std::string& path);
absl::Status List(client::JobsClient& client);
absl::Status Status(client::JobsClient& client, const std::string& id);
absl::Status Cancel(client::JobsClient& client, const std::string& id);
absl::Status Extend(client::JobsClient& client, const std::string& id,
                    int64_t rounds);

// watch_command.cc
// The exit code: 0 SUCCEEDED, 1 FAILED, 3 CANCELLED.
absl::StatusOr<int> Watch(client::JobsClient& client, const std::string& id);

// results_commands.cc
absl::Status Fetch(client::JobsClient& client, const std::string& id,
                   const std::string& dir);
absl::Status Report(client::JobsClient& client, const std::string& id,
                    const std::string& html_file);

// server_commands.cc
// The exit code: 0 SERVING, 1 any other status (the server says why).
absl::StatusOr<int> Health(const std::string& address,
                           const service::ChannelSecurity& security);
// `replexctl call`: the request from `json`, or from stdin when it is "-".
absl::Status Call(const std::string& address,
                  const service::ChannelSecurity& security,
                  const std::string& method, const std::string& json);

}  // namespace replex::cli
