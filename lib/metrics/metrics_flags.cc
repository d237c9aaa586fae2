#include "lib/metrics/metrics_flags.h"

#include <string>

#include "absl/flags/flag.h"

ABSL_FLAG(std::string, metrics_listen, "",
          "host:port to serve Prometheus metrics on (/metrics); port 0 picks "
          "a free port (see --metrics_port_file); empty disables. Each "
          "binary sets its own default port (see its usage).");
ABSL_FLAG(std::string, metrics_port_file, "",
          "After binding the metrics port, write it (a decimal number and a "
          "newline) to this file; for tests using port 0.");

namespace replex::metrics {

void SetListenDefault(absl::string_view address) {
  absl::SetFlag(&FLAGS_metrics_listen, std::string(address));
}

absl::StatusOr<std::unique_ptr<MetricsServer>> StartFromFlags() {
  return MetricsServer::Start(absl::GetFlag(FLAGS_metrics_listen),
                              absl::GetFlag(FLAGS_metrics_port_file));
}

}  // namespace replex::metrics
