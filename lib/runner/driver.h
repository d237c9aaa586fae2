// The synchronous exchange loop, split so that every mode shares it:
// RoundDriver turns a job's state into segment orders and applies their
// results (swap decisions, permutation, statistics); a ReplicaExecutor runs
// the orders — on local threads (embedded mode) or on remote workers (the
// coordinator).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/engine/engine.h"
#include "lib/exchange/ladder.h"
#include "lib/exchange/permutation.h"
#include "lib/exchange/scheme.h"
#include "lib/exchange/statistics.h"
#include "lib/runner/report.h"
#include "replex/v1/job.pb.h"

namespace replex::runner {

// What one replica does in one round: move to `rung`, run `steps` steps with
// the segment seed, report its potential energy and the reduced potentials
// at `evaluate_rungs` (empty for temperature-only ladders).
struct SegmentOrder {
  int64_t round = 0;
  int replica = 0;
  int rung = 0;
  int steps = 0;
  uint64_t segment_seed = 0;
  std::vector<int> evaluate_rungs;
  bool want_positions = false;
  // Return the replica's portable state after the segment (a checkpoint).
  bool want_state = false;
  // An adaptive ladder's version this round (RoundDriver::ladder_versions
  // index) and the ladder itself, whose temperatures and parameters the
  // segment runs at and evaluates; null: the replica's own (a fixed ladder).
  int ladder_version = 0;
  std::shared_ptr<const exchange::Ladder> ladder;
};

struct SegmentResult {
  double potential_kj_mol = 0;
  // The barostat's work term at the replica's rung, p V - gamma A (0 for
  // NVT), and the box after the segment.
  double pv_kj_mol = 0;
  engine::Box box_nm{};
  double kinetic_kj_mol = 0;    // engine::EnergyTerms::kinetic_kj_mol
  std::vector<double> reduced;  // parallel to SegmentOrder::evaluate_rungs
  std::vector<engine::Vec3> positions_nm;  // when want_positions
  std::string state;  // engine::PortableState::Serialize, when want_state
};

// Runs a round's orders, one per replica, and returns the results in order.
class ReplicaExecutor {
 public:
  virtual ~ReplicaExecutor() = default;
  virtual absl::StatusOr<std::vector<SegmentResult>> RunSegments(
      const std::vector<SegmentOrder>& orders) = 0;

  // RunSegments, calling `meanwhile` once the orders are out and with no
  // lock of the executor held, so that the caller's work on the previous
  // round (its results, metrics, watchers) overlaps this round's segments.
  // `meanwhile` is not called when the round fails before its orders go
  // out. This default calls it first.
  virtual absl::StatusOr<std::vector<SegmentResult>> RunSegmentsOverlapping(
      const std::vector<SegmentOrder>& orders,
      const std::function<void()>& meanwhile) {
    meanwhile();
    return RunSegments(orders);
  }
};

// Carries out one order on a replica: the single place where an order meets
// the engine, used by local threads and by remote workers alike. `stop` ends
// the segment early (engine::Replica::Run).
absl::StatusOr<SegmentResult> ExecuteOrder(
    engine::Replica& replica, const SegmentOrder& order,
    const std::atomic<bool>* stop = nullptr);

// Engine options for a job; `replica_threads` replicas run at once in this
// process, so CPU Contexts get cores / replica_threads threads each unless
// the spec sets Threads.
engine::EngineOptions EngineOptionsFor(const v1::JobSpec& spec,
                                       int replica_threads);

// The job's System and starting coordinates (its own, and one per replica
// when it gives replica_starts).
absl::StatusOr<std::shared_ptr<const engine::Model>> LoadModel(
    const v1::JobSpec& spec);

// Creates replica `replica`'s Context at `rung` (at `temperature_k` when it
// is positive: an adaptive ladder's, which `ladder` does not know) with
// velocities from `velocity_seed`, then restores `state`
// (engine::PortableState bytes) when given, keeping the new Context's
// velocities instead of the state's when `redraw_velocities`. Created at the
// rung and temperature first because Restore keeps those the replica was
// made at. An unrestorable state is DATA_LOSS: the job is fine, the state is
// not.
absl::StatusOr<std::unique_ptr<engine::Replica>> StartReplica(
    std::shared_ptr<const engine::Model> model,
    const engine::EngineOptions& options, const exchange::Ladder& ladder,
    int replica, int rung, double temperature_k, uint64_t velocity_seed,
    const std::string& state, bool redraw_velocities);

// A job's exchange state from round `round()` on. Not thread-safe.
class RoundDriver {
 public:
  // `spec` must be valid (spec::Validate). Starts at round 0 with replica i
  // at rung i.
  static absl::StatusOr<RoundDriver> Create(const v1::JobSpec& spec);

  int64_t round() const { return round_; }
  bool done() const { return round_ >= n_rounds_; }
  // The ladder of the current round: an adaptive job's latest version.
  const exchange::Ladder& ladder() const { return ladder_; }
  // Adaptive ladders (ladder.adapt): every version so far, oldest first;
  // empty for a fixed ladder.
  const std::vector<LadderVersion>& ladder_versions() const {
    return versions_;
  }
  // The temperature of `rung` in round `round` (round -1: as the job
  // started) for an adaptive ladder; 0 for a fixed one, whose rungs keep the
  // spec's temperatures.
  double TemperatureAt(int64_t round, int rung) const;
  exchange::Scheme scheme() const { return scheme_; }
  const exchange::Permutation& permutation() const { return permutation_; }
  // Of the rounds run on the current ladder: with ladder.adapt, they start
  // again at each new version, so at the end they are production's only.
  const exchange::Statistics& statistics() const { return statistics_; }

  // Orders for the current round, one per replica in replica order.
  std::vector<SegmentOrder> Orders(bool want_positions,
                                   bool want_state = false) const;

  // Brings the driver from round() to round() + outcomes.size() by applying
  // rounds decided before (a journal's exchange log, replayed after a restart
  // or a rollback) without running them: the permutation and Statistics end
  // as if those rounds had just run. Each outcome needs round, after and the
  // pair counts; `before` is taken from the driver. Fails (changing nothing)
  // when the rounds do not follow on or a permutation does not fit.
  absl::Status Replay(const std::vector<exchange::RoundOutcome>& outcomes);

  // What Complete decided; references stay valid until the next Complete.
  struct Completed {
    exchange::RoundOutcome outcome;
    std::vector<double> potential_kj_mol;
    std::vector<double> kinetic_kj_mol;  // by replica, after its segment
    exchange::ReducedPotentials reduced;
    std::vector<engine::Box> box_nm;  // by replica, after its segment
  };
  // Decides the round's swaps from the results of Orders(), advances the
  // permutation, statistics and round. Fails (changing nothing) if a result
  // is missing or an energy needed for a decision is NaN.
  absl::StatusOr<const Completed*> Complete(
      const std::vector<SegmentResult>& results);

  // Asynchronous exchange (exchange.mode: asynchronous,
  // docs/exchange.md#asynchronous-exchange). round() then counts exchange
  // events, and a replica's segments are numbered on their own.
  //
  // The order for replica `replica`'s segment number `segment` at its
  // current rung. On a ladder with parameters it evaluates every rung the
  // replica could be swapped to in any event: its neighbours along every
  // axis under `neighbors`, every rung under `gibbs`.
  SegmentOrder OrderFor(int replica, int64_t segment) const;
  // An exchange event: the replicas of `orders` have just finished those
  // segments (`results` parallel) and wait; decides swaps among their rungs
  // only (exchange::ExchangeAmong), the running replicas keeping theirs, and
  // advances the permutation, statistics and round. The Completed's
  // per-replica entries are NaN (zero boxes) for the replicas not in the
  // event. Fails (changing nothing) if an order is not at its replica's
  // rung, a replica appears twice or a needed energy is NaN.
  absl::StatusOr<const Completed*> CompleteAmong(
      const std::vector<SegmentOrder>& orders,
      const std::vector<SegmentResult>& results);

 private:
  RoundDriver(exchange::Ladder ladder, const v1::JobSpec& spec);
  // The fields every order has: replica, its rung (and an adaptive ladder's
  // current version), steps and the seed of segment `round`.
  SegmentOrder BaseOrder(int replica, int64_t round) const;
  // Decides from `results` (by replica, parallel to `orders`) among the
  // `movable` rungs (empty: all) and advances; Complete and CompleteAmong.
  absl::StatusOr<const Completed*> Decide(
      const std::vector<SegmentOrder>& orders,
      const std::vector<SegmentResult>& results,
      const std::vector<bool>& movable);
  // Records a decided round and moves on to the next; at an adaptive
  // ladder's change, re-spaces the rungs (temperatures and parameter
  // values) from what was measured since the last one. Complete and Replay both
  // come here, so a replayed job reaches the same ladders bit for bit.
  void Advance(const exchange::RoundOutcome& outcome);
  void Adapt();
  // Records ladder_ as the version that starts at round_.
  void BeginVersion();
  // A ladder without Hamiltonian parameters: every replica's reduced
  // potential at every rung from its own energy terms.
  exchange::ReducedPotentials ThermodynamicReducedPotentials(
      const std::vector<SegmentOrder>& orders,
      const std::vector<SegmentResult>& results) const;
  exchange::Ladder ladder_;
  exchange::Scheme scheme_;
  uint64_t seed_;
  int steps_;
  int64_t n_rounds_;
  int64_t swap_attempts_;
  int64_t energies_every_;  // rounds with every rung's energy; 0: none
  int64_t adapt_rounds_;    // ladder.adapt.rounds; 0: a fixed ladder
  int64_t adapt_interval_;
  bool adapt_round_trips_;  // else equal acceptance
  std::vector<LadderVersion> versions_;
  // ladder_ as the orders share it, from the last version's start.
  std::shared_ptr<const exchange::Ladder> version_ladder_;
  int64_t round_ = 0;
  exchange::Permutation permutation_;
  exchange::Statistics statistics_;
  std::unique_ptr<Completed> last_;
};

}  // namespace replex::runner
