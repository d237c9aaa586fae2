#include "lib/service/process.h"

#include <malloc.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "lib/service/server.h"

namespace replex::service {
namespace {

// Set once, by RunProcess, before any thread logs.
const char* program_name = "replex";

// Positions, states and their messages are buffers of 0.1-10 MB, made and
// freed every round. glibc's defaults hand each one above its (dynamic) mmap
// threshold to mmap, and give freed heap tops back to the kernel, so every
// round paid for fresh pages: page faults and zeroing were most of the
// coordinator's CPU with 32 replicas x 25,000 atoms (about 103 ms a round;
// 39 ms with these settings, docs/benchmarks.md). Keeping buffers below 32 MiB
// in the heap, and up to 64 MiB of free heap per arena, trades that for a
// resident size that stays at the peak. A user's own malloc settings
// (glibc.malloc.* in GLIBC_TUNABLES, or the older MALLOC_*_ variables) are
// left to rule instead.
void KeepRoundBuffersInTheHeap() {
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if ((tunables != nullptr && std::strstr(tunables, "glibc.malloc.")) ||
      std::getenv("MALLOC_MMAP_THRESHOLD_") != nullptr ||
      std::getenv("MALLOC_TRIM_THRESHOLD_") != nullptr) {
    return;
  }
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
}

}  // namespace

constexpr char kResumablePayload[] = "type.replex.dev/resumable";

absl::Status ResumableError(absl::string_view message) {
  absl::Status status = absl::UnavailableError(message);
  status.SetPayload(kResumablePayload, absl::Cord("1"));
  return status;
}

bool IsResumable(const absl::Status& status) {
  return status.GetPayload(kResumablePayload).has_value();
}

int ExitCodeFor(const absl::Status& status) {
  if (IsResumable(status)) return kExitResumable;
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return kExitOk;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kAlreadyExists:
      return kExitUsage;
    default:
      return kExitFailed;
  }
}

int RunProcess(
    int argc, char** argv, const Program& program,
    absl::FunctionRef<absl::Status(const std::vector<std::string>& arguments)>
        serve) {
  program_name = program.name;
  KeepRoundBuffersInTheHeap();
  InstallTerminationHandlers();
  absl::SetProgramUsageMessage(program.usage);
  const std::vector<char*> parsed = absl::ParseCommandLine(argc, argv);
  const std::vector<std::string> arguments(parsed.begin() + 1, parsed.end());
  absl::Status status;
  if (!program.takes_arguments && !arguments.empty()) {
    status = absl::InvalidArgumentError(
        absl::StrCat("unexpected argument \"", arguments[0],
                     "\"; it takes only flags (see --help)"));
  } else {
    status = serve(arguments);
  }
  if (!status.ok()) {
    std::fprintf(stderr, "%s: error: %s\n", program.name,
                 std::string(status.message()).c_str());
  }
  return ExitCodeFor(status);
}

absl::Status ServeUntilTerminated(
    const std::string& port_file, int port, absl::Duration grace,
    absl::FunctionRef<void(absl::Time deadline)> shutdown) {
  if (!port_file.empty()) {
    if (absl::Status written = WritePortFile(port_file, port); !written.ok()) {
      shutdown(absl::Now());
      return written;
    }
  }
  WaitForTerminationSignal();
  Log("shutting down");
  shutdown(absl::Now() + grace);
  return absl::OkStatus();
}

void LogLine(absl::string_view line) {
  const std::string text =
      absl::StrCat(absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(),
                                    absl::UTCTimeZone()),
                   " ", program_name, ": ", line, "\n");
  // One fwrite per line: stdio locks the stream for the call.
  std::fwrite(text.data(), 1, text.size(), stderr);
}

}  // namespace replex::service
