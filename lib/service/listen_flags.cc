// --listen and --port_file (process_flags.h).
#include <string>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "lib/service/process_flags.h"

ABSL_FLAG(std::string, listen, "",
          "host:port to serve gRPC on; port 0 picks a free port (see "
          "--port_file). Each server sets its own default (see its usage).");
ABSL_FLAG(std::string, port_file, "",
          "After binding, write the bound port (a decimal number and a "
          "newline) to this file, whole, by rename; for tests and scripts "
          "using port 0.");

namespace replex::service {

void SetListenDefault(absl::string_view address) {
  absl::SetFlag(&FLAGS_listen, std::string(address));
}

absl::StatusOr<ListenFlags> ListenFromFlags() {
  ListenFlags flags{absl::GetFlag(FLAGS_listen),
                    absl::GetFlag(FLAGS_port_file)};
  if (flags.address.empty()) {
    return absl::InvalidArgumentError(
        "--listen is empty; give host:port (port 0 picks a free one)");
  }
  return flags;
}

}  // namespace replex::service
