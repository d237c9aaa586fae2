// replex-worker's Prometheus metrics, gathered by wrapping the two seams the
// worker already has: the HostOutput its replica host sends results through
// (segments run, failed, their wall time) and the CoordinatorClient its
// session connects with (connection attempts, reconnects). Hosted replicas
// and loaded jobs are read from the host at each scrape.
#pragma once

#include "lib/engine/engine.h"

#include <memory>

#include "prometheus/collectable.h"
#include "prometheus/counter.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "replica-worker/coordinator_client.h"
#include "replica-worker/replica_host.h"

namespace replex::worker {

class WorkerMetrics {
 public:
  explicit WorkerMetrics(prometheus::Registry& registry);

  void SegmentSent(const v1::WorkerMessage& message);
  void ConnectAttempt(bool connected);
  // replex_worker_openmm_plugin{file, loaded}: 1 per plugin file that
  // loaded ("true") or failed to ("false"), so a dashboard or an alert sees a
  // GPU node whose CUDA plugin did not load.
  void RecordPlugins(const engine::PluginReport& report);

 private:
  prometheus::Counter& segments_done_;
  prometheus::Counter& segments_failed_;
  prometheus::Histogram& segment_seconds_;
  prometheus::Counter& connect_attempts_;
  prometheus::Counter& reconnects_;
  prometheus::Family<prometheus::Gauge>& plugins_;
  bool connected_before_ = false;  // only the session's thread connects
};

// Counts what the host sends, then passes it on to `next`.
class MetricsHostOutput : public HostOutput {
 public:
  MetricsHostOutput(WorkerMetrics* metrics, HostOutput* next)
      : metrics_(metrics), next_(next) {}
  void Send(const v1::WorkerMessage& message) override {
    metrics_->SegmentSent(message);
    next_->Send(message);
  }
  void OnIdle() override { next_->OnIdle(); }

 private:
  WorkerMetrics* const metrics_;
  HostOutput* const next_;
};

// Counts connection attempts, then passes them on to `next`.
class MetricsCoordinatorClient : public CoordinatorClient {
 public:
  MetricsCoordinatorClient(WorkerMetrics* metrics, CoordinatorClient* next)
      : metrics_(metrics), next_(next) {}
  absl::StatusOr<std::unique_ptr<CoordinatorStream>> Connect(
      absl::Duration timeout) override {
    absl::StatusOr<std::unique_ptr<CoordinatorStream>> stream =
        next_->Connect(timeout);
    metrics_->ConnectAttempt(stream.ok());
    return stream;
  }
  std::string target() const override { return next_->target(); }

 private:
  WorkerMetrics* const metrics_;
  CoordinatorClient* const next_;
};

// replex_worker_hosted_replicas, replex_worker_loaded_jobs and
// replex_worker_slots, read from `host` (which must outlive it) at scrape.
std::shared_ptr<prometheus::Collectable> HostGauges(const ReplicaHost* host,
                                                    int slots);

}  // namespace replex::worker
