// The engine: the only code that calls OpenMM. Loads a serialized System and
// its starting coordinates, runs one replica per OpenMM Context, moves it
// between rungs, evaluates reduced potentials and saves/restores a portable
// state. Every OpenMM exception is caught here and becomes an absl::Status.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "lib/engine/context_mutex.h"
#include "lib/engine/portable_state.h"
#include "lib/exchange/ladder.h"

namespace OpenMM {
class System;
class State;
class Context;
class LangevinMiddleIntegrator;
class Platform;
}  // namespace OpenMM

namespace replex::engine {

// Where replex's own OpenMM plugins live (tools/build-openmm-plugins.sh
// installs them there): Debian's OpenMM lacks the CPU PME plugin and the CUDA
// platform.
inline constexpr char kDefaultReplexPluginDirectory[] =
    "/usr/local/lib/replex/openmm-plugins";

// $REPLEX_OPENMM_PLUGIN_DIR if set and non-empty, else
// kDefaultReplexPluginDirectory.
std::string ReplexPluginDirectory();

// What loading OpenMM's plugins did in this process: first from OpenMM's
// default directory (Platform::getDefaultPluginsDirectory()), then from
// ReplexPluginDirectory(), unless that is the same directory. A directory
// that does not exist holds no plugins; that is not a failure.
struct PluginReport {
  std::vector<std::string> directories;   // searched, in order
  std::vector<std::string> loaded_files;  // full paths
  // One per file that did not load: "FILE: why", e.g. the library it needs
  // that is missing, and whether that means there is no NVIDIA driver.
  std::vector<std::string> failures;
  std::vector<std::string> platforms;  // those OpenMM can create afterwards
};

// Loads the plugins on the first call; the same report afterwards.
// Thread-safe.
const PluginReport& Plugins();

// Plugins().platforms and Plugins().failures.
std::vector<std::string> AvailablePlatforms();
std::vector<std::string> PluginLoadFailures();

// One line for logs and headers: the platforms, and what loaded or failed
// from the replex plugin directory (the CPU PME and CUDA plugins), e.g.
// "OpenMM platforms Reference, CPU, OpenCL; /usr/local/lib/replex/
// openmm-plugins: loaded libOpenMMPME.so; failed libOpenMMCUDA.so
// (libcuda.so.1: ... no NVIDIA driver on this machine)".
std::string PluginSummary();

// The System's Monte Carlo barostat (NPT). Replica exchange needs one scalar
// pressure per rung, so an anisotropic barostat must apply the same pressure
// on every axis.
struct Barostat {
  enum class Kind { kIsotropic, kFlexible, kAnisotropic, kMembrane };
  Kind kind = Kind::kIsotropic;
  double pressure_bar = 0;  // the System's own, used unless the ladder sets one
  double surface_tension_bar_nm = 0;  // membrane barostats only
  int frequency = 0;                  // steps between moves; 0: never
};

// Starting coordinates as given: exactly one of the two is non-empty.
struct Coordinates {
  absl::string_view state_xml;  // XmlSerializer output for an OpenMM::State
  absl::string_view pdb;
};

// Where a replica starts.
struct Start {
  PortableState state;
  bool has_velocities = false;  // State XML with velocities
};

// A parsed System plus starting coordinates. Immutable; thread-safe.
class Model {
 public:
  // `system_xml` is XmlSerializer output for an OpenMM::System. Exactly one of
  // `state_xml` (XmlSerializer output for an OpenMM::State) or `pdb` is
  // non-empty; `replica_starts`, when given, has one set of coordinates per
  // replica. Fails with INVALID_ARGUMENT naming the input ("system_xml",
  // "state_xml", "pdb", "replica_starts[i]: pdb") for malformed text,
  // non-finite coordinates, a particle count that differs from the System's,
  // an Andersen thermostat, more than one barostat, or an anisotropic
  // barostat with unequal pressures. PDB: ATOM/HETATM records of the first
  // model, Å converted to nm; an orthorhombic CRYST1 box, else the System's
  // default.
  static absl::StatusOr<std::shared_ptr<const Model>> Load(
      absl::string_view system_xml, absl::string_view state_xml,
      absl::string_view pdb,
      const std::vector<Coordinates>& replica_starts = {});

  int num_particles() const;
  const OpenMM::System& system() const { return *system_; }
  // The job's coordinates.
  const PortableState& initial_state() const { return initial_.state; }
  // True when the initial coordinates carried velocities (State XML).
  bool has_initial_velocities() const { return initial_.has_velocities; }
  // Where `replica` starts: its own start when the job gives one per
  // replica, else the job's coordinates. `replica` < num_replica_starts()
  // when there are any.
  const Start& start(int replica) const;
  int num_replica_starts() const {
    return static_cast<int>(replica_starts_.size());
  }
  // The System's barostat; none for NVT.
  const std::optional<Barostat>& barostat() const { return barostat_; }
  // Whether the System uses periodic boundary conditions (has a box).
  bool periodic() const { return periodic_; }

  ~Model();

 private:
  Model();
  std::unique_ptr<OpenMM::System> system_;
  Start initial_;
  std::vector<Start> replica_starts_;
  std::optional<Barostat> barostat_;
  bool periodic_ = false;
};

// What the exchange needs of a replica's configuration at its rung.
struct EnergyTerms {
  double potential_kj_mol = 0;
  // The barostat's work term at the rung's pressure, p V (less gamma A_xy
  // for a membrane barostat), kJ/mol; 0 without a barostat. The reduced
  // potential is beta (U + this).
  double pv_kj_mol = 0;
  Box box_nm{};  // all zero for a System without periodic boundaries
  // The kinetic energy of the velocities the integrator holds (a
  // LangevinMiddleIntegrator's, half a step off the positions), kJ/mol: not
  // used by the exchange; reported so that tests and users can check it is
  // canonical at the rung's temperature.
  double kinetic_kj_mol = 0;
};

struct EngineOptions {
  std::string platform = "CPU";  // Reference, CPU, OpenCL, CUDA
  std::map<std::string, std::string> platform_properties;
  double timestep_ps = 0.002;
  double friction_per_ps = 1.0;
};

// One replica: an OpenMM Context with a LangevinMiddleIntegrator. Not
// thread-safe: one thread at a time (different replicas may run concurrently).
class Replica {
 public:
  // Creates the Context on exactly `options.platform` (UNAVAILABLE naming the
  // available platforms otherwise, never a fallback); checks every ladder
  // parameter is a global parameter of the System (INVALID_ARGUMENT listing
  // those it has); places the replica at `rung` from the model's start of
  // `replica` (Model::start; the job's coordinates unless it gives one per
  // replica), drawing velocities at the rung temperature from `seed` unless
  // that start carried velocities. A ladder with pressures needs a System
  // with a barostat (INVALID_ARGUMENT otherwise).
  static absl::StatusOr<std::unique_ptr<Replica>> Create(
      std::shared_ptr<const Model> model, const EngineOptions& options,
      const exchange::Ladder& ladder, int rung, uint64_t seed, int replica = 0);

  // Moves to another rung: integrator temperature with velocities rescaled by
  // sqrt(T_new / T_old), the rung's global parameters, and the barostat's
  // temperature and pressure. T_new is `temperature_k` when it is positive
  // (a ladder adapted while the job runs gives rungs other temperatures than
  // the one the replica was created with), else the rung's in the ladder.
  absl::Status SetRung(int rung, double temperature_k = 0);
  int rung() const { return rung_; }
  // Replaces the ladder by a new version of it (an adaptive ladder's: the
  // same rungs, shape, parameter names and pressures, other temperatures or
  // parameter values), then moves to the current rung as the new version
  // has it (SetRung). INVALID_ARGUMENT for a ladder of another shape.
  absl::Status SetLadder(std::shared_ptr<const exchange::Ladder> ladder);
  const std::shared_ptr<const exchange::Ladder>& ladder() const {
    return ladder_;
  }
  // The temperature the integrator, and so the velocities, are at.
  double temperature_k() const { return temperature_k_; }

  // Integrates `steps` steps. On the Reference platform, whose random
  // generator is process-global, segments from all replicas are serialised
  // and the generator is reseeded from `segment_seed`, so the outcome is a
  // bit-exact function of (state, rung, segment_seed), whatever thread ran it
  // and whatever ran before. Other platforms ignore `segment_seed` and keep
  // the per-Context stream seeded from Create's `seed`: their results are
  // statistically, not bitwise, reproducible.
  // Fails with INTERNAL (naming the step count) if OpenMM throws or the
  // resulting energy or positions are not finite; the caller restarts the
  // replica (Restore from a checkpoint).
  // With `stop`, steps go in chunks of kStopCheckSteps, the same trajectory
  // bit for bit, and the segment ends early with CANCELLED once *stop is
  // set (the job was cancelled or moved away); the replica is then mid-way
  // and only fit to be discarded.
  static constexpr int kStopCheckSteps = 250;
  absl::Status Run(int steps, uint64_t segment_seed,
                   const std::atomic<bool>* stop = nullptr);

  // Potential energy at the current rung's parameters, kJ/mol.
  absl::StatusOr<double> PotentialEnergy();
  // The potential energy, the barostat's work term and the box.
  absl::StatusOr<EnergyTerms> Energies();
  // u_k(x) = beta_k (U_k(x) + p_k V - gamma A) of the current configuration
  // at each rung in `rungs` (the p V term only with a barostat); restores the
  // current rung's parameters afterwards. One energy evaluation for a
  // temperature-only ladder, one per rung otherwise. U_k may be +infinity
  // (that swap is never accepted); NaN is an INTERNAL error.
  absl::StatusOr<std::vector<double>> ReducedPotentials(
      absl::Span<const int> rungs);

  absl::StatusOr<PortableState> Save();
  // Sets positions, velocities, box, time and global parameters from `state`,
  // except the ladder's parameters, which stay those of the current rung; the
  // velocities are taken to be at temperature_k(), so call SetRung(the rung
  // and temperature the state was saved at) first if they differ, then
  // SetRung to move on. Fails with INVALID_ARGUMENT on a particle-count
  // mismatch, non-finite values or a parameter the System lacks; the replica is
  // unchanged then.
  absl::Status Restore(const PortableState& state);

  ~Replica();

 private:
  Replica(absl::string_view platform, int barostat_frequency);
  // The destructor's work, apart from it because clang's analysis skips
  // destructors and this is the lock that must be exclusive.
  void DestroyContext() ABSL_LOCKS_EXCLUDED(context_mutex_);
  absl::Status CheckLadderParameters() const
      ABSL_LOCKS_EXCLUDED(context_mutex_);
  absl::Status DrawVelocities(double temperature_k, int openmm_seed)
      ABSL_LOCKS_EXCLUDED(context_mutex_);
  struct Measured {
    double potential_kj_mol;
    Box box_nm;
    double kinetic_kj_mol;
  };
  // The box of `state` for a periodic System, else all zero.
  Box BoxIfPeriodic(const OpenMM::State& state) const;
  // The barostat's pressure at `rung` (the ladder's, else the System's).
  double PressureBar(int rung) const;
  // The barostat's work term at `rung` for `box`, kJ/mol; 0 without one.
  double WorkTerm(int rung, const Box& box) const;
  // The current configuration's potential and kinetic energy and box,
  // measured unless Run already did.
  absl::StatusOr<Measured> Measure();
  // Sets `rung`'s ladder parameters, and the barostat's temperature and
  // pressure, in the Context. Throws OpenMM exceptions: call it inside a
  // conversion to Status.
  void SetParametersOf(int rung) ABSL_SHARED_LOCKS_REQUIRED(context_mutex_);
  // Validates `state` against the System, then sets box, positions,
  // velocities (if `with_velocities`), parameters and time; the ladder
  // parameters stay those of rung_.
  absl::Status Apply(const PortableState& state, bool with_velocities)
      ABSL_LOCKS_EXCLUDED(context_mutex_);
  // Runs `body` holding context_mutex_ shared, turning OpenMM exceptions into
  // a Status with `code` prefixed by `what`. `body` uses context_, so it is a
  // lambda annotated ABSL_SHARED_LOCKS_REQUIRED(context_mutex_).
  template <typename Body>
  std::invoke_result_t<Body&> ContextCall(absl::StatusCode code,
                                          absl::string_view what,
                                          Body&& body) const
      ABSL_LOCKS_EXCLUDED(context_mutex_);

  // Destruction runs bottom-up: the Context goes before the integrator it
  // uses and the model whose System it reads.
  std::shared_ptr<const Model> model_;
  std::shared_ptr<const exchange::Ladder> ladder_;
  // Draws from OpenMM's one process-global generator: every Context on the
  // Reference platform (each step), and any Context whose System has a
  // barostat (each barostat move, and its creation).
  bool SharesReferenceRng() const {
    return reference_platform_ || barostat_frequency_ > 0;
  }
  bool reference_platform_ = false;
  int barostat_frequency_ = 0;  // steps between barostat moves; 0: none
  // Integration steps since the Context was made: OpenMM's barostats move
  // on every barostat_frequency_-th of them, counted from its creation.
  int64_t steps_run_ = 0;
  // Held shared by every use of the Context (stepping the integrator uses it
  // too) and exclusively to create or destroy it; only the CPU platform
  // needs it, and only ContextMutex knows that. Replica is not thread-safe:
  // the Context itself is used by one thread at a time, and the mutex guards
  // what OpenMM shares between Contexts.
  mutable ContextMutex context_mutex_;
  std::unique_ptr<OpenMM::LangevinMiddleIntegrator> integrator_
      ABSL_PT_GUARDED_BY(context_mutex_);
  std::unique_ptr<OpenMM::Context> context_ ABSL_GUARDED_BY(context_mutex_);
  int rung_ = 0;
  double temperature_k_ = 0;  // the integrator's
  // The potential energy and box Run computed to check its result, valid
  // until the configuration or the parameters change: PotentialEnergy,
  // Energies and temperature-only ReducedPotentials then cost no force
  // evaluation.
  std::optional<Measured> measured_;
};

}  // namespace replex::engine
