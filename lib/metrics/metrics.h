// What every replex process shares for Prometheus: one registry, a /metrics
// endpoint on its own port (--metrics_listen), the bound port written for
// tests (--metrics_port_file), gauges computed at scrape time, and the
// histogram buckets the services use.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "prometheus/collectable.h"
#include "prometheus/exposer.h"
#include "prometheus/histogram.h"
#include "prometheus/metric_family.h"
#include "prometheus/registry.h"

namespace replex::metrics {

// A process's metrics: the registry always exists (so code records into it
// whether or not anything serves it); the exposer only when listening.
class MetricsServer {
 public:
  // Serves the registry at http://`listen`/metrics; `listen` is host:port,
  // port 0 picks a free one. An empty `listen` serves nothing. When
  // `port_file` is not empty the bound port is written there (as
  // service::WritePortFile does). FAILED_PRECONDITION naming the flag when
  // the address cannot be bound or the file written.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(
      const std::string& listen, const std::string& port_file);

  prometheus::Registry& registry() { return *registry_; }
  // Serves `collectable` as well (kept alive by the caller's shared_ptr).
  void Add(const std::shared_ptr<prometheus::Collectable>& collectable);
  int port() const { return port_; }  // 0 when not listening
  // Stops serving; call before what the collectables read is destroyed.
  void Stop() { exposer_.reset(); }

 private:
  MetricsServer() = default;
  std::shared_ptr<prometheus::Registry> registry_ =
      std::make_shared<prometheus::Registry>();
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::vector<std::shared_ptr<prometheus::Collectable>> extra_;
  int port_ = 0;
};

// Metric families computed by a function at each scrape, for figures owned
// elsewhere (connected workers, jobs per state) that would otherwise have to
// be mirrored into gauges on every change.
class CallbackCollectable : public prometheus::Collectable {
 public:
  explicit CallbackCollectable(
      std::function<std::vector<prometheus::MetricFamily>()> collect)
      : collect_(std::move(collect)) {}
  std::vector<prometheus::MetricFamily> Collect() const override {
    return collect_();
  }

 private:
  std::function<std::vector<prometheus::MetricFamily>()> collect_;
};

// A gauge family for CallbackCollectable; add series with AddGauge.
prometheus::MetricFamily GaugeFamily(std::string name, std::string help);
void AddGauge(prometheus::MetricFamily& family,
              std::vector<prometheus::ClientMetric::Label> labels,
              double value);

// Buckets for durations from a millisecond to ten minutes: RPC latencies,
// MD segments and exchange overheads all fall in there.
prometheus::Histogram::BucketBoundaries DurationBuckets();

}  // namespace replex::metrics
