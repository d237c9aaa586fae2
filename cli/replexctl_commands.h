// What replexctl's main (replexctl_main.cc) dispatches to once a command's
// arguments are checked: one function per command, defined in the file of
// its group, and what the groups share (exit codes, --json). Internal to
// replexctl.
#pragma once

#include <string>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "google/protobuf/message.h"
#include "lib/client/jobs_client.h"
#include "lib/service/process.h"
#include "lib/service/tls.h"

ABSL_DECLARE_FLAG(bool, json);
ABSL_DECLARE_FLAG(std::string, state);
ABSL_DECLARE_FLAG(std::string, owner);
ABSL_DECLARE_FLAG(std::string, label);
ABSL_DECLARE_FLAG(std::string, platform);

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
// `replexctl spec`: the job file's SubmitJobRequest as JSON on stdout, what
// `submit` would send (for grpcurl, and the Python client's YAML files).
absl::Status PrintSubmitRequest(const std::string& path);
// The jobs in `states` (all when empty) whose owner is `owner` (any when
// empty) and that carry every label of `labels` ("KEY=VALUE" each).
struct JobFilter {
  std::vector<v1::JobState> states;
  std::string owner;
  std::vector<std::string> labels;
};
// JobFilter from --state (comma-separated state names, any case), --owner
// and --label (comma-separated KEY=VALUE); INVALID_ARGUMENT naming the flag.
absl::StatusOr<JobFilter> FilterFromFlags();
absl::Status List(client::JobsClient& client, const JobFilter& filter);
// The exit code: 0, or 1 for a FAILED job and 3 for a CANCELLED one.
absl::StatusOr<int> Status(client::JobsClient& client, const std::string& id);
absl::Status Cancel(client::JobsClient& client, const std::string& id);
absl::Status Extend(client::JobsClient& client, const std::string& id,
                    int64_t rounds);

// watch_command.cc
// The exit code: 0 SUCCEEDED, 1 FAILED, 3 CANCELLED. `quiet` (`wait`): no
// progress, only the final state.
absl::StatusOr<int> Watch(client::JobsClient& client, const std::string& id,
                          bool quiet = false);

// results_commands.cc
// `path`: one file of the results (relative to the results directory);
// empty for all.
absl::Status Fetch(client::JobsClient& client, const std::string& id,
                   const std::string& dir, const std::string& path);
absl::Status Report(client::JobsClient& client, const std::string& id,
                    const std::string& html_file);

// server_commands.cc
// The exit code: 0 SERVING, 1 any other status (the server says why).
absl::StatusOr<int> Health(const std::string& address,
                           const service::ChannelSecurity& security);
// `replexctl call`: the request from `json`, or from stdin when it is "-".
// `token`, when set, goes as "authorization: Bearer TOKEN".
absl::Status Call(const std::string& address,
                  const service::ChannelSecurity& security,
                  const std::string& token, const std::string& method,
                  const std::string& json);

}  // namespace replex::cli
