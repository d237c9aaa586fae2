#include "lib/results/netcdf_trajectory.h"

#include <netcdf.h>

#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace replex::results {
namespace {

absl::Status NcError(int code, const std::filesystem::path& path,
                     const char* what) {
  return absl::InternalError(absl::StrCat("trajectory ", path.string(), ": ",
                                          what, ": ", nc_strerror(code)));
}

absl::Status PutText(int ncid, int var, const char* name, const char* text) {
  const int code = nc_put_att_text(ncid, var, name, std::strlen(text), text);
  return code == NC_NOERR ? absl::OkStatus()
                          : absl::InternalError(nc_strerror(code));
}

// Defines the dimensions, variables and attributes the AMBER convention
// requires for a non-periodic trajectory.
absl::Status Define(int ncid, int n_atoms, const std::string& title,
                    int& coordinates, int& time) {
  int frame, spatial, atom, spatial_var;
  int code = NC_NOERR;
  auto check = [&](int c) {
    if (code == NC_NOERR) code = c;
  };
  check(nc_def_dim(ncid, "frame", NC_UNLIMITED, &frame));
  check(nc_def_dim(ncid, "spatial", 3, &spatial));
  check(nc_def_dim(ncid, "atom", n_atoms, &atom));
  check(nc_def_var(ncid, "spatial", NC_CHAR, 1, &spatial, &spatial_var));
  check(nc_def_var(ncid, "time", NC_FLOAT, 1, &frame, &time));
  const int coordinate_dims[3] = {frame, atom, spatial};
  check(nc_def_var(ncid, "coordinates", NC_FLOAT, 3, coordinate_dims,
                   &coordinates));
  if (code != NC_NOERR) return absl::InternalError(nc_strerror(code));
  for (const auto& [var, name, text] :
       std::initializer_list<std::tuple<int, const char*, const char*>>{
           {NC_GLOBAL, "Conventions", "AMBER"},
           {NC_GLOBAL, "ConventionVersion", "1.0"},
           {NC_GLOBAL, "program", "replex"},
           {NC_GLOBAL, "programVersion", REPLEX_VERSION},
           {NC_GLOBAL, "title", title.c_str()},
           {time, "units", "picosecond"},
           {coordinates, "units", "angstrom"}}) {
    if (absl::Status s = PutText(ncid, var, name, text); !s.ok()) return s;
  }
  code = nc_enddef(ncid);
  if (code == NC_NOERR) code = nc_put_var_text(ncid, spatial_var, "xyz");
  return code == NC_NOERR ? absl::OkStatus()
                          : absl::InternalError(nc_strerror(code));
}

}  // namespace

absl::StatusOr<std::unique_ptr<NetcdfTrajectory>> NetcdfTrajectory::Open(
    const std::filesystem::path& path, int n_atoms, const std::string& title) {
  auto trajectory = std::unique_ptr<NetcdfTrajectory>(new NetcdfTrajectory);
  trajectory->path_ = path;
  trajectory->n_atoms_ = n_atoms;
  trajectory->buffer_.resize(static_cast<size_t>(n_atoms) * 3);
  int& ncid = trajectory->ncid_;
  std::error_code error;
  if (std::filesystem::exists(path, error)) {
    if (int code = nc_open(path.c_str(), NC_WRITE, &ncid); code != NC_NOERR) {
      return NcError(code, path, "cannot reopen");
    }
    int atom_dim = -1;
    size_t atoms = 0;
    if (nc_inq_dimid(ncid, "atom", &atom_dim) != NC_NOERR ||
        nc_inq_dimlen(ncid, atom_dim, &atoms) != NC_NOERR ||
        static_cast<int>(atoms) != n_atoms ||
        nc_inq_varid(ncid, "coordinates", &trajectory->coordinates_) !=
            NC_NOERR ||
        nc_inq_varid(ncid, "time", &trajectory->time_) != NC_NOERR) {
      return absl::FailedPreconditionError(absl::StrCat(
          "trajectory ", path.string(),
          " exists but is not this job's (atom count or variables differ); "
          "move it away"));
    }
    return trajectory;
  }
  // 64-bit offset (CDF-2) is the format the AMBER convention names; readers
  // without HDF5 (scipy.io.netcdf) open it.
  if (int code = nc_create(path.c_str(), NC_NOCLOBBER | NC_64BIT_OFFSET, &ncid);
      code != NC_NOERR) {
    return NcError(code, path, "cannot create");
  }
  if (absl::Status s = Define(ncid, n_atoms, title, trajectory->coordinates_,
                              trajectory->time_);
      !s.ok()) {
    return absl::InternalError(
        absl::StrCat("trajectory ", path.string(), ": ", s.message()));
  }
  return trajectory;
}

NetcdfTrajectory::~NetcdfTrajectory() {
  if (ncid_ >= 0) nc_close(ncid_);
}

absl::Status NetcdfTrajectory::WriteFrame(
    int64_t index, double time_ps,
    const std::vector<engine::Vec3>& positions_nm) {
  if (static_cast<int>(positions_nm.size()) != n_atoms_) {
    return absl::InternalError(absl::StrCat("trajectory ", path_.string(),
                                            ": frame has ", positions_nm.size(),
                                            " atoms, the file ", n_atoms_));
  }
  for (size_t i = 0; i < positions_nm.size(); ++i) {
    for (int d = 0; d < 3; ++d) {
      buffer_[3 * i + d] = static_cast<float>(positions_nm[i][d] * 10.0);
    }
  }
  const size_t start[3] = {static_cast<size_t>(index), 0, 0};
  const size_t count[3] = {1, static_cast<size_t>(n_atoms_), 3};
  const float time = static_cast<float>(time_ps);
  int code =
      nc_put_vara_float(ncid_, coordinates_, start, count, buffer_.data());
  if (code == NC_NOERR) code = nc_put_var1_float(ncid_, time_, start, &time);
  // Syncing updates the record count in the header, so a reader opening the
  // file now sees this frame.
  if (code == NC_NOERR) code = nc_sync(ncid_);
  return code == NC_NOERR ? absl::OkStatus()
                          : NcError(code, path_, "cannot write a frame");
}

}  // namespace replex::results
