// `replexctl`: the replex cluster's command line. It talks only to
// replex-gateway: submits jobs, lists them, shows one, watches one live and
// cancels one. What it prints is built in replexctl_format. This file holds
// the flags, the usage text, the argument checks and the dispatch; the
// commands live in one file per group (replexctl_commands.h).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iterator>
#include <memory>
#include <set>
#include <string>
#include <utility>
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
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "cli/replexctl_commands.h"
#include "cli/replexctl_config.h"
#include "google/protobuf/message.h"
#include "google/protobuf/util/json_util.h"
#include "lib/client/grpc_jobs_client.h"
#include "lib/service/auth.h"
#include "lib/service/process.h"
#include "lib/service/process_flags.h"
#include "lib/service/tls.h"

ABSL_FLAG(std::string, gateway, "localhost:8080",
          "The replex-gateway to talk to, host:port. Unset: $REPLEX_GATEWAY, "
          "else the context's gateway, else localhost:8080.");
ABSL_FLAG(std::string, html, "",
          "`report`: also write the job's report as one self-contained HTML "
          "page (inline SVG plots) to this file.");
ABSL_FLAG(int64_t, rounds, 0,
          "`extend`: rounds to add to the job (0 finishes the rounds a "
          "cancelled or failed job had left).");
ABSL_FLAG(std::string, state, "",
          "`list`/`status`: only jobs in these states (comma-separated: "
          "queued, running, succeeded, failed, cancelled).");
ABSL_FLAG(std::string, owner, "", "`list`/`status`: only this owner's jobs.");
ABSL_FLAG(std::string, label, "",
          "`list`/`status`: only jobs with these labels (comma-separated "
          "KEY=VALUE).");
ABSL_FLAG(std::string, platform, "",
          "`submit`/`spec`: run the job on this platform (Reference, CPU, "
          "OpenCL, CUDA) instead of the file's, e.g. an example written for "
          "Reference on CPU workers.");
ABSL_FLAG(std::string, path, "",
          "`fetch`: only this file of the results (e.g. analysis.json or "
          "trajectories/rung_000.nc).");
ABSL_FLAG(bool, json, false,
          "Machine-readable output: the API's messages as JSON (proto field "
          "names, every field present) on stdout; `watch` prints one JobEvent "
          "per line.");

namespace replex::cli {

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

namespace {

constexpr char kUsage[] =
    R"(replexctl: submit, inspect, watch, cancel and extend replex jobs through a
replex-gateway.

Usage: replexctl [--gateway=HOST:PORT] [--json] [--tls_ca=PEM ...] COMMAND [ARGS]

Commands:
  submit JOB.yaml   Validate the job file (docs/job-spec.md), upload it with
                    the files it names, and print the new job's id, alone on
                    stdout: id=$(replexctl submit job.yaml). The owner defaults
                    to $USER when the file sets none; with authentication on
                    the owner is always the token's user. --platform=P runs
                    it on P instead of the file's platform.
  spec JOB.yaml     Print what `submit` would send, SubmitJobRequest as JSON
                    (the spec with the files it names read in), without
                    connecting: replexctl spec job.yaml | grpcurl -d @ ...
  status [ID]       Without ID, the table of all jobs (same as `list`); with
                    ID, the job in detail: progress, acceptance per rung pair
                    with temperatures, round trips, ns/day, workers, times,
                    why it waits if queued, and the error if it failed; exit
                    1 if it FAILED, 3 if it was CANCELLED.
  list [--state=S,...] [--owner=O] [--label=K=V,...]
                    The table of jobs: id, name, owner, state, rounds
                    done/total, acceptance range over pairs, ns/day, age; all
                    of them, or those in the states, of the owner and with
                    the labels given.
  watch ID          Follow the job live until it ends: rounds, %, ns/day, ETA,
                    acceptance per pair. On a terminal the line is redrawn in
                    place; otherwise a line about every 5% of the job, so logs
                    stay readable. Reconnects if the gateway restarts.
  wait ID           Block until the job ends, printing only its final state;
                    exit as watch does.
  cancel ID         Stop a queued or running job and free its workers.
  extend ID --rounds=N
                    Run an ended job N rounds longer: it is queued again under
                    its id and continues from its last checkpoint, its
                    exchange log, trajectories and statistics as if it had
                    been submitted with all its rounds; follow it with watch.
  fetch ID DIR [--path=FILE]
                    Download the job's results (docs/results.md; also while
                    it runs), or only FILE of them, into DIR, which may exist
                    but no file in it is ever overwritten; progress on
                    stderr.
  report ID [--html=FILE]
                    Print the job's analysis (acceptance per pair, round
                    trips, second eigenvalue, ns/day); --html also writes the
                    HTML report with its plots to FILE.
  health [HOST:PORT]
                    Ask a replex server (the gateway, or the coordinator at
                    its --listen address) for its grpc.health.v1 status and
                    print it; exit 0 only if SERVING. For container health
                    checks.
  completion        Print a bash completion script: commands, flags, and the
                    ids of the jobs `list` shows where a command takes one.
                    Load it with: source <(replexctl completion)
  call METHOD [JSON]
                    Call any method of the server at --gateway, e.g.
                    replex.v1.JobService/GetJob '{"job_id": "ID"}', learning
                    its types by server reflection alone (what grpcurl does;
                    the same JSON works for both). JSON is the request (proto
                    or JSON field names; default {}, - reads it from stdin);
                    each response is printed as JSON (camelCase, fields at
                    their defaults left out), one per message of a stream.

Authentication: when the gateway requires tokens (its --tokens_file or
--jwt_key_file), the token is read from $REPLEX_TOKEN, else from the
context's token_file, else from the first line of
$XDG_CONFIG_HOME/replex/token (~/.config/replex/token); users see and act on
their own jobs only, admins on all (docs/security.md).

Settings: a flag not given is taken from its variable (REPLEX_GATEWAY,
REPLEX_TLS_CA, REPLEX_TLS_CLIENT_CERT, REPLEX_TLS_CLIENT_KEY,
REPLEX_TLS_SERVER_NAME), else from a context of the config file
($REPLEX_CONFIG, else ~/.config/replex/config.yaml), chosen by --context,
$REPLEX_CONTEXT or the file's `current` (docs/api.md, "Contexts"):
  current: lab
  contexts:
    lab: {gateway: replex.lab.org:8080, tls_ca: pki/ca.crt,
          token_file: lab.token}

Exit status: 0 done (watch, wait: the job SUCCEEDED); 1 an error, or (watch,
wait, status ID) the job FAILED, or (health) the server is not SERVING; 2 a
usage error, an invalid job file, a malformed or unknown job id, or a file
fetch would overwrite; 3 (watch, wait, status ID) the job was CANCELLED.

Flags:
)";

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
       {"gateway", "context", "json", "state", "owner", "label", "platform",
        "path", "html", "rounds", "tls_ca", "tls_client_cert", "tls_client_key",
        "tls_server_name"}) {
    const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    absl::StrAppend(&usage, "  --", name, " (now ", flag->CurrentValue(), ")\n",
                    Wrap(flag->Help(), 72, "      "));
  }
  return usage;
}

// The flags argv gives, in order, each as its name and the argument as
// written ("tls_ca" and "--tls_ca=x" for --tls_ca=x; "tls_ca" and
// "--tls_ca" for --tls_ca x); none after "--".
std::vector<std::pair<std::string, std::string>> FlagArgs(int argc,
                                                          char** argv) {
  std::vector<std::pair<std::string, std::string>> flags;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--") break;
    if (!absl::ConsumePrefix(&arg, "-") || arg.empty()) continue;
    absl::ConsumePrefix(&arg, "-");
    flags.emplace_back(arg.substr(0, arg.find('=')), argv[i]);
  }
  return flags;
}

// The bash completion script (`replexctl completion`): commands, flags,
// job ids from `replexctl list` (with the flags typed so far, so that it
// asks the same gateway), job files and directories.
std::string CompletionScript() {
  std::string flags;
  for (const char* name :
       {"gateway", "context", "json", "state", "owner", "label", "platform",
        "path", "html", "rounds", "tls_ca", "tls_client_cert", "tls_client_key",
        "tls_server_name", "help"}) {
    const bool takes_value =
        std::string(name) != "json" && std::string(name) != "help";
    absl::StrAppend(&flags, flags.empty() ? "" : " ", "--", name,
                    takes_value ? "=" : "");
  }
  // clang-format off
  return absl::StrCat(R"sh(# bash completion for replexctl: source <(replexctl completion)
_replexctl() {
  local cur=${COMP_WORDS[COMP_CWORD]} command="" operands=0 word i
  local -a flags=()
  for ((i = 1; i < COMP_CWORD; i++)); do
    word=${COMP_WORDS[i]}
    case $word in
      -*) flags+=("$word") ;;
      *) if [[ -z $command ]]; then command=$word; else operands=$((operands + 1)); fi ;;
    esac
  done
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W ")sh", flags, R"sh(" -- "$cur"))
    [[ ${COMPREPLY[0]} == *= ]] && compopt -o nospace 2>/dev/null
    return
  fi
  case $command in
    "")
      COMPREPLY=($(compgen -W "submit spec status list watch wait cancel extend fetch report health call completion" -- "$cur")) ;;
    submit|spec)
      compopt -o filenames 2>/dev/null
      COMPREPLY=($(compgen -f -X '!*.@(yaml|yml)' -- "$cur") $(compgen -d -- "$cur")) ;;
    status|watch|wait|cancel|extend|fetch|report)
      if ((operands == 0)); then
        COMPREPLY=($(compgen -W "$(replexctl "${flags[@]}" list 2>/dev/null | awk 'NR > 1 {print $1}')" -- "$cur"))
      elif [[ $command == fetch ]]; then
        compopt -o filenames 2>/dev/null
        COMPREPLY=($(compgen -d -- "$cur"))
      fi ;;
  esac
}
complete -F _replexctl replexctl
)sh");
  // clang-format on
}

// The first of `flags` (FlagArgs) that no library defines, as written, or
// "". absl's parser would report it too, but exit 1, and an unknown flag is
// a usage error (2).
std::string UnknownFlag(
    const std::vector<std::pair<std::string, std::string>>& flags) {
  for (const auto& [name, arg] : flags) {
    const bool negated_bool = absl::StartsWith(name, "no") &&
                              absl::FindCommandLineFlag(name.substr(2));
    if (!absl::FindCommandLineFlag(name) && !negated_bool) return arg;
  }
  return "";
}

// The user's token for a gateway with authentication on: $REPLEX_TOKEN,
// else the first line of the context's `token_file`, else of
// $XDG_CONFIG_HOME/replex/token (by default ~/.config/replex/token); ""
// when none is there.
absl::StatusOr<std::string> UserToken(const std::string& context_token_file) {
  if (const char* token = std::getenv("REPLEX_TOKEN");
      token != nullptr && *token != '\0') {
    const std::string trimmed(absl::StripAsciiWhitespace(token));
    if (absl::Status checked = service::CheckToken(trimmed, "$REPLEX_TOKEN");
        !checked.ok()) {
      return checked;
    }
    return trimmed;
  }
  if (!context_token_file.empty()) {
    return service::ReadTokenFile(context_token_file,
                                  "the context's token_file");
  }
  std::string path;
  if (const char* config = std::getenv("XDG_CONFIG_HOME");
      config != nullptr && *config != '\0') {
    path = absl::StrCat(config, "/replex/token");
  } else if (const char* home = std::getenv("HOME"); home != nullptr) {
    path = absl::StrCat(home, "/.config/replex/token");
  }
  std::error_code error;
  if (path.empty() || !std::filesystem::exists(path, error)) return "";
  return service::ReadTokenFile(path, "the token file");
}

std::unique_ptr<client::GrpcJobsClient> Connect(
    const service::ChannelSecurity& security, const std::string& token) {
  client::GrpcJobsClientOptions options;
  options.token = token;
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

absl::StatusOr<int> Run(const std::vector<std::string>& args,
                        const std::set<std::string>& given_flags) {
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
                                {"spec", 1, 1, "a job file"},
                                {"status", 0, 1, "at most one job id"},
                                {"list", 0, 0, "nothing"},
                                {"watch", 1, 1, "one job id"},
                                {"wait", 1, 1, "one job id"},
                                {"cancel", 1, 1, "one job id"},
                                {"extend", 1, 1, "one job id"},
                                {"fetch", 2, 2, "a job id and a directory"},
                                {"report", 1, 1, "one job id"},
                                {"health", 0, 1, "at most one HOST:PORT"},
                                {"call", 1, 2, "a method and a JSON request"},
                                {"completion", 0, 1, "at most `bash`"}};
  const Arity* arity =
      std::find_if(std::begin(kArities), std::end(kArities),
                   [&](const Arity& a) { return command == a.command; });
  if (arity == std::end(kArities)) {
    return usage_error(absl::StrCat(
        "unknown command \"", command,
        "\"; the commands are submit, spec, status, list, watch, wait, "
        "cancel, extend, fetch, report, health, call and completion"));
  }
  if (operands < arity->min || operands > arity->max) {
    return usage_error(absl::StrCat("`", command, "` takes ", arity->operand));
  }

  if (command == "spec") {  // needs no gateway
    absl::Status printed = PrintSubmitRequest(args[1]);
    if (!printed.ok()) return printed;
    return 0;
  }
  if (command == "completion") {
    if (operands == 1 && args[1] != "bash") {
      return usage_error("`completion` knows bash only");
    }
    std::printf("%s", CompletionScript().c_str());
    return 0;
  }
  std::string token_file;
  if (absl::Status applied = ApplyConfig(given_flags, token_file);
      !applied.ok()) {
    return applied;
  }
  absl::StatusOr<service::ChannelSecurity> security =
      service::ChannelSecurityFromFlags();
  if (!security.ok()) return security.status();
  absl::StatusOr<std::string> token = UserToken(token_file);
  if (!token.ok()) return token.status();
  if (command == "health") {
    return Health(operands == 1 ? args[1] : absl::GetFlag(FLAGS_gateway),
                  *security);
  }
  if (command == "call") {
    absl::Status called = Call(absl::GetFlag(FLAGS_gateway), *security, *token,
                               args[1], operands == 2 ? args[2] : "{}");
    if (!called.ok()) return called;
    return 0;
  }
  std::unique_ptr<client::GrpcJobsClient> client = Connect(*security, *token);
  if (command == "watch" || command == "wait") {
    return Watch(*client, args[1], /*quiet=*/command == "wait");
  }
  if (command == "status" && operands == 1) return Status(*client, args[1]);
  absl::Status status;
  if (command == "submit") {
    status = Submit(*client, args[1]);
  } else if (command == "cancel") {
    status = Cancel(*client, args[1]);
  } else if (command == "extend") {
    status = Extend(*client, args[1], absl::GetFlag(FLAGS_rounds));
  } else if (command == "fetch") {
    status = Fetch(*client, args[1], args[2], absl::GetFlag(FLAGS_path));
  } else if (command == "report") {
    status = Report(*client, args[1], absl::GetFlag(FLAGS_html));
  } else {
    absl::StatusOr<JobFilter> filter = FilterFromFlags();
    status = filter.ok() ? List(*client, *filter) : filter.status();
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
  const std::vector<std::pair<std::string, std::string>> flags =
      replex::cli::FlagArgs(argc, argv);
  if (const std::string unknown = replex::cli::UnknownFlag(flags);
      !unknown.empty()) {
    std::fprintf(stderr,
                 "replexctl: error: unknown flag %s; the flags are --gateway, "
                 "--context, --json, --state, --owner, --label, --path, "
                 "--html, --rounds and the "
                 "--tls_* flags; see replexctl "
                 "--help\n",
                 unknown.c_str());
    return replex::cli::kExitUsage;
  }
  absl::SetProgramUsageMessage(replex::cli::Usage());
  const std::vector<char*> parsed = absl::ParseCommandLine(argc, argv);
  const std::vector<std::string> args(parsed.begin() + 1, parsed.end());
  std::set<std::string> given;
  for (const auto& [name, arg] : flags) given.insert(name);
  const absl::StatusOr<int> exit_code = replex::cli::Run(args, given);
  if (!exit_code.ok()) {
    std::fprintf(stderr, "replexctl: error: %s\n",
                 std::string(exit_code.status().message()).c_str());
    return replex::service::ExitCodeFor(exit_code.status());
  }
  return *exit_code;
}
