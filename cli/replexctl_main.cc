// `replexctl`: the replex cluster's command line. It talks only to
// replex-gateway: submits jobs, lists them, shows one, watches one live and
// cancels one. What it prints is built in replexctl_format.
#include <pwd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cli/replexctl_format.h"
#include "google/protobuf/util/json_util.h"
#include "lib/client/grpc_jobs_client.h"
#include "lib/grpc_tools/health_probe.h"
#include "lib/grpc_tools/reflection_client.h"
#include "lib/results/report_html.h"
#include "lib/results/results.h"
#include "lib/service/tls_flags.h"
#include "lib/spec/spec.h"

namespace {

std::string DefaultGateway() {
  const char* env = std::getenv("REPLEX_GATEWAY");
  return env != nullptr && *env != '\0' ? env : "localhost:8080";
}

}  // namespace

ABSL_FLAG(std::string, gateway, DefaultGateway(),
          "The replex-gateway to talk to, host:port. Defaults to "
          "$REPLEX_GATEWAY, else localhost:8080.");
ABSL_FLAG(std::string, html, "",
          "`report`: also write the job's report as one self-contained HTML "
          "page (inline SVG plots) to this file.");
ABSL_FLAG(bool, json, false,
          "Machine-readable output: the API's messages as JSON (proto field "
          "names, every field present) on stdout; `watch` prints one JobEvent "
          "per line.");

namespace replex::cli {
namespace {

constexpr char kUsage[] =
    R"(replexctl: submit, inspect, watch and cancel replex jobs through a replex-gateway.

Usage: replexctl [--gateway=HOST:PORT] [--json] [--tls_ca=PEM ...] COMMAND [ARGS]

Commands:
  submit JOB.yaml   Validate the job file (docs/job-spec.md), upload it with
                    the files it names, and print the new job's id, alone on
                    stdout: id=$(replexctl submit job.yaml). The owner defaults
                    to $USER when the file sets none.
  status [ID]       Without ID, the table of all jobs (same as `list`); with
                    ID, the job in detail: progress, acceptance per rung pair
                    with temperatures, round trips, ns/day, workers, times,
                    and the error if it failed.
  list              The table of all jobs: id, name, owner, state, rounds
                    done/total, acceptance range over pairs, ns/day, age.
  watch ID          Follow the job live until it ends: rounds, %, ns/day, ETA,
                    acceptance per pair. On a terminal the line is redrawn in
                    place; otherwise a line about every 5% of the job, so logs
                    stay readable. Reconnects if the gateway restarts.
  cancel ID         Stop a queued or running job and free its workers.
  fetch ID DIR      Download the job's results (docs/results.md; also while
                    it runs) into DIR, which may exist but no file in it is
                    ever overwritten; progress on stderr.
  report ID [--html=FILE]
                    Print the job's analysis (acceptance per pair, round
                    trips, second eigenvalue, ns/day); --html also writes the
                    HTML report with its plots to FILE.
  health [HOST:PORT]
                    Ask a replex server (the gateway, or the coordinator at
                    its --listen address) for its grpc.health.v1 status and
                    print it; exit 0 only if SERVING. For container health
                    checks.
  call METHOD [JSON]
                    Call any method of the server at --gateway, e.g.
                    replex.v1.JobService/GetJob '{"job_id": "ID"}', learning
                    its types by server reflection alone (what grpcurl does;
                    the same JSON works for both). JSON is the request (proto
                    or JSON field names; default {}, - reads it from stdin);
                    each response is printed as JSON (camelCase, fields at
                    their defaults left out), one per message of a stream.

Exit status: 0 done (watch: the job SUCCEEDED); 1 an error, or (watch) the job
FAILED, or (health) the server is not SERVING; 2 a usage error, an invalid job
file, or a malformed or unknown job id; 3 (watch) the job was CANCELLED.

Flags:
)";

constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;
constexpr int kExitCancelled = 3;

int ExitCodeFor(const absl::Status& status) {
  return status.code() == absl::StatusCode::kInvalidArgument ||
                 status.code() == absl::StatusCode::kNotFound
             ? kExitUsage
             : kExitFailed;
}

// Breaks `text` into lines of at most `width` characters, each indented.
std::string Wrap(const std::string& text, int width,
                 const std::string& indent) {
  std::string out, line;
  for (absl::string_view word : absl::StrSplit(text, ' ', absl::SkipEmpty())) {
    if (!line.empty() &&
        line.size() + 1 + word.size() > static_cast<size_t>(width)) {
      absl::StrAppend(&out, indent, line, "\n");
      line.clear();
    }
    absl::StrAppend(&line, line.empty() ? "" : " ", word);
  }
  if (!line.empty()) absl::StrAppend(&out, indent, line, "\n");
  return out;
}

// The usage text with each flag's own help, so the two never disagree.
std::string Usage() {
  std::string usage = kUsage;
  for (const char* name :
       {"gateway", "json", "html", "tls_ca", "tls_client_cert",
        "tls_client_key", "tls_server_name"}) {
    const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    absl::StrAppend(&usage, "  --", name, " (now ", flag->CurrentValue(), ")\n",
                    Wrap(flag->Help(), 72, "      "));
  }
  return usage;
}

// The first flag in argv that no library defines, or "". absl's parser
// would report it too, but exit 1, and an unknown flag is a usage error (2).
std::string UnknownFlag(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--") break;
    if (!absl::ConsumePrefix(&arg, "-") || arg.empty()) continue;
    absl::ConsumePrefix(&arg, "-");
    const absl::string_view name = arg.substr(0, arg.find('='));
    const bool negated_bool = absl::StartsWith(name, "no") &&
                              absl::FindCommandLineFlag(name.substr(2));
    if (!absl::FindCommandLineFlag(name) && !negated_bool) {
      return std::string(argv[i]);
    }
  }
  return "";
}

std::string LoginName() {
  for (const char* variable : {"USER", "LOGNAME"}) {
    const char* value = std::getenv(variable);
    if (value != nullptr && *value != '\0') return value;
  }
  const passwd* entry = getpwuid(getuid());
  return entry != nullptr ? entry->pw_name : "";
}

std::unique_ptr<client::GrpcJobsClient> Connect(
    const service::ChannelSecurity& security) {
  client::GrpcJobsClientOptions options;
  options.address = absl::GetFlag(FLAGS_gateway);
  options.peer = "gateway";
  options.security = security;
  options.unreachable_hint = absl::StrCat(
      "; start replex-gateway there, or point replexctl at one with "
      "--gateway=HOST:PORT or REPLEX_GATEWAY=HOST:PORT",
      security.UnreachableHint());
  // The gateway knows its limit and says so; refusing here would only guess.
  options.max_send_bytes = -1;
  // Uploading a large System can take a while.
  options.timeout = absl::Minutes(2);
  return std::make_unique<client::GrpcJobsClient>(options);
}

absl::Status PrintJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string json;
  const auto status =
      google::protobuf::util::MessageToJsonString(message, &json, options);
  if (!status.ok()) {
    return absl::InternalError(
        absl::StrCat("cannot print JSON: ", status.ToString()));
  }
  std::printf("%s\n", json.c_str());
  std::fflush(stdout);
  return absl::OkStatus();
}

absl::Status Submit(client::JobsClient& client, const std::string& path) {
  absl::StatusOr<v1::JobSpec> spec = spec::LoadYamlFile(path);
  // Problems inside the file name its field; say which file. Unreadable
  // files are named already.
  if (spec.status().code() == absl::StatusCode::kInvalidArgument) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", spec.status().message()));
  }
  if (!spec.ok()) return spec.status();
  if (spec->owner().empty()) spec->set_owner(LoginName());
  v1::SubmitJobRequest request;
  *request.mutable_spec() = *std::move(spec);
  absl::StatusOr<v1::SubmitJobResponse> response = client.SubmitJob(request);
  if (!response.ok()) {
    // Past the gateway's receive limit gRPC itself refuses, without naming
    // the flag that raises it.
    if (response.status().code() == absl::StatusCode::kResourceExhausted &&
        !absl::StrContains(response.status().message(),
                           "--max_message_bytes")) {
      return absl::ResourceExhaustedError(absl::StrCat(
          response.status().message(),
          "; the gateway refuses jobs this large: start replex-gateway "
          "with a larger --max_message_bytes"));
    }
    return response.status();
  }
  if (absl::GetFlag(FLAGS_json)) return PrintJson(*response);
  std::printf("%s\n", response->job_id().c_str());
  return absl::OkStatus();
}

absl::Status List(client::JobsClient& client) {
  absl::StatusOr<v1::ListJobsResponse> response = client.ListJobs({});
  if (!response.ok()) return response.status();
  if (absl::GetFlag(FLAGS_json)) return PrintJson(*response);
  if (response->jobs().empty()) {
    std::printf("no jobs\n");
    return absl::OkStatus();
  }
  std::printf(
      "%s",
      JobsTable({response->jobs().begin(), response->jobs().end()}, absl::Now())
          .c_str());
  return absl::OkStatus();
}

absl::Status Status(client::JobsClient& client, const std::string& id) {
  v1::GetJobRequest request;
  request.set_job_id(id);
  absl::StatusOr<v1::Job> job = client.GetJob(request);
  if (!job.ok()) return job.status();
  if (absl::GetFlag(FLAGS_json)) return PrintJson(*job);
  std::printf("%s", JobDetail(*job, absl::Now()).c_str());
  return absl::OkStatus();
}

absl::Status Cancel(client::JobsClient& client, const std::string& id) {
  v1::CancelJobRequest request;
  request.set_job_id(id);
  absl::StatusOr<v1::Job> job = client.CancelJob(request);
  if (!job.ok()) return job.status();
  if (absl::GetFlag(FLAGS_json)) return PrintJson(*job);
  std::printf("job %s: %s\n", id.c_str(), StateName(job->state()).c_str());
  return absl::OkStatus();
}

// Where the watch's progress goes: redrawn in place on a terminal, a line
// every ~5% in a log, or JSON events. Not thread-safe.
class WatchDisplay {
 public:
  WatchDisplay()
      : json_(absl::GetFlag(FLAGS_json)),
        terminal_(!json_ && isatty(STDOUT_FILENO)) {}

  void Show(const v1::JobEvent& event, const WatchProgress& progress,
            bool log_line_due) {
    const absl::Time now = absl::Now();
    if (json_) {
      PrintJson(event).IgnoreError();
    } else if (terminal_) {
      // Redraws are cheap but not free; fast toy jobs emit thousands of
      // rounds a second.
      if (event.has_snapshot() || progress.ended() ||
          now - last_draw_ >= absl::Milliseconds(100)) {
        std::printf(
            "\r\033[K%s",
            FitWidth(progress.Line(now, kBarWidth), Columns() - 1).c_str());
        std::fflush(stdout);
        last_draw_ = now;
        drawn_ = true;
      }
    } else if (log_line_due) {
      std::printf("%s\n", progress.Line(now).c_str());
      std::fflush(stdout);
    }
  }

  // Ends a redrawn line, before anything else is printed.
  void EndLine() {
    if (drawn_) std::printf("\n");
    std::fflush(stdout);
    drawn_ = false;
  }

  bool json() const { return json_; }

 private:
  static constexpr int kBarWidth = 24;

  static int Columns() {
    winsize size{};
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) {
      return size.ws_col;
    }
    return 80;
  }

  const bool json_;
  const bool terminal_;
  absl::Time last_draw_ = absl::InfinitePast();
  bool drawn_ = false;
};

// Follows one job until it ends: displays its watch stream, watches again
// when a gateway goes away, and refreshes the totals that round events do not
// carry. Not thread-safe.
class JobWatcher {
 public:
  JobWatcher(client::JobsClient& client, const std::string& id)
      : client_(client), id_(id) {}

  // OK once the job has ended (its final state is in progress()).
  absl::Status Follow() {
    // A gateway going away (restart, rollout) ends the stream with
    // UNAVAILABLE, and a watcher that fell far behind with
    // RESOURCE_EXHAUSTED. Any gateway resumes a watch with a fresh snapshot,
    // so retry a few times; but fail at once if the very first attempt gets
    // nowhere (wrong address, no such job).
    constexpr int kMaxRetriesWithoutEvents = 5;
    v1::WatchJobRequest request;
    request.set_job_id(id_);
    int retries = 0;
    absl::Duration backoff = absl::Seconds(1);
    client::StopSignal never_stopped;  // Ctrl-C simply ends the process
    while (true) {
      bool got_event = false;
      const absl::Status status = client_.WatchJob(
          request, never_stopped, [&](const v1::JobEvent& event) {
            got_event = ever_got_event_ = true;
            OnEvent(event);
            return true;
          });
      if (status.ok() || progress_.ended()) break;
      if (got_event) {
        retries = 0;
        backoff = absl::Seconds(1);
      }
      display_.EndLine();
      const bool retriable =
          status.code() == absl::StatusCode::kUnavailable ||
          status.code() == absl::StatusCode::kResourceExhausted;
      if (!retriable || !ever_got_event_ ||
          ++retries > kMaxRetriesWithoutEvents) {
        return status;
      }
      std::fprintf(stderr, "replexctl: lost the watch (%s); retrying in %s\n",
                   std::string(status.message()).c_str(),
                   absl::FormatDuration(backoff).c_str());
      absl::SleepFor(backoff);
      backoff = std::min(backoff * 2, absl::Seconds(8));
    }
    display_.EndLine();
    // The stream ended OK before the job did: the contract says it cannot,
    // but the final state is one call away.
    if (!progress_.ended()) return Refresh(absl::Now());
    return absl::OkStatus();
  }

  const WatchProgress& progress() const { return progress_; }
  bool json() const { return display_.json(); }

 private:
  void OnEvent(const v1::JobEvent& event) {
    progress_.Apply(event, absl::Now());
    display_.Show(event, progress_, progress_.TakeLogLine());
  }

  absl::Status Refresh(absl::Time now) {
    v1::GetJobRequest get;
    get.set_job_id(id_);
    absl::StatusOr<v1::Job> job = client_.GetJob(get);
    if (!job.ok()) return job.status();
    // A snapshot at least as new as the stream: its later round events for
    // rounds the snapshot counts are skipped by Apply.
    v1::JobEvent snapshot;
    *snapshot.mutable_snapshot() = *std::move(job);
    progress_.Apply(snapshot, now);
    return absl::OkStatus();
  }

  client::JobsClient& client_;
  const std::string id_;
  WatchProgress progress_;
  WatchDisplay display_;
  bool ever_got_event_ = false;
};

// The exit code: 0 SUCCEEDED, 1 FAILED, 3 CANCELLED.
absl::StatusOr<int> Watch(client::JobsClient& client, const std::string& id) {
  JobWatcher watcher(client, id);
  if (absl::Status status = watcher.Follow(); !status.ok()) return status;
  const v1::Job& job = watcher.progress().job();
  switch (job.state()) {
    case v1::SUCCEEDED:
      if (!watcher.json()) {
        std::printf("job %s SUCCEEDED after %lld rounds\n", id.c_str(),
                    static_cast<long long>(job.rounds_completed()));
      }
      return 0;
    case v1::FAILED:
      std::fprintf(
          stderr, "replexctl: error: job %s FAILED: %s\n", id.c_str(),
          job.error().empty() ? "(no error given)" : job.error().c_str());
      return kExitFailed;
    case v1::CANCELLED:
      if (!watcher.json()) std::printf("job %s was CANCELLED\n", id.c_str());
      return kExitCancelled;
    default:
      return absl::InternalError(absl::StrCat("the watch of job ", id,
                                              " ended while it is ",
                                              StateName(job.state())));
  }
}

// The exit code: 0 SERVING, 1 any other status (the server says why).
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

// `replexctl call`: the request from `json`, or from stdin when it is "-".
absl::Status Call(const std::string& address,
                  const service::ChannelSecurity& security,
                  const std::string& method, const std::string& json) {
  std::string request = json;
  if (json == "-") {
    request.assign(std::istreambuf_iterator<char>(std::cin),
                   std::istreambuf_iterator<char>());
  }
  grpc_tools::ReflectionClient client(
      service::CreateChannel(address, security));
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

// Calls `on_chunk` for each chunk of the job's results (`path`, or all).
absl::Status Download(client::JobsClient& client, const std::string& id,
                      const std::string& path,
                      const client::ResultsChunkCallback& on_chunk) {
  v1::DownloadResultsRequest request;
  request.set_job_id(id);
  request.set_path(path);
  return client.DownloadResults(request, on_chunk);
}

absl::StatusOr<std::string> DownloadText(client::JobsClient& client,
                                         const std::string& id,
                                         const std::string& path) {
  std::string text;
  absl::Status status =
      Download(client, id, path, [&](const v1::ResultsChunk& chunk) {
        text += chunk.data();
        return true;
      });
  if (!status.ok()) return status;
  return text;
}

absl::Status AlreadyThere(const std::filesystem::path& path) {
  return absl::AlreadyExistsError(
      absl::StrCat(path.string(),
                   " exists; replexctl never overwrites a file: fetch into "
                   "an empty directory or move it away"));
}

absl::Status Fetch(client::JobsClient& client, const std::string& id,
                   const std::string& dir) {
  std::ofstream out;
  std::filesystem::path current;
  int64_t files = 0, bytes = 0;
  absl::Status problem;
  absl::Status status =
      Download(client, id, "", [&](const v1::ResultsChunk& chunk) {
        if (chunk.offset() == 0) {
          current = std::filesystem::path(dir) / chunk.path();
          std::error_code error;
          if (std::filesystem::exists(current, error)) {
            problem = AlreadyThere(current);
            return false;
          }
          std::filesystem::create_directories(current.parent_path(), error);
          out = std::ofstream(current, std::ios::binary);
          ++files;
        }
        out.write(chunk.data().data(), chunk.data().size());
        bytes += chunk.data().size();
        if (!out) {
          problem = absl::InternalError(
              absl::StrCat("cannot write ", current.string()));
          return false;
        }
        if (chunk.eof()) {
          out.close();
          std::fprintf(stderr, "  %-32s %12lld bytes\n", chunk.path().c_str(),
                       static_cast<long long>(chunk.size()));
        }
        return true;
      });
  if (!problem.ok()) return problem;
  if (!status.ok()) return status;
  std::fprintf(stderr, "fetched %lld files, %lld bytes, into %s\n",
               static_cast<long long>(files), static_cast<long long>(bytes),
               dir.c_str());
  return absl::OkStatus();
}

absl::Status Report(client::JobsClient& client, const std::string& id,
                    const std::string& html_file) {
  absl::StatusOr<std::string> analysis =
      DownloadText(client, id, results::kAnalysisFile);
  if (!analysis.ok()) return analysis.status();
  if (absl::GetFlag(FLAGS_json)) {
    std::printf("%s", analysis->c_str());
  } else {
    absl::StatusOr<std::string> table = AnalysisTable(*analysis);
    if (!table.ok()) return table.status();
    std::printf("%s", table->c_str());
  }
  if (html_file.empty()) return absl::OkStatus();
  if (std::filesystem::exists(html_file)) return AlreadyThere(html_file);
  absl::StatusOr<std::string> energies =
      DownloadText(client, id, results::kEnergiesFile);
  if (!energies.ok()) return energies.status();
  absl::StatusOr<std::string> exchange =
      DownloadText(client, id, results::kExchangeFile);
  if (!exchange.ok()) return exchange.status();
  absl::StatusOr<std::string> html =
      results::ReportHtml({id, *analysis, *energies, *exchange});
  if (!html.ok()) return html.status();
  std::ofstream(html_file, std::ios::binary) << *html;
  std::fprintf(stderr, "wrote %s\n", html_file.c_str());
  return absl::OkStatus();
}

absl::StatusOr<int> Run(const std::vector<std::string>& args) {
  auto usage_error = [](const std::string& problem) {
    return absl::InvalidArgumentError(
        absl::StrCat(problem, "; see replexctl --help"));
  };
  if (args.empty()) return usage_error("no command given");
  const std::string& command = args[0];
  const size_t operands = args.size() - 1;
  // Checked before connecting, so a typo costs no round trip.
  struct Arity {
    const char* command;
    size_t min, max;
    const char* operand;
  };
  constexpr Arity kArities[] = {{"submit", 1, 1, "a job file"},
                                {"status", 0, 1, "at most one job id"},
                                {"list", 0, 0, "nothing"},
                                {"watch", 1, 1, "one job id"},
                                {"cancel", 1, 1, "one job id"},
                                {"fetch", 2, 2, "a job id and a directory"},
                                {"report", 1, 1, "one job id"},
                                {"health", 0, 1, "at most one HOST:PORT"},
                                {"call", 1, 2, "a method and a JSON request"}};
  const Arity* arity =
      std::find_if(std::begin(kArities), std::end(kArities),
                   [&](const Arity& a) { return command == a.command; });
  if (arity == std::end(kArities)) {
    return usage_error(absl::StrCat(
        "unknown command \"", command,
        "\"; the commands are submit, status, list, watch, cancel, fetch, "
        "report, health and call"));
  }
  if (operands < arity->min || operands > arity->max) {
    return usage_error(absl::StrCat("`", command, "` takes ", arity->operand));
  }

  absl::StatusOr<service::ChannelSecurity> security =
      service::ChannelSecurityFromFlags();
  if (!security.ok()) return security.status();
  if (command == "health") {
    return Health(operands == 1 ? args[1] : absl::GetFlag(FLAGS_gateway),
                  *security);
  }
  if (command == "call") {
    absl::Status called = Call(absl::GetFlag(FLAGS_gateway), *security, args[1],
                               operands == 2 ? args[2] : "{}");
    if (!called.ok()) return called;
    return 0;
  }
  std::unique_ptr<client::GrpcJobsClient> client = Connect(*security);
  if (command == "watch") return Watch(*client, args[1]);
  absl::Status status;
  if (command == "submit") {
    status = Submit(*client, args[1]);
  } else if (command == "cancel") {
    status = Cancel(*client, args[1]);
  } else if (command == "fetch") {
    status = Fetch(*client, args[1], args[2]);
  } else if (command == "report") {
    status = Report(*client, args[1], absl::GetFlag(FLAGS_html));
  } else if (command == "status" && operands == 1) {
    status = Status(*client, args[1]);
  } else {
    status = List(*client);
  }
  if (!status.ok()) return status;
  return 0;
}

}  // namespace
}  // namespace replex::cli

int main(int argc, char** argv) {
  // Our own --help: absl's exits 1 and does not describe the commands.
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-help" || arg == "-h" || arg == "help") {
      std::printf("%s", replex::cli::Usage().c_str());
      return 0;
    }
  }
  if (const std::string unknown = replex::cli::UnknownFlag(argc, argv);
      !unknown.empty()) {
    std::fprintf(stderr,
                 "replexctl: error: unknown flag %s; the flags are --gateway, "
                 "--json, --html and the --tls_* flags; see replexctl "
                 "--help\n",
                 unknown.c_str());
    return replex::cli::kExitUsage;
  }
  absl::SetProgramUsageMessage(replex::cli::Usage());
  const std::vector<char*> parsed = absl::ParseCommandLine(argc, argv);
  const std::vector<std::string> args(parsed.begin() + 1, parsed.end());
  const absl::StatusOr<int> exit_code = replex::cli::Run(args);
  if (!exit_code.ok()) {
    std::fprintf(stderr, "replexctl: error: %s\n",
                 std::string(exit_code.status().message()).c_str());
    return replex::cli::ExitCodeFor(exit_code.status());
  }
  return *exit_code;
}
