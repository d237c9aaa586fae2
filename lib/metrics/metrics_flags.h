// --metrics_listen and --metrics_port_file, defined once for every binary
// that serves /metrics (a static library of its own, like the service
// flags).
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "lib/metrics/metrics.h"

namespace replex::metrics {

// The binary's own default port, set before the command line is parsed.
void SetListenDefault(absl::string_view address);

// MetricsServer::Start on the flags' address and port file.
absl::StatusOr<std::unique_ptr<MetricsServer>> StartFromFlags();

}  // namespace replex::metrics
