// A job's results directory (docs/results.md): a trajectory per rung, the
// energies, the exchange log, the u_kln matrix for MBAR, the mixing analysis
// and a provenance manifest, in formats Python reads without replex (AMBER
// NetCDF, TSV, JSON). Every file is flushed each round, so it can be read
// while the job runs. Used by embedded `replex run` and the coordinator.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lib/exchange/ladder.h"
#include "lib/results/analysis.h"
#include "lib/results/netcdf_trajectory.h"
#include "lib/results/npy_stack.h"
#include "lib/runner/report.h"
#include "replex/v1/job.pb.h"

namespace replex::results {

// File names inside a results directory.
inline constexpr char kManifestFile[] = "manifest.json";
inline constexpr char kAnalysisFile[] = "analysis.json";
inline constexpr char kEnergiesFile[] = "energies.tsv";
inline constexpr char kKineticFile[] = "kinetic.tsv";
inline constexpr char kExchangeFile[] = "exchange.tsv";
inline constexpr char kUklnFile[] = "u_kln.tsv";
// u_kln above kMaxMatrixRungs rungs: a NumPy array u[round, k, l]
// (npy_stack.h).
inline constexpr char kUklnNpyFile[] = "u_kln.npy";
inline constexpr char kVolumesFile[] = "volumes.tsv";
inline constexpr char kTopologyFile[] = "topology.pdb";
inline constexpr char kReportFile[] = "report.html";
inline constexpr char kTrajectoryDir[] = "trajectories";
inline constexpr char kFinalStateDir[] = "final_states";

// "trajectories/rung_007.nc".
std::string TrajectoryPath(int rung);
// "trajectories/replica_007.nc" (output.per_replica_trajectories).
std::string ReplicaTrajectoryPath(int replica);
// "final_states/replica_007.xml": replica 7 after the job's last round, as
// OpenMM State XML (positions, velocities, box, parameters).
std::string FinalStatePath(int replica);

// Creates `dir` (and its parents) for a new job. ALREADY_EXISTS naming the
// directory and the fix when it exists: results are never overwritten.
absl::Status CreateResultsDirectory(const std::filesystem::path& dir);

// About how many bytes a job's results fill by its end, from its spec: the
// trajectories (a frame per rung, and per replica with
// per_replica_trajectories, every frame_interval rounds), the tables
// (energies, kinetic energies, exchange, u_kln as TSV up to kMaxMatrixRungs
// and as .npy above, volumes), the final states and replex run's resume
// journal. Rounded up, for comparing with free disk space before the job
// starts; the atoms are counted in the System XML's <Particles>.
uint64_t EstimatedResultsBytes(const v1::JobSpec& spec);

// EstimatedResultsBytes(spec); RESOURCE_EXHAUSTED, naming both figures and
// the fixes, when the file system holding `dir` (or its nearest existing
// parent) has less free space than that. Disk already promised to running
// jobs is not subtracted: the check catches a job that cannot fit at all,
// not a disk shared out too thinly.
absl::StatusOr<uint64_t> CheckFreeSpace(const std::filesystem::path& dir,
                                        const v1::JobSpec& spec);

// `bytes` as "1.23 GiB", for messages about results disk.
std::string GibText(uint64_t bytes);

// The files of a results directory, relative to it, sorted (temporary
// files being replaced are left out); or just `path` when it is non-empty.
// INVALID_ARGUMENT for an absolute path or one with "..", NOT_FOUND for a
// file that does not exist.
absl::StatusOr<std::vector<std::string>> ResultsFiles(
    const std::filesystem::path& dir, const std::string& path);

// Where the job ran, for the manifest.
struct Provenance {
  std::string job_id;
  std::vector<std::string> hosts;    // host names
  std::vector<std::string> devices;  // e.g. "CPU platform, 2 threads"
};

// Writes one job's results. Not thread-safe: one round at a time.
class ResultsWriter {
 public:
  // Opens the job's files in `dir` (which must exist) for rounds from
  // `next_round` on: rows and frames of rounds >= next_round already there
  // (a job rolled back to a checkpoint, or resumed after a restart) are
  // dropped or will be overwritten, so the finished files hold every round
  // exactly once. Writes the manifest (end time empty).
  static absl::StatusOr<std::unique_ptr<ResultsWriter>> Open(
      const std::filesystem::path& dir, const v1::JobSpec& spec,
      Provenance provenance, int64_t next_round);

  // Appends a round's energies, kinetic energies, exchange, u_kln rows and
  // (every output.frame_interval rounds, when the report has positions) a frame
  // per rung; refreshes analysis.json about 20 times per job and at the last
  // round, when it also writes each replica's final state (the report's
  // states) into final_states/.
  absl::Status WriteRound(const runner::RoundReport& report);

  // Records the end: `state` ("SUCCEEDED", ...) and the end time in the
  // manifest and analysis.json, with MBAR's free energies from u_kln
  // (not for "STOPPED", a run that will go on); writes report.html.
  absl::Status Finish(const std::string& state);

  // The analysis last written (after Finish, with its free energies).
  const std::optional<v1::Analysis>& analysis() const { return analysis_; }

  const std::filesystem::path& dir() const { return dir_; }

 private:
  ResultsWriter() = default;
  absl::Status WriteAnalysis(const runner::RunResult& result,
                             const exchange::Statistics& statistics);
  absl::Status SaveAnalysis();  // analysis_ with the current state
  absl::Status WriteFinalStates(const std::vector<std::string>& states);
  absl::Status WriteManifest(const std::string& state,
                             const std::string& finished_at);

  std::filesystem::path dir_;
  v1::JobSpec spec_;
  // The spec's ladder (for an adaptive one, MakeAnalysis puts the latest
  // version's temperatures in its place, and frames take their round's).
  std::optional<exchange::Ladder> ladder_;
  std::vector<runner::LadderVersion> ladder_versions_;  // adaptive ladders
  Provenance provenance_;
  std::string started_at_;
  std::string state_ = "RUNNING";
  std::optional<v1::Analysis> analysis_;  // the last one written
  // Writes this round's frame of every rung's (and, when asked, every
  // replica's) trajectory.
  absl::Status WriteFrames(const runner::RoundReport& report, double time_ps);
  // Asynchronous exchange: the frames of an event's segments, by the
  // count of each rung's and replica's segments (the first event after Open
  // first drops frames past the cut's counts).
  absl::Status WriteEventFrames(const runner::RoundReport& report);
  // Frame `frame` of `trajectory` (opened at dir_ / `path` when null): the
  // configuration of `replica` at `rung` in `report`.
  absl::Status WriteFrame(std::unique_ptr<NetcdfTrajectory>& trajectory,
                          const std::string& path, const std::string& title,
                          const runner::RoundReport& report, int rung,
                          int replica, int64_t frame, double time_ps);
  bool event_frames_trimmed_ = false;

  int64_t next_round_ = 0;  // the first round this writer was opened for
  std::ofstream energies_, kinetic_, exchange_, u_kln_;
  std::unique_ptr<NpyStackWriter> u_kln_npy_;  // above kMaxMatrixRungs
  std::ofstream volumes_;  // periodic systems; opened at the first round
  std::vector<std::unique_ptr<NetcdfTrajectory>> trajectories_;  // per rung
  std::vector<std::unique_ptr<NetcdfTrajectory>> replica_trajectories_;
};

}  // namespace replex::results
