#include "lib/runner/asynchronous.h"

#include <numeric>
#include <utility>

#include "absl/strings/str_cat.h"

namespace replex::runner {

int64_t SegmentsFinished(const AsynchronousRun& run) {
  return std::accumulate(run.segments_by_replica.begin(),
                         run.segments_by_replica.end(), int64_t{0});
}

RoundReport EventReport(const ExchangeEvent& event, const RoundDriver& driver,
                        double elapsed_seconds,
                        std::vector<std::vector<engine::Vec3>>* positions,
                        const std::vector<std::string>* states) {
  if (positions != nullptr) {
    for (auto& replica : *positions) replica.clear();
    for (size_t e = 0; e < event.replicas.size(); ++e) {
      (*positions)[event.replicas[e]] = event.results[e].positions_nm;
    }
  }
  const RoundDriver::Completed& completed = event.completed;
  RoundReport report{completed.outcome,
                     completed.potential_kj_mol,
                     completed.kinetic_kj_mol,
                     completed.reduced,
                     driver.statistics(),
                     completed.box_nm,
                     positions,
                     elapsed_seconds,
                     states};
  report.replicas = &event.replicas;
  report.segments_by_replica = &event.run.segments_by_replica;
  report.segments_by_rung = &event.run.segments_by_rung;
  return report;
}

absl::StatusOr<AsynchronousRun> RunAsynchronously(
    RoundDriver& driver, SegmentStream& stream,
    const AsynchronousOptions& options,
    const std::function<absl::Status(const ExchangeEvent&)>& on_event) {
  const int n = driver.ladder().size();
  AsynchronousRun run = options.from;
  if (run.segments_by_replica.empty()) run.segments_by_replica.assign(n, 0);
  if (run.state_rung.empty()) {
    for (int r = 0; r < n; ++r) run.state_rung.push_back(r);
  }
  if (run.segments_by_rung.empty()) run.segments_by_rung.assign(n, 0);
  if (static_cast<int>(run.segments_by_replica.size()) != n ||
      static_cast<int>(run.state_rung.size()) != n ||
      static_cast<int>(run.segments_by_rung.size()) != n) {
    return absl::InternalError(
        absl::StrCat("an asynchronous run resumed with counts for ",
                     run.segments_by_replica.size(), " replicas of ", n));
  }
  run.events = driver.round();
  int64_t started = SegmentsFinished(run);
  int64_t finished = started;
  bool draining = false;
  // A replica runs one segment at a time, so its next segment's number is
  // the count of those it finished.
  auto start = [&](int replica) {
    if (started >= options.segments) return;
    SegmentOrder order =
        driver.OrderFor(replica, run.segments_by_replica[replica]);
    // No other replica runs at this rung until this segment has finished,
    // so the rung's count is this segment's sample number less one.
    const int every = options.positions_every;
    order.want_positions =
        every > 0 && (run.segments_by_rung[order.rung] % every == 0 ||
                      run.segments_by_replica[replica] % every == 0);
    stream.Start(order);
    ++started;
  };
  for (int r = 0; r < n; ++r) start(r);

  std::vector<SegmentOrder> waiting;
  std::vector<SegmentResult> results;
  std::vector<int> replicas;
  absl::Status failure;
  while (finished < started) {
    SegmentStream::Finished done = stream.Next();
    ++finished;
    if (!failure.ok()) continue;  // only draining the running segments
    if (!done.result.ok()) {
      const absl::Status& why = done.result.status();
      failure = absl::Status(
          why.code(), absl::StrCat("replica ", done.order.replica, " (rung ",
                                   done.order.rung, ") in its segment ",
                                   done.order.round, ": ", why.message()));
      // Payloads say what the failure calls for (the coordinator's
      // rollbacks).
      why.ForEachPayload([&](absl::string_view url, const absl::Cord& payload) {
        failure.SetPayload(url, payload);
      });
      continue;
    }
    ++run.segments_by_replica[done.order.replica];
    run.state_rung[done.order.replica] = done.order.rung;
    ++run.segments_by_rung[done.order.rung];
    waiting.push_back(std::move(done.order));
    results.push_back(*std::move(done.result));
    const int64_t running = started - finished;
    if (running > 0 && (waiting.size() < 2 || !stream.SlotFree())) continue;
    absl::StatusOr<const RoundDriver::Completed*> event =
        driver.CompleteAmong(waiting, results);
    if (!event.ok()) {
      failure = event.status();
      continue;
    }
    ++run.events;
    replicas.clear();
    for (const SegmentOrder& order : waiting) replicas.push_back(order.replica);
    const bool barrier = running == 0;
    // Asked before the event is told, so that a barrier the completion
    // order made (every event is one on a single slot) can be the due one.
    if (!draining && options.barrier_due && started < options.segments) {
      draining = options.barrier_due(finished);
    }
    if (on_event) {
      if (absl::Status status =
              on_event({replicas, results, **event, run, barrier});
          !status.ok()) {
        failure = status;
        continue;
      }
    }
    waiting.clear();
    results.clear();
    if (barrier) {
      draining = false;
      for (int r = 0; r < n; ++r) start(r);
      continue;
    }
    if (!draining) {
      for (int replica : replicas) start(replica);
    }
  }
  if (!failure.ok()) return failure;
  return run;
}

}  // namespace replex::runner
