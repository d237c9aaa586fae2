// Replica: one OpenMM Context with a LangevinMiddleIntegrator, moved between
// rungs, run in segments, and saved to and restored from a PortableState. The
// two process-wide locks some platforms need are taken here: the Reference
// generator's (below) and the CPU Context map's (context_mutex.cc).
#include <OpenMM.h>
#include <openmm/reference/SimTKOpenMMUtilities.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>

#include "absl/base/const_init.h"
#include "absl/base/thread_annotations.h"
#include "absl/memory/memory.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "lib/engine/engine.h"
#include "lib/engine/openmm_util.h"
#include "lib/engine/platforms.h"
#include "lib/exchange/seeds.h"

namespace replex::engine {
namespace {

absl::Status CheckRung(const exchange::Ladder& ladder, int rung) {
  if (rung < 0 || rung >= ladder.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "rung ", rung, " is outside the ladder's ", ladder.size(), " rungs"));
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// The Reference platform's generator

// The Reference platform draws every random number from one process-global
// generator (SimTKOpenMMUtilities), which Context creation reseeds and
// integration advances; so do OpenMM 7.7's Monte Carlo barostats, on every
// platform (their moves and acceptance tests, and their initialisation
// reseeds it). This mutex serialises all of it, so a segment's draws depend
// only on its segment seed, and concurrent replicas never race on the
// generator's unsynchronised state. The cost: an NPT job's segments in one
// process run one at a time (docs/job-spec.md, NPT).
ABSL_CONST_INIT absl::Mutex reference_rng_mutex(absl::kConstInit);

// OpenMM's GPU platforms discover their devices and set up their compilers as
// a Context is made, and that is not safe to run twice at once: two OpenCL
// Contexts made at the same time on PoCL fail with "No compatible OpenCL
// platform is available". Contexts are made one at a time on every platform
// (on CPU and Reference they already are, under the locks above); using them
// is not held up. Acquired after cpu_context_map_mutex, before
// reference_rng_mutex.
ABSL_CONST_INIT absl::Mutex context_creation_mutex(absl::kConstInit);

// Reseeds the Reference platform's global generator. In OpenMM 7.7
// setRandomNumberSeed() keeps the second Gaussian of the last Box-Muller pair
// (nextGaussianIsValid), so a segment's first random force would be left over
// from whatever ran before. Initialising the generator, which a uniform draw
// does, discards it; createCheckpoint() (layout: uint32 seed, bool
// initialised, bool nextGaussianIsValid, ...) confirms that, so a future
// OpenMM that behaves differently fails loudly instead of silently.
absl::Status ReseedReferenceRng(uint32_t seed)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(reference_rng_mutex) {
  using OpenMM::SimTKOpenMMUtilities;
  SimTKOpenMMUtilities::setRandomNumberSeed(seed);
  SimTKOpenMMUtilities::getUniformlyDistributedRandomNumber();
  std::stringstream checkpoint;
  SimTKOpenMMUtilities::createCheckpoint(checkpoint);
  const std::string bytes = checkpoint.str();
  constexpr size_t kInitialised = sizeof(uint32_t);
  constexpr size_t kGaussianCached = kInitialised + sizeof(bool);
  uint32_t written_seed = 0;
  if (bytes.size() > kGaussianCached) {
    std::memcpy(&written_seed, bytes.data(), sizeof(written_seed));
  }
  if (written_seed != seed || bytes[kInitialised] != 1 ||
      bytes[kGaussianCached] != 0) {
    return absl::InternalError(
        "could not reseed OpenMM's Reference random generator reproducibly "
        "(a Gaussian from an earlier segment is still cached, or its "
        "checkpoint layout changed in this OpenMM version)");
  }
  return absl::OkStatus();
}

}  // namespace

// ---------------------------------------------------------------------------
// Replica

Replica::Replica(absl::string_view platform, int barostat_frequency)
    : reference_platform_(platform == "Reference"),
      barostat_frequency_(barostat_frequency),
      context_mutex_(platform) {}

Replica::~Replica() { DestroyContext(); }

void Replica::DestroyContext() {
  ContextMutexLock lock(&context_mutex_);
  context_ = nullptr;
}

template <typename Body>
std::invoke_result_t<Body&> Replica::ContextCall(absl::StatusCode code,
                                                 absl::string_view what,
                                                 Body&& body) const {
  return Guarded(code, what, [&] {
    ContextReaderMutexLock lock(&context_mutex_);
    return body();
  });
}

absl::StatusOr<std::unique_ptr<Replica>> Replica::Create(
    std::shared_ptr<const Model> model, const EngineOptions& options,
    const exchange::Ladder& ladder, int rung, uint64_t seed,
    int replica_index) {
  if (model == nullptr) return absl::InvalidArgumentError("model is null");
  if (model->num_replica_starts() > 0 &&
      (replica_index < 0 || replica_index >= model->num_replica_starts())) {
    return absl::InvalidArgumentError(
        absl::StrCat("replica ", replica_index, " has no start: the job gives ",
                     model->num_replica_starts(), " (replica_starts)"));
  }
  if (absl::Status status = CheckRung(ladder, rung); !status.ok()) {
    return status;
  }
  if (!std::isfinite(options.timestep_ps) || options.timestep_ps <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "timestep ", options.timestep_ps, " ps must be positive and finite"));
  }
  if (!std::isfinite(options.friction_per_ps) || options.friction_per_ps < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("friction ", options.friction_per_ps,
                     "/ps must be non-negative and finite"));
  }
  if (ladder.has_pressures() && !model->barostat().has_value()) {
    return absl::InvalidArgumentError(
        "ladder.pressures_bar is given but the System has no Monte Carlo "
        "barostat: add one (a MonteCarloBarostat) for NPT, or remove the "
        "pressures");
  }
  absl::StatusOr<OpenMM::Platform*> platform = FindPlatform(options.platform);
  if (!platform.ok()) return platform.status();
  if (absl::Status status =
          CheckPlatformProperties(**platform, options.platform_properties);
      !status.ok()) {
    return status;
  }

  auto replica = absl::WrapUnique(new Replica(
      options.platform,
      model->barostat().has_value() ? model->barostat()->frequency : 0));
  replica->model_ = std::move(model);
  replica->ladder_ = std::make_shared<const exchange::Ladder>(ladder);
  replica->rung_ = rung;
  const double temperature = ladder.rung(rung).temperature_k;
  replica->temperature_k_ = temperature;

  absl::Status status = Guarded(
      absl::StatusCode::kUnavailable,
      absl::StrCat("creating an OpenMM Context on the ", options.platform,
                   " platform failed"),
      [&] {
        auto integrator = std::make_unique<OpenMM::LangevinMiddleIntegrator>(
            temperature, options.friction_per_ps, options.timestep_ps);
        integrator->setRandomNumberSeed(exchange::OpenMMSeed(seed));
        // Seeded before it is stored: integrator_ is used under the lock.
        replica->integrator_ = std::move(integrator);
        ContextMutexLock map_lock(&replica->context_mutex_);
        auto make_context =
            [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(replica->context_mutex_) {
              // The System is shared read-only: Contexts only read it.
              replica->context_ = std::make_unique<OpenMM::Context>(
                  replica->model_->system(), *replica->integrator_, **platform,
                  options.platform_properties);
              // Some kernels finish setting up at the first force
              // evaluation, and not all of that is safe to run twice at
              // once (the CPU PME plugin plans its FFTs then, and FFTW's
              // planner is not thread-safe: two replicas' first steps at
              // once crashed the process). So the first evaluation happens
              // here, one Context at a time, at the starting coordinates.
              const PortableState& start =
                  replica->model_->start(replica_index).state;
              const Box& box = start.box_vectors_nm;
              replica->context_->setPeriodicBoxVectors(
                  ToOpenMM(box[0]), ToOpenMM(box[1]), ToOpenMM(box[2]));
              replica->context_->setPositions(ToOpenMM(start.positions_nm));
              replica->context_->getState(OpenMM::State::Forces);
            };
        absl::MutexLock creation_lock(&context_creation_mutex);
        // The CPU PME plugin sizes its threads once per process from
        // OPENMM_CPU_THREADS, else from the core count, not from the
        // platform's Threads: without this, replicas sharing the cores each
        // run PME on all of them.
        if (options.platform == "CPU" &&
            options.platform_properties.count("Threads") > 0 &&
            std::getenv("OPENMM_CPU_THREADS") == nullptr) {
          setenv("OPENMM_CPU_THREADS",
                 options.platform_properties.at("Threads").c_str(), 0);
        }
        if (replica->SharesReferenceRng()) {
          // A Reference Context, and a barostat, reseed the global generator
          // as they are made.
          absl::MutexLock rng_lock(&reference_rng_mutex);
          make_context();
        } else {
          make_context();
        }
        return absl::OkStatus();
      });
  if (!status.ok()) return status;

  if (status = replica->CheckLadderParameters(); !status.ok()) return status;
  const Model& m = *replica->model_;
  const Start& start = m.start(replica_index);
  if (status = replica->Apply(start.state, start.has_velocities);
      !status.ok()) {
    return status;
  }
  if (!start.has_velocities) {
    status = replica->DrawVelocities(temperature, exchange::OpenMMSeed(~seed));
    if (!status.ok()) return status;
  }
  return replica;
}

absl::Status Replica::DrawVelocities(double temperature_k, int openmm_seed) {
  return ContextCall(absl::StatusCode::kInternal, "drawing velocities",
                     [&]() ABSL_SHARED_LOCKS_REQUIRED(context_mutex_) {
                       context_->setVelocitiesToTemperature(temperature_k,
                                                            openmm_seed);
                       return absl::OkStatus();
                     });
}

absl::Status Replica::CheckLadderParameters() const {
  ContextReaderMutexLock lock(&context_mutex_);
  const std::map<std::string, double>& globals = context_->getParameters();
  for (const std::string& name : ladder_->parameter_names()) {
    if (globals.count(name) == 0) {
      std::vector<std::string> known;
      for (const auto& [known_name, value] : globals)
        known.push_back(known_name);
      return absl::InvalidArgumentError(absl::StrCat(
          "ladder parameter '", name,
          "' is not a global parameter of the System (it has ",
          known.empty() ? "none" : absl::StrJoin(known, ", "), ")"));
    }
  }
  return absl::OkStatus();
}

void Replica::SetParametersOf(int rung) {
  const std::vector<std::string>& names = ladder_->parameter_names();
  const std::vector<double>& values = ladder_->rung(rung).parameters;
  for (size_t p = 0; p < names.size(); ++p) {
    context_->setParameter(names[p], values[p]);
  }
  if (!model_->barostat().has_value()) return;
  // The barostat samples at the replica's temperature and the rung's
  // pressure: its acceptance test uses its own copy of both.
  const double temperature = temperature_k_;
  const double pressure = PressureBar(rung);
  switch (model_->barostat()->kind) {
    case Barostat::Kind::kIsotropic:
      context_->setParameter(OpenMM::MonteCarloBarostat::Temperature(),
                             temperature);
      context_->setParameter(OpenMM::MonteCarloBarostat::Pressure(), pressure);
      break;
    case Barostat::Kind::kFlexible:
      context_->setParameter(OpenMM::MonteCarloFlexibleBarostat::Temperature(),
                             temperature);
      context_->setParameter(OpenMM::MonteCarloFlexibleBarostat::Pressure(),
                             pressure);
      break;
    case Barostat::Kind::kMembrane:
      context_->setParameter(OpenMM::MonteCarloMembraneBarostat::Temperature(),
                             temperature);
      context_->setParameter(OpenMM::MonteCarloMembraneBarostat::Pressure(),
                             pressure);
      break;
    case Barostat::Kind::kAnisotropic:
      using Anisotropic = OpenMM::MonteCarloAnisotropicBarostat;
      context_->setParameter(Anisotropic::Temperature(), temperature);
      for (const std::string& axis :
           {Anisotropic::PressureX(), Anisotropic::PressureY(),
            Anisotropic::PressureZ()}) {
        context_->setParameter(axis, pressure);
      }
      break;
  }
}

Box Replica::BoxIfPeriodic(const OpenMM::State& state) const {
  return model_->periodic() ? BoxOf(state) : Box{};
}

double Replica::PressureBar(int rung) const {
  const std::optional<double>& own = ladder_->rung(rung).pressure_bar;
  if (own.has_value()) return *own;
  return model_->barostat().has_value() ? model_->barostat()->pressure_bar : 0;
}

double Replica::WorkTerm(int rung, const Box& box) const {
  const std::optional<Barostat>& barostat = model_->barostat();
  if (!barostat.has_value()) return 0;
  const double area = box[0][0] * box[1][1];
  return exchange::kKJPerMolPerBarNm3 *
         (PressureBar(rung) * BoxVolume(box) -
          barostat->surface_tension_bar_nm * area);
}

absl::Status Replica::Apply(const PortableState& state, bool with_velocities) {
  const size_t n = static_cast<size_t>(model_->num_particles());
  if (state.positions_nm.size() != n ||
      (with_velocities && state.velocities_nm_per_ps.size() != n)) {
    return absl::InvalidArgumentError(
        absl::StrCat("state has ", state.positions_nm.size(), " positions and ",
                     state.velocities_nm_per_ps.size(),
                     " velocities but the System has ", n, " particles"));
  }
  if (FirstNonFinite(state.positions_nm) >= 0 ||
      FirstNonFinite(state.velocities_nm_per_ps) >= 0 ||
      FirstNonFinite(
          {state.box_vectors_nm.begin(), state.box_vectors_nm.end()}) >= 0 ||
      !std::isfinite(state.time_ps)) {
    return absl::InvalidArgumentError(
        "state has non-finite positions, velocities, box vectors or time");
  }
  {
    ContextReaderMutexLock lock(&context_mutex_);
    const std::map<std::string, double>& globals = context_->getParameters();
    for (const auto& [name, value] : state.parameters) {
      if (globals.count(name) == 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("state sets parameter '", name,
                         "', which is not a global parameter of the System"));
      }
      if (!std::isfinite(value)) {
        return absl::InvalidArgumentError(
            absl::StrCat("state parameter '", name, "' is not finite"));
      }
    }
  }
  measured_.reset();
  return ContextCall(
      absl::StatusCode::kInvalidArgument, "applying the state",
      [&]() ABSL_SHARED_LOCKS_REQUIRED(context_mutex_) {
        const auto& box = state.box_vectors_nm;
        // Box first: OpenMM checks it before touching anything.
        context_->setPeriodicBoxVectors(ToOpenMM(box[0]), ToOpenMM(box[1]),
                                        ToOpenMM(box[2]));
        context_->setPositions(ToOpenMM(state.positions_nm));
        if (with_velocities) {
          context_->setVelocities(ToOpenMM(state.velocities_nm_per_ps));
        }
        for (const auto& [name, value] : state.parameters) {
          context_->setParameter(name, value);
        }
        // The replica stays at its rung whatever the state says.
        SetParametersOf(rung_);
        context_->setTime(state.time_ps);
        return absl::OkStatus();
      });
}

absl::Status Replica::SetRung(int rung, double temperature_k) {
  if (absl::Status status = CheckRung(*ladder_, rung); !status.ok()) {
    return status;
  }
  if (!(temperature_k >= 0) || std::isinf(temperature_k)) {
    return absl::InvalidArgumentError(
        absl::StrCat("temperature ", temperature_k, " K for rung ", rung,
                     " is not a positive number"));
  }
  measured_.reset();
  return ContextCall(
      absl::StatusCode::kInternal, "setting the rung",
      [&]() ABSL_SHARED_LOCKS_REQUIRED(context_mutex_) {
        const double t_old = integrator_->getTemperature();
        const double t_new = temperature_k > 0
                                 ? temperature_k
                                 : ladder_->rung(rung).temperature_k;
        if (t_new != t_old) {
          // Keeps the kinetic energy in equilibrium at the new temperature.
          const double scale = std::sqrt(t_new / t_old);
          std::vector<OpenMM::Vec3> velocities =
              context_->getState(OpenMM::State::Velocities).getVelocities();
          for (OpenMM::Vec3& v : velocities) v *= scale;
          context_->setVelocities(velocities);
          integrator_->setTemperature(t_new);
          temperature_k_ = t_new;
        }
        SetParametersOf(rung);
        rung_ = rung;
        return absl::OkStatus();
      });
}

absl::Status Replica::SetLadder(
    std::shared_ptr<const exchange::Ladder> ladder) {
  if (ladder == nullptr || ladder->size() != ladder_->size() ||
      ladder->parameter_names() != ladder_->parameter_names() ||
      ladder->shape() != ladder_->shape() ||
      ladder->has_pressures() != ladder_->has_pressures()) {
    return absl::InvalidArgumentError(
        "a new version of the ladder must have the same rungs, shape, "
        "parameter names and pressures as the one the replica was made with");
  }
  ladder_ = std::move(ladder);
  return SetRung(rung_);
}

absl::Status Replica::Run(int steps, uint64_t segment_seed,
                          const std::atomic<bool>* stop) {
  if (steps < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot run a negative number of steps (", steps, ")"));
  }
  measured_.reset();
  int64_t done = 0;  // steps integrated by this call
  // Integrates n steps, in chunks of kStopCheckSteps when `stop` is given,
  // and a step at a time where Contexts share a lock (CPU), so that one
  // being made or destroyed waits a step, not the segment; false once *stop
  // is set. OpenMM's step(n) is n single steps, so the chunks give the same
  // trajectory, bit for bit.
  const bool step_by_step = context_mutex_.locks();
  auto advance = [&](int n) ABSL_SHARED_LOCKS_REQUIRED(context_mutex_) {
    while (n > 0) {
      if (stop != nullptr && stop->load(std::memory_order_relaxed)) {
        return false;
      }
      const int chunk = step_by_step      ? 1
                        : stop == nullptr ? n
                                          : std::min(n, kStopCheckSteps);
      integrator_->step(chunk);
      steps_run_ += chunk;
      done += chunk;
      n -= chunk;
      context_mutex_.LetWritersIn();
    }
    return true;
  };
  const absl::Status interrupted = absl::CancelledError(
      absl::StrCat("the ", steps, "-step segment was stopped"));
  return ContextCall(
      absl::StatusCode::kInternal,
      absl::StrCat("OpenMM failed during a ", steps, "-step segment"),
      [&]() ABSL_SHARED_LOCKS_REQUIRED(context_mutex_) -> absl::Status {
        if (reference_platform_) {
          // Reseeded and advanced under the generator's lock, so the
          // segment's random forces depend only on `segment_seed`.
          absl::MutexLock lock(&reference_rng_mutex);
          absl::Status status = ReseedReferenceRng(
              static_cast<uint32_t>(exchange::OpenMMSeed(segment_seed)));
          if (!status.ok()) return status;
          if (!advance(steps)) return interrupted;
        } else if (barostat_frequency_ > 0) {
          // Elsewhere only a barostat move draws from the global generator,
          // on every barostat_frequency_-th step since the Context was made:
          // only those steps hold its lock, each reseeded from the segment
          // seed and the move's index, so replicas integrate in parallel
          // and each move's draws depend on this segment alone.
          for (uint64_t move = 0; done < steps; ++move) {
            const int to_move =
                barostat_frequency_ -
                static_cast<int>(steps_run_ % barostat_frequency_);
            if (to_move > steps - done) {
              if (!advance(static_cast<int>(steps - done))) return interrupted;
              break;
            }
            if (!advance(to_move - 1)) return interrupted;
            absl::MutexLock lock(&reference_rng_mutex);
            absl::Status status =
                ReseedReferenceRng(static_cast<uint32_t>(exchange::OpenMMSeed(
                    segment_seed ^ (0x9E3779B97F4A7C15ull * (move + 1)))));
            if (!status.ok()) return status;
            integrator_->step(1);
            ++steps_run_;
            ++done;
          }
        } else if (!advance(steps)) {
          return interrupted;
        }
        const OpenMM::State state = context_->getState(
            OpenMM::State::Energy | OpenMM::State::Positions);
        const char* bad = nullptr;
        if (!std::isfinite(state.getPotentialEnergy())) {
          bad = "energy";
        } else if (FirstNonFinite(FromOpenMM(state.getPositions())) >= 0) {
          bad = "position";
        }
        if (bad != nullptr) {
          return absl::InternalError(
              absl::StrCat("replica produced a non-finite ", bad, " after ",
                           steps, " steps"));
        }
        measured_ = Measured{state.getPotentialEnergy(), BoxIfPeriodic(state),
                             state.getKineticEnergy()};
        return absl::OkStatus();
      });
}

absl::StatusOr<Replica::Measured> Replica::Measure() {
  if (measured_.has_value()) return *measured_;
  return ContextCall(
      absl::StatusCode::kInternal, "computing the energy",
      [&]() ABSL_SHARED_LOCKS_REQUIRED(
          context_mutex_) -> absl::StatusOr<Measured> {
        const OpenMM::State state = context_->getState(OpenMM::State::Energy);
        return Measured{state.getPotentialEnergy(), BoxIfPeriodic(state),
                        state.getKineticEnergy()};
      });
}

absl::StatusOr<double> Replica::PotentialEnergy() {
  absl::StatusOr<Measured> measured = Measure();
  if (!measured.ok()) return measured.status();
  return measured->potential_kj_mol;
}

absl::StatusOr<EnergyTerms> Replica::Energies() {
  absl::StatusOr<Measured> measured = Measure();
  if (!measured.ok()) return measured.status();
  return EnergyTerms{measured->potential_kj_mol,
                     WorkTerm(rung_, measured->box_nm), measured->box_nm,
                     measured->kinetic_kj_mol};
}

absl::StatusOr<std::vector<double>> Replica::ReducedPotentials(
    absl::Span<const int> rungs) {
  for (int k : rungs) {
    if (absl::Status status = CheckRung(*ladder_, k); !status.ok()) {
      return status;
    }
  }
  absl::StatusOr<Measured> measured = Measure();
  if (!measured.ok()) return measured.status();
  const Box box = measured->box_nm;
  // u_k = beta_k (U_k + work_k); U_k = +inf is a valid "never accept", NaN
  // is not.
  auto reduced = [&](int k, double energy) -> absl::StatusOr<double> {
    if (std::isnan(energy) || energy == -INFINITY) {
      return absl::InternalError(
          absl::StrCat("potential energy at rung ", k, " is ", energy,
                       " for the current configuration"));
    }
    return ladder_->beta(k) * (energy + WorkTerm(k, box));
  };
  std::vector<double> out;
  out.reserve(rungs.size());
  if (ladder_->temperature_only()) {
    for (int k : rungs) {
      absl::StatusOr<double> u = reduced(k, measured->potential_kj_mol);
      if (!u.ok()) return u.status();
      out.push_back(*u);
    }
    return out;
  }
  absl::Status status = ContextCall(
      absl::StatusCode::kInternal, "computing reduced potentials",
      [&]() ABSL_SHARED_LOCKS_REQUIRED(context_mutex_) {
        for (int k : rungs) {
          SetParametersOf(k);
          absl::StatusOr<double> u = reduced(
              k,
              context_->getState(OpenMM::State::Energy).getPotentialEnergy());
          if (!u.ok()) return u.status();
          out.push_back(*u);
        }
        return absl::OkStatus();
      });
  // Back to this replica's own rung, on success and failure alike.
  absl::Status restored = ContextCall(
      absl::StatusCode::kInternal, "restoring the rung's parameters",
      [&]() ABSL_SHARED_LOCKS_REQUIRED(context_mutex_) {
        SetParametersOf(rung_);
        return absl::OkStatus();
      });
  if (!status.ok()) return status;
  if (!restored.ok()) return restored;
  return out;
}

absl::StatusOr<PortableState> Replica::Save() {
  return ContextCall(
      absl::StatusCode::kInternal, "saving the state",
      [&]() ABSL_SHARED_LOCKS_REQUIRED(
          context_mutex_) -> absl::StatusOr<PortableState> {
        const OpenMM::State s = context_->getState(OpenMM::State::Positions |
                                                   OpenMM::State::Velocities |
                                                   OpenMM::State::Parameters);
        PortableState state;
        state.positions_nm = FromOpenMM(s.getPositions());
        state.velocities_nm_per_ps = FromOpenMM(s.getVelocities());
        state.box_vectors_nm = BoxOf(s);
        state.parameters = s.getParameters();
        state.time_ps = s.getTime();
        return state;
      });
}

absl::Status Replica::Restore(const PortableState& state) {
  absl::StatusOr<PortableState> before = Save();
  if (!before.ok()) return before.status();
  absl::Status status = Apply(state, /*with_velocities=*/true);
  if (!status.ok()) {
    // Apply validates first, so this only undoes what OpenMM rejected late.
    absl::Status undone = Apply(*before, /*with_velocities=*/true);
    if (!undone.ok()) {
      return absl::InternalError(absl::StrCat(
          status.message(), "; undoing it failed too: ", undone.message()));
    }
  }
  return status;
}

}  // namespace replex::engine
