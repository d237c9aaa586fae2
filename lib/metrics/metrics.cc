#include "lib/metrics/metrics.h"

#include <exception>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "lib/service/server.h"

namespace replex::metrics {

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(
    const std::string& listen, const std::string& port_file) {
  std::unique_ptr<MetricsServer> server(new MetricsServer);
  if (listen.empty()) return server;
  try {
    // civetweb takes "host:port"; it throws when it cannot bind.
    server->exposer_ = std::make_unique<prometheus::Exposer>(listen);
  } catch (const std::exception& error) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot serve metrics on --metrics_listen=", listen, " (", error.what(),
        "): is the address valid and the port free?"));
  }
  const std::vector<int> ports = server->exposer_->GetListeningPorts();
  if (ports.empty() || ports[0] == 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "--metrics_listen=", listen, " bound no port; give host:port"));
  }
  server->port_ = ports[0];
  server->exposer_->RegisterCollectable(server->registry_);
  if (!port_file.empty()) {
    if (absl::Status written = service::WritePortFile(port_file, server->port_);
        !written.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat(written.message(), " (--metrics_port_file)"));
    }
  }
  return server;
}

void MetricsServer::Add(
    const std::shared_ptr<prometheus::Collectable>& collectable) {
  extra_.push_back(collectable);
  if (exposer_ != nullptr) exposer_->RegisterCollectable(collectable);
}

prometheus::MetricFamily GaugeFamily(std::string name, std::string help) {
  prometheus::MetricFamily family;
  family.name = std::move(name);
  family.help = std::move(help);
  family.type = prometheus::MetricType::Gauge;
  return family;
}

void AddGauge(prometheus::MetricFamily& family,
              std::vector<prometheus::ClientMetric::Label> labels,
              double value) {
  prometheus::ClientMetric metric;
  metric.label = std::move(labels);
  metric.gauge.value = value;
  family.metric.push_back(std::move(metric));
}

prometheus::Histogram::BucketBoundaries DurationBuckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
          1,     2.5,    5,     10,   25,    60,   120, 300,  600};
}

}  // namespace replex::metrics
