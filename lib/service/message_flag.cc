// --max_message_bytes (process_flags.h).
#include <cstdint>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "lib/service/process_flags.h"

ABSL_FLAG(int64_t, max_message_bytes, int64_t{64} << 20,
          "Largest gRPC message sent or received, in bytes. A job carries "
          "its System XML inline and a moving replica its state: keep the "
          "gateway's, the coordinator's and the workers' equal.");

namespace replex::service {

absl::StatusOr<int> MaxMessageBytesFromFlags() {
  const int64_t bytes = absl::GetFlag(FLAGS_max_message_bytes);
  if (bytes < kMinMessageBytes || bytes > kMaxMessageBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--max_message_bytes is ", bytes, "; give a byte count between ",
        kMinMessageBytes, " and ", kMaxMessageBytes, " (2 GiB - 1)"));
  }
  return static_cast<int>(bytes);
}

}  // namespace replex::service
