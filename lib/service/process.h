// The one way a replex binary runs: signal handlers first, flags parsed,
// `serve` called, its status turned into one error line and an exit code.
// Every binary's main() is a call to RunProcess; what it does is its
// absl::Status Serve().
#pragma once

#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace replex::service {

inline constexpr int kExitOk = 0;
// Something went wrong while running (unreachable peer, I/O, a failed job).
inline constexpr int kExitFailed = 1;
// The command line or an input is wrong: the message says what to fix.
inline constexpr int kExitUsage = 2;

// The work stopped cleanly where it can go on later (a signal, a walltime
// limit): EX_TEMPFAIL, what batch scripts requeue on.
inline constexpr int kExitResumable = 75;

// A status that says so (UNAVAILABLE, marked).
absl::Status ResumableError(absl::string_view message);
bool IsResumable(const absl::Status& status);

// kExitResumable for ResumableError, kExitUsage for what the caller must fix
// (INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS), kExitFailed for every other
// error, kExitOk for OK.
int ExitCodeFor(const absl::Status& status);

struct Program {
  const char* name;   // "replex-coordinator": log lines and errors start so
  const char* usage;  // what --help prints above the flags
  // Positional arguments are handed to `serve`; without this they are a
  // usage error.
  bool takes_arguments = false;
};

// Sets glibc's malloc to keep the per-round buffers in the heap (see
// process.cc), installs the SIGTERM/SIGINT handlers, parses the command line,
// calls `serve` with the positional arguments, and returns ExitCodeFor its
// status after printing "NAME: error: MESSAGE" on stderr when it failed.
int RunProcess(
    int argc, char** argv, const Program& program,
    absl::FunctionRef<absl::Status(const std::vector<std::string>& arguments)>
        serve);

// A server's life after it started: writes `port` to `port_file` (when
// given, for whoever started it on port 0), waits for SIGTERM or SIGINT, and
// calls `shutdown` with the deadline `grace` from then.
absl::Status ServeUntilTerminated(
    const std::string& port_file, int port, absl::Duration grace,
    absl::FunctionRef<void(absl::Time deadline)> shutdown);

// Writes "<UTC time> <program>: <line>\n" to stderr in one write, so lines
// from different threads never mix. The program is RunProcess's.
void LogLine(absl::string_view line);

template <typename... Args>
void Log(const absl::FormatSpec<Args...>& format, const Args&... args) {
  LogLine(absl::StrFormat(format, args...));
}

}  // namespace replex::service
