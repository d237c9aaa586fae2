// A trajectory in the AMBER NetCDF convention
// (ambermd.org/netcdf/nctraj.xhtml), readable by mdtraj, MDAnalysis, cpptraj
// and VMD: frames of float coordinates in angstrom and their time in ps; for
// periodic systems the box of every frame (cell_lengths in angstrom,
// cell_angles in degrees); and the replica-exchange variables of the
// convention's REMD extension, so cpptraj sees the exchange: each frame's
// temperature (temp0), its rung (remd_repidx) and the replica whose
// coordinates it holds (remd_crdidx), both 1-based as AMBER counts. Every
// frame is synced to disk, so readers see whole frames while the job runs.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/engine/engine.h"

namespace replex::results {

// Not thread-safe.
class NetcdfTrajectory {
 public:
  // Opens `path` for writing frames: creates it, or (when it exists, e.g. a
  // job resumed after a restart) reopens it, checking its atom count. Frames
  // carry a box when `periodic`.
  static absl::StatusOr<std::unique_ptr<NetcdfTrajectory>> Open(
      const std::filesystem::path& path, int n_atoms, bool periodic,
      const std::string& title);
  ~NetcdfTrajectory();

  // One frame: positions in nm, the box (ignored unless periodic), and where
  // it stands in the exchange: rung, replica and the rung's temperature.
  struct Frame {
    double time_ps = 0;
    const std::vector<engine::Vec3>* positions_nm = nullptr;
    engine::Box box_nm{};
    int rung = 0;
    int replica = 0;
    double temperature_k = 0;
  };
  // Writes frame `index` (replacing it when it exists, so a rolled-back job
  // rewrites its frames instead of appending duplicates).
  absl::Status WriteFrame(int64_t index, const Frame& frame);

  // Drops the frames of the trajectory at `path` from frame `frames` on,
  // by copying the others, bit for bit, into a new file that replaces it;
  // nothing to do when it has no more (or does not exist). A job whose
  // resumed run writes fewer frames than the run it superseded (asynchronous
  // exchange: a rung's frames follow how many segments ran at it) would
  // otherwise keep stale ones at the end. Not while the file is open here.
  static absl::Status KeepFrames(const std::filesystem::path& path,
                                 int64_t frames);

 private:
  NetcdfTrajectory() = default;
  std::filesystem::path path_;
  int ncid_ = -1;
  int n_atoms_ = 0;
  bool periodic_ = false;
  int coordinates_ = -1, time_ = -1;
  int cell_lengths_ = -1, cell_angles_ = -1;
  int temp0_ = -1, repidx_ = -1, crdidx_ = -1;
  std::vector<float> buffer_;
};

}  // namespace replex::results
