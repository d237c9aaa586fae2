#include "lib/runner/driver.h"

#include <algorithm>
#include <limits>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "lib/exchange/ladder_tuning.h"
#include "lib/exchange/seeds.h"
#include "lib/spec/spec.h"

namespace replex::runner {
namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
}  // namespace

absl::StatusOr<SegmentResult> ExecuteOrder(engine::Replica& replica,
                                           const SegmentOrder& order,
                                           const std::atomic<bool>* stop) {
  if (order.ladder != nullptr && order.ladder != replica.ladder()) {
    // A new version of an adaptive ladder: its values at the old rung first,
    // so that moving rung below rescales velocities from where they are.
    if (absl::Status status = replica.SetLadder(order.ladder); !status.ok()) {
      return status;
    }
  }
  if (order.rung != replica.rung()) {
    if (absl::Status status = replica.SetRung(order.rung); !status.ok()) {
      return status;
    }
  }
  if (absl::Status status = replica.Run(order.steps, order.segment_seed, stop);
      !status.ok()) {
    return status;
  }
  SegmentResult result;
  absl::StatusOr<engine::EnergyTerms> energies = replica.Energies();
  if (!energies.ok()) return energies.status();
  result.potential_kj_mol = energies->potential_kj_mol;
  result.pv_kj_mol = energies->pv_kj_mol;
  result.box_nm = energies->box_nm;
  result.kinetic_kj_mol = energies->kinetic_kj_mol;
  if (!order.evaluate_rungs.empty()) {
    absl::StatusOr<std::vector<double>> reduced =
        replica.ReducedPotentials(order.evaluate_rungs);
    if (!reduced.ok()) return reduced.status();
    result.reduced = *std::move(reduced);
  }
  if (order.want_positions) {
    absl::StatusOr<engine::PortableState> state = replica.Save();
    if (!state.ok()) return state.status();
    result.positions_nm = std::move(state->positions_nm);
  }
  if (order.want_state) {
    absl::StatusOr<engine::PortableState> state = replica.Save();
    if (!state.ok()) return state.status();
    result.state = state->Serialize();
  }
  return result;
}

absl::StatusOr<std::shared_ptr<const engine::Model>> LoadModel(
    const v1::JobSpec& spec) {
  std::vector<engine::Coordinates> starts;
  for (const v1::Coordinates& start : spec.replica_starts()) {
    starts.push_back({start.state_xml(), start.pdb()});
  }
  return engine::Model::Load(spec.system_xml(), spec.state_xml(), spec.pdb(),
                             starts);
}

absl::StatusOr<std::unique_ptr<engine::Replica>> StartReplica(
    std::shared_ptr<const engine::Model> model,
    const engine::EngineOptions& options, const exchange::Ladder& ladder,
    int replica, int rung, double temperature_k, uint64_t velocity_seed,
    const std::string& state, bool redraw_velocities) {
  absl::StatusOr<std::unique_ptr<engine::Replica>> created =
      engine::Replica::Create(std::move(model), options, ladder, rung,
                              velocity_seed, replica);
  if (created.ok() && temperature_k > 0) {
    if (absl::Status status = (*created)->SetRung(rung, temperature_k);
        !status.ok()) {
      return status;
    }
  }
  if (!created.ok() || state.empty()) return created;
  absl::StatusOr<engine::PortableState> restored =
      engine::PortableState::Deserialize(state);
  if (restored.ok() && redraw_velocities) {
    // The new Context drew its velocities from velocity_seed at this rung:
    // keep those instead of the state's.
    absl::StatusOr<engine::PortableState> fresh = (*created)->Save();
    if (fresh.ok()) {
      restored->velocities_nm_per_ps = std::move(fresh->velocities_nm_per_ps);
    } else {
      restored = fresh.status();
    }
  }
  absl::Status status =
      restored.ok() ? (*created)->Restore(*restored) : restored.status();
  if (!status.ok()) {
    return absl::DataLossError(absl::StrCat(
        "the replica's saved state cannot be restored: ", status.message()));
  }
  return created;
}

engine::EngineOptions EngineOptionsFor(const v1::JobSpec& spec,
                                       int replica_threads) {
  engine::EngineOptions options;
  options.platform = spec.platform();
  options.platform_properties.insert(spec.platform_properties().begin(),
                                     spec.platform_properties().end());
  options.timestep_ps = spec.integrator().timestep_ps();
  // RunJob validates but does not fill defaults, so an absent friction is
  // read as ApplyDefaults would fill it, not as 0 (no coupling).
  options.friction_per_ps = spec.integrator().has_friction_per_ps()
                                ? spec.integrator().friction_per_ps()
                                : spec::kDefaultFrictionPerPs;
  // Each CPU Context would otherwise start one thread per core; with several
  // replicas in flight that oversubscribes the machine.
  if (options.platform == "CPU" &&
      options.platform_properties.count("Threads") == 0) {
    const int cores = std::max(1u, std::thread::hardware_concurrency());
    options.platform_properties["Threads"] =
        absl::StrCat(std::max(1, cores / std::max(1, replica_threads)));
  }
  return options;
}

absl::StatusOr<RoundDriver> RoundDriver::Create(const v1::JobSpec& spec) {
  absl::StatusOr<exchange::Ladder> ladder = spec::BuildLadder(spec.ladder());
  if (!ladder.ok()) return ladder.status();
  return RoundDriver(*std::move(ladder), spec);
}

RoundDriver::RoundDriver(exchange::Ladder ladder, const v1::JobSpec& spec)
    : ladder_(std::move(ladder)),
      scheme_(spec::SchemeOf(spec.exchange())),
      seed_(spec.seed()),
      steps_(spec.exchange().steps_per_exchange()),
      n_rounds_(spec.exchange().n_rounds()),
      swap_attempts_(spec.exchange().swap_attempts()),
      energies_every_(spec.exchange().energies_every()),
      adapt_rounds_(spec.ladder().adapt().rounds()),
      adapt_interval_(spec.ladder().adapt().interval()),
      adapt_round_trips_(spec.ladder().adapt().target() ==
                         v1::LadderAdaptation::ROUND_TRIPS),
      permutation_(exchange::Permutation::Identity(ladder_.size())),
      statistics_(ladder_.size(), static_cast<int>(ladder_.pairs().size()),
                  ladder_.shape()) {
  if (adapt_rounds_ > 0) BeginVersion();
}

void RoundDriver::BeginVersion() {
  LadderVersion& version = versions_.emplace_back();
  version.from_round = round_;
  for (const exchange::Rung& rung : ladder_.rungs()) {
    version.temperatures_k.push_back(rung.temperature_k);
    version.parameters.push_back(rung.parameters);
  }
  version_ladder_ = std::make_shared<const exchange::Ladder>(ladder_);
}

double RoundDriver::TemperatureAt(int64_t round, int rung) const {
  if (versions_.empty()) return 0;
  return VersionOf(versions_, round).temperatures_k[rung];
}

SegmentOrder RoundDriver::BaseOrder(int replica, int64_t round) const {
  SegmentOrder order;
  order.round = round;
  order.replica = replica;
  order.rung = permutation_.rung_of_replica(replica);
  order.steps = steps_;
  order.segment_seed = exchange::SegmentSeed(seed_, replica, round);
  if (!versions_.empty()) {
    order.ladder = version_ladder_;
    order.ladder_version = static_cast<int>(versions_.size()) - 1;
  }
  return order;
}

std::vector<SegmentOrder> RoundDriver::Orders(bool want_positions,
                                              bool want_state) const {
  const int n = ladder_.size();
  std::vector<SegmentOrder> orders(n);
  for (int i = 0; i < n; ++i) {
    SegmentOrder& order = orders[i];
    order = BaseOrder(i, round_);
    order.want_positions = want_positions;
    order.want_state = want_state;
    if (!ladder_.temperature_only()) {
      // Every rung on energies_every's rounds: what gibbs evaluates anyway.
      const bool every_rung =
          energies_every_ > 0 && round_ % energies_every_ == 0;
      order.evaluate_rungs = exchange::RungsToEvaluate(
          every_rung ? exchange::Scheme::kGibbs : scheme_, ladder_, round_,
          order.rung);
      order.evaluate_rungs.push_back(order.rung);
    }
  }
  return orders;
}

absl::StatusOr<const RoundDriver::Completed*> RoundDriver::Complete(
    const std::vector<SegmentResult>& results) {
  const int n = ladder_.size();
  if (static_cast<int>(results.size()) != n) {
    return absl::InternalError(absl::StrCat("round ", round_, " has ",
                                            results.size(), " results for ", n,
                                            " replicas"));
  }
  return Decide(Orders(false), results, {});
}

SegmentOrder RoundDriver::OrderFor(int replica, int64_t segment) const {
  SegmentOrder order = BaseOrder(replica, segment);
  if (!ladder_.temperature_only() && scheme_ != exchange::Scheme::kNone) {
    // Which rungs wait together is known only when the segment ends.
    if (scheme_ == exchange::Scheme::kGibbs) {
      order.evaluate_rungs =
          exchange::RungsToEvaluate(scheme_, ladder_, 0, order.rung);
    } else {
      for (const exchange::Ladder::Pair& pair : ladder_.pairs()) {
        if (pair.lower == order.rung)
          order.evaluate_rungs.push_back(pair.upper);
        if (pair.upper == order.rung)
          order.evaluate_rungs.push_back(pair.lower);
      }
    }
  }
  if (!ladder_.temperature_only()) order.evaluate_rungs.push_back(order.rung);
  return order;
}

absl::StatusOr<const RoundDriver::Completed*> RoundDriver::CompleteAmong(
    const std::vector<SegmentOrder>& orders,
    const std::vector<SegmentResult>& results) {
  const int n = ladder_.size();
  if (orders.size() != results.size()) {
    return absl::InternalError(absl::StrCat(orders.size(), " orders and ",
                                            results.size(), " results"));
  }
  // The replicas not in the event: at their rungs, energies unknown.
  std::vector<SegmentOrder> by_replica(n);
  std::vector<SegmentResult> results_by_replica(n);
  for (int i = 0; i < n; ++i) {
    by_replica[i].replica = i;
    by_replica[i].rung = permutation_.rung_of_replica(i);
    results_by_replica[i].potential_kj_mol = kNaN;
    results_by_replica[i].kinetic_kj_mol = kNaN;
  }
  std::vector<bool> movable(n, false);
  for (size_t e = 0; e < orders.size(); ++e) {
    const int i = orders[e].replica;
    if (i < 0 || i >= n || orders[e].rung != by_replica[i].rung ||
        movable[orders[e].rung]) {
      return absl::InternalError(absl::StrCat(
          "event ", round_, ": replica ", i, "'s segment at rung ",
          orders[e].rung,
          " is not one of the running replicas' (a replica twice, or a "
          "rung it is no longer at)"));
    }
    movable[orders[e].rung] = true;
    by_replica[i] = orders[e];
    results_by_replica[i] = results[e];
  }
  return Decide(by_replica, results_by_replica, movable);
}

absl::StatusOr<const RoundDriver::Completed*> RoundDriver::Decide(
    const std::vector<SegmentOrder>& orders,
    const std::vector<SegmentResult>& results,
    const std::vector<bool>& movable) {
  const int n = ladder_.size();
  std::vector<double> potentials(n), kinetic(n);
  std::vector<engine::Box> boxes(n);
  exchange::ReducedPotentials reduced(ladder_.temperature_only() ? 0 : n);
  for (int i = 0; i < n; ++i) {
    potentials[i] = results[i].potential_kj_mol;
    kinetic[i] = results[i].kinetic_kj_mol;
    boxes[i] = results[i].box_nm;
    const std::vector<int>& rungs = orders[i].evaluate_rungs;
    if (results[i].reduced.size() != rungs.size()) {
      return absl::InternalError(
          absl::StrCat("replica ", i, " reported ", results[i].reduced.size(),
                       " reduced potentials in round ", round_, "; ",
                       rungs.size(), " were ordered"));
    }
    for (size_t k = 0; k < rungs.size(); ++k) {
      reduced.Set(i, rungs[k], results[i].reduced[k]);
    }
  }
  if (ladder_.temperature_only()) {
    reduced = ThermodynamicReducedPotentials(orders, results);
  }
  absl::StatusOr<exchange::RoundOutcome> outcome =
      exchange::ExchangeAmong(scheme_, ladder_, permutation_, reduced, movable,
                              seed_, round_, swap_attempts_);
  if (!outcome.ok()) return outcome.status();
  Advance(*outcome);
  last_ = std::make_unique<Completed>(
      Completed{*std::move(outcome), std::move(potentials), std::move(kinetic),
                std::move(reduced), std::move(boxes)});
  return last_.get();
}

void RoundDriver::Advance(const exchange::RoundOutcome& outcome) {
  statistics_.Record(outcome);
  permutation_ = outcome.after;
  ++round_;
  if (!versions_.empty() && adapt_interval_ > 0 && round_ <= adapt_rounds_ &&
      (round_ % adapt_interval_ == 0 || round_ == adapt_rounds_)) {
    Adapt();
  }
}

void RoundDriver::Adapt() {
  // Acceptance since the last change.
  const std::vector<int64_t>& attempts = statistics_.pair_attempts();
  const std::vector<int64_t>& accepts = statistics_.pair_accepts();
  std::vector<double> acceptance(attempts.size());
  for (size_t p = 0; p < attempts.size(); ++p) {
    acceptance[p] = exchange::EstimatedAcceptance(accepts[p], attempts[p]);
  }
  versions_.back().acceptance = acceptance;
  absl::StatusOr<std::vector<exchange::Rung>> rungs;
  if (adapt_round_trips_) {
    versions_.back().fraction_up = statistics_.FractionUp();
    rungs = exchange::RoundTripLadder(ladder_, versions_.back().fraction_up);
  } else if (ladder_.axes() > 1) {
    rungs = exchange::EqualAcceptanceGrid(ladder_, attempts, accepts);
  } else {
    absl::StatusOr<exchange::TunedLadder> tuned =
        exchange::EqualAcceptanceLadder(ladder_, acceptance);
    rungs = tuned.ok() ? absl::StatusOr<std::vector<exchange::Rung>>(
                             std::move(tuned->rungs))
                       : tuned.status();
  }
  absl::StatusOr<exchange::Ladder> next =
      rungs.ok() ? exchange::Ladder::Create(ladder_.parameter_names(),
                                            *std::move(rungs), ladder_.shape())
                 : rungs.status();
  // Validation admits only ladders the tuners take, and the acceptance
  // estimates lie in (0, 1), so equal acceptance always gives a valid
  // ladder. Round trips need every rung visited by a replica that has been
  // at an end since the last change; without that, or were a ladder
  // invalid, the job goes on with the ladder it has (a version that repeats
  // it) rather than fail.
  if (next.ok()) {
    ladder_ = *std::move(next);
  } else {
    versions_.back().unchanged_because = std::string(next.status().message());
  }
  BeginVersion();
  statistics_ = exchange::Statistics(ladder_.size(),
                                     static_cast<int>(ladder_.pairs().size()),
                                     ladder_.shape());
}

exchange::ReducedPotentials RoundDriver::ThermodynamicReducedPotentials(
    const std::vector<SegmentOrder>& orders,
    const std::vector<SegmentResult>& results) const {
  const int n = ladder_.size();
  // One pressure for all rungs: u_k = beta_k H with the enthalpy H = U + pV,
  // the T-REMD form, which decides from energy differences directly.
  if (!ladder_.has_pressures()) {
    std::vector<double> enthalpies(n);
    for (int i = 0; i < n; ++i) {
      enthalpies[i] = results[i].potential_kj_mol + results[i].pv_kj_mol;
    }
    return exchange::ReducedPotentials::FromPotentialEnergies(
        ladder_, std::move(enthalpies));
  }
  // A pressure per rung: u_k = beta_k (U + p_k V - gamma A), from the work
  // term at the replica's own rung and its volume.
  exchange::ReducedPotentials reduced(n);
  for (int i = 0; i < n; ++i) {
    const double own = *ladder_.rung(orders[i].rung).pressure_bar;
    const double volume = engine::BoxVolume(results[i].box_nm);
    for (int k = 0; k < n; ++k) {
      const double work =
          results[i].pv_kj_mol + (*ladder_.rung(k).pressure_bar - own) *
                                     volume * exchange::kKJPerMolPerBarNm3;
      reduced.Set(i, k, ladder_.beta(k) * (results[i].potential_kj_mol + work));
    }
  }
  return reduced;
}

absl::Status RoundDriver::Replay(
    const std::vector<exchange::RoundOutcome>& outcomes) {
  const int n = ladder_.size();
  const size_t pairs = ladder_.pairs().size();
  int64_t round = round_;
  for (const exchange::RoundOutcome& outcome : outcomes) {
    if (outcome.round != round || outcome.after.size() != n ||
        outcome.pair_attempts.size() != pairs ||
        outcome.pair_accepts.size() != pairs) {
      return absl::DataLossError(absl::StrCat(
          "cannot replay round ", outcome.round, " at round ", round,
          ": the exchange log does not follow on or does not fit ", n,
          " replicas"));
    }
    ++round;
  }
  for (exchange::RoundOutcome outcome : outcomes) {
    outcome.before = permutation_;
    Advance(outcome);
  }
  last_.reset();
  return absl::OkStatus();
}

}  // namespace replex::runner
