#include "replica-worker/worker_metrics.h"

#include <filesystem>
#include <string>
#include <vector>

#include "lib/metrics/metrics.h"

namespace replex::worker {

WorkerMetrics::WorkerMetrics(prometheus::Registry& registry)
    : segments_done_(prometheus::BuildCounter()
                         .Name("replex_worker_segments_total")
                         .Help("MD segments this worker ran, by outcome.")
                         .Register(registry)
                         .Add({{"outcome", "done"}})),
      segments_failed_(prometheus::BuildCounter()
                           .Name("replex_worker_segments_total")
                           .Help("MD segments this worker ran, by outcome.")
                           .Register(registry)
                           .Add({{"outcome", "failed"}})),
      segment_seconds_(prometheus::BuildHistogram()
                           .Name("replex_worker_segment_duration_seconds")
                           .Help("Wall time of the segments this worker ran.")
                           .Register(registry)
                           .Add({}, metrics::DurationBuckets())),
      connect_attempts_(prometheus::BuildCounter()
                            .Name("replex_worker_connect_attempts_total")
                            .Help("Attempts to open a session stream to the "
                                  "coordinator.")
                            .Register(registry)
                            .Add({})),
      reconnects_(prometheus::BuildCounter()
                      .Name("replex_worker_reconnects_total")
                      .Help("Session streams opened after the first one.")
                      .Register(registry)
                      .Add({})),
      plugins_(prometheus::BuildGauge()
                   .Name("replex_worker_openmm_plugin")
                   .Help("OpenMM plugin files this worker loaded (loaded=true) "
                         "or could not load (loaded=false).")
                   .Register(registry)) {}

void WorkerMetrics::RecordPlugins(const engine::PluginReport& report) {
  const auto name = [](const std::string& path) {
    return std::filesystem::path(path).filename().string();
  };
  for (const std::string& file : report.loaded_files) {
    plugins_.Add({{"file", name(file)}, {"loaded", "true"}}).Set(1);
  }
  // Failures read "FILE: why".
  for (const std::string& failure : report.failures) {
    plugins_.Add({{"file", name(failure.substr(0, failure.find(": ")))},
                  {"loaded", "false"}})
        .Set(1);
  }
}

void WorkerMetrics::SegmentSent(const v1::WorkerMessage& message) {
  if (message.has_segment_done()) {
    segments_done_.Increment();
    segment_seconds_.Observe(message.segment_done().seconds());
  } else if (message.has_segment_dones()) {
    for (const v1::SegmentDone& done : message.segment_dones().done()) {
      segments_done_.Increment();
      segment_seconds_.Observe(done.seconds());
    }
  } else if (message.has_segment_failed()) {
    segments_failed_.Increment();
  }
}

void WorkerMetrics::ConnectAttempt(bool connected) {
  connect_attempts_.Increment();
  if (!connected) return;
  if (connected_before_) reconnects_.Increment();
  connected_before_ = true;
}

std::shared_ptr<prometheus::Collectable> HostGauges(const ReplicaHost* host,
                                                    int slots) {
  return std::make_shared<metrics::CallbackCollectable>([host, slots] {
    prometheus::MetricFamily hosted = metrics::GaugeFamily(
        "replex_worker_hosted_replicas", "Replicas loaded on this worker.");
    metrics::AddGauge(hosted, {}, host->hosted_replicas());
    prometheus::MetricFamily jobs = metrics::GaugeFamily(
        "replex_worker_loaded_jobs", "Jobs loaded on this worker.");
    metrics::AddGauge(jobs, {}, host->hosted_jobs());
    prometheus::MetricFamily slot_family = metrics::GaugeFamily(
        "replex_worker_slots", "Segments this worker runs at once.");
    metrics::AddGauge(slot_family, {}, slots);
    return std::vector<prometheus::MetricFamily>{hosted, jobs, slot_family};
  });
}

}  // namespace replex::worker
