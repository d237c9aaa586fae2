// A trajectory in the AMBER NetCDF convention
// (ambermd.org/netcdf/nctraj.xhtml), readable by mdtraj, MDAnalysis, cpptraj
// and VMD: frames of float coordinates in angstrom and their time in ps. Every
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
  // job resumed after a restart) reopens it, checking its atom count.
  static absl::StatusOr<std::unique_ptr<NetcdfTrajectory>> Open(
      const std::filesystem::path& path, int n_atoms, const std::string& title);
  ~NetcdfTrajectory();

  // Writes frame `index` (replacing it when it exists, so a rolled-back job
  // rewrites its frames instead of appending duplicates). Positions in nm.
  absl::Status WriteFrame(int64_t index, double time_ps,
                          const std::vector<engine::Vec3>& positions_nm);

 private:
  NetcdfTrajectory() = default;
  std::filesystem::path path_;
  int ncid_ = -1;
  int n_atoms_ = 0;
  int coordinates_ = -1, time_ = -1;
  std::vector<float> buffer_;
};

}  // namespace replex::results
