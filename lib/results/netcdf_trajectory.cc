#include "lib/results/netcdf_trajectory.h"

#include <netcdf.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "lib/files/atomic_file.h"

namespace replex::results {
namespace {

// NetCDF-C keeps process-wide state (its table of open files) and is not
// thread-safe: a coordinator writing two jobs' frames at once crashed inside
// libnetcdf. Every nc_* call of this file runs under this lock.
ABSL_CONST_INIT absl::Mutex netcdf_mutex(absl::kConstInit);

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

// The variables a trajectory writes, by id.
struct Variables {
  int coordinates = -1, time = -1;
  int cell_lengths = -1, cell_angles = -1;  // periodic only
  int temp0 = -1, repidx = -1, crdidx = -1;
};

// Defines the dimensions, variables and attributes of the AMBER convention
// (with its periodic-box and REMD parts).
absl::Status Define(int ncid, int n_atoms, bool periodic,
                    const std::string& title, Variables& v) {
  int frame, spatial, atom, spatial_var;
  int cell_spatial = -1, cell_angular = -1, label = -1;
  int cell_spatial_var = -1, cell_angular_var = -1;
  int code = NC_NOERR;
  auto check = [&](int c) {
    if (code == NC_NOERR) code = c;
  };
  check(nc_def_dim(ncid, "frame", NC_UNLIMITED, &frame));
  check(nc_def_dim(ncid, "spatial", 3, &spatial));
  check(nc_def_dim(ncid, "atom", n_atoms, &atom));
  check(nc_def_var(ncid, "spatial", NC_CHAR, 1, &spatial, &spatial_var));
  check(nc_def_var(ncid, "time", NC_FLOAT, 1, &frame, &v.time));
  const int coordinate_dims[3] = {frame, atom, spatial};
  check(nc_def_var(ncid, "coordinates", NC_FLOAT, 3, coordinate_dims,
                   &v.coordinates));
  if (periodic) {
    check(nc_def_dim(ncid, "cell_spatial", 3, &cell_spatial));
    check(nc_def_dim(ncid, "label", 5, &label));
    check(nc_def_dim(ncid, "cell_angular", 3, &cell_angular));
    check(nc_def_var(ncid, "cell_spatial", NC_CHAR, 1, &cell_spatial,
                     &cell_spatial_var));
    const int angular_dims[2] = {cell_angular, label};
    check(nc_def_var(ncid, "cell_angular", NC_CHAR, 2, angular_dims,
                     &cell_angular_var));
    const int lengths_dims[2] = {frame, cell_spatial};
    check(nc_def_var(ncid, "cell_lengths", NC_DOUBLE, 2, lengths_dims,
                     &v.cell_lengths));
    const int angles_dims[2] = {frame, cell_angular};
    check(nc_def_var(ncid, "cell_angles", NC_DOUBLE, 2, angles_dims,
                     &v.cell_angles));
  }
  check(nc_def_var(ncid, "temp0", NC_DOUBLE, 1, &frame, &v.temp0));
  check(nc_def_var(ncid, "remd_repidx", NC_INT, 1, &frame, &v.repidx));
  check(nc_def_var(ncid, "remd_crdidx", NC_INT, 1, &frame, &v.crdidx));
  if (code != NC_NOERR) return absl::InternalError(nc_strerror(code));
  std::vector<std::tuple<int, const char*, const char*>> attributes = {
      {NC_GLOBAL, "Conventions", "AMBER"},
      {NC_GLOBAL, "ConventionVersion", "1.0"},
      {NC_GLOBAL, "program", "replex"},
      {NC_GLOBAL, "programVersion", REPLEX_VERSION},
      {NC_GLOBAL, "title", title.c_str()},
      {v.time, "units", "picosecond"},
      {v.coordinates, "units", "angstrom"},
      {v.temp0, "units", "kelvin"}};
  if (periodic) {
    attributes.push_back({v.cell_lengths, "units", "angstrom"});
    attributes.push_back({v.cell_angles, "units", "degree"});
  }
  for (const auto& [var, name, text] : attributes) {
    if (absl::Status s = PutText(ncid, var, name, text); !s.ok()) return s;
  }
  code = nc_enddef(ncid);
  if (code == NC_NOERR) code = nc_put_var_text(ncid, spatial_var, "xyz");
  if (periodic && code == NC_NOERR) {
    code = nc_put_var_text(ncid, cell_spatial_var, "abc");
  }
  if (periodic && code == NC_NOERR) {
    // Three labels of five characters: "alpha", "beta ", "gamma".
    code = nc_put_var_text(ncid, cell_angular_var, "alphabeta gamma");
  }
  return code == NC_NOERR ? absl::OkStatus()
                          : absl::InternalError(nc_strerror(code));
}

constexpr double kDegreesPerRadian = 57.29577951308232;

double Length(const engine::Vec3& v) {
  return std::sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
}

double Angle(const engine::Vec3& a, const engine::Vec3& b) {
  const double cosine =
      (a[0] * b[0] + a[1] * b[1] + a[2] * b[2]) / (Length(a) * Length(b));
  return std::acos(std::clamp(cosine, -1.0, 1.0)) * kDegreesPerRadian;
}

}  // namespace

absl::StatusOr<std::unique_ptr<NetcdfTrajectory>> NetcdfTrajectory::Open(
    const std::filesystem::path& path, int n_atoms, bool periodic,
    const std::string& title) {
  auto trajectory = std::unique_ptr<NetcdfTrajectory>(new NetcdfTrajectory);
  trajectory->path_ = path;
  trajectory->n_atoms_ = n_atoms;
  trajectory->periodic_ = periodic;
  trajectory->buffer_.resize(static_cast<size_t>(n_atoms) * 3);
  int& ncid = trajectory->ncid_;
  absl::MutexLock lock(&netcdf_mutex);
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
        nc_inq_varid(ncid, "time", &trajectory->time_) != NC_NOERR ||
        nc_inq_varid(ncid, "temp0", &trajectory->temp0_) != NC_NOERR ||
        nc_inq_varid(ncid, "remd_repidx", &trajectory->repidx_) != NC_NOERR ||
        nc_inq_varid(ncid, "remd_crdidx", &trajectory->crdidx_) != NC_NOERR ||
        (periodic && (nc_inq_varid(ncid, "cell_lengths",
                                   &trajectory->cell_lengths_) != NC_NOERR ||
                      nc_inq_varid(ncid, "cell_angles",
                                   &trajectory->cell_angles_) != NC_NOERR))) {
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
  Variables v;
  absl::Status defined = Define(ncid, n_atoms, periodic, title, v);
  trajectory->coordinates_ = v.coordinates;
  trajectory->time_ = v.time;
  trajectory->cell_lengths_ = v.cell_lengths;
  trajectory->cell_angles_ = v.cell_angles;
  trajectory->temp0_ = v.temp0;
  trajectory->repidx_ = v.repidx;
  trajectory->crdidx_ = v.crdidx;
  if (absl::Status s = defined; !s.ok()) {
    return absl::InternalError(
        absl::StrCat("trajectory ", path.string(), ": ", s.message()));
  }
  return trajectory;
}

NetcdfTrajectory::~NetcdfTrajectory() {
  absl::MutexLock lock(&netcdf_mutex);
  if (ncid_ >= 0) nc_close(ncid_);
}

absl::Status NetcdfTrajectory::WriteFrame(int64_t index, const Frame& frame) {
  const std::vector<engine::Vec3>& positions_nm = *frame.positions_nm;
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
  const float time = static_cast<float>(frame.time_ps);
  const int repidx = frame.rung + 1, crdidx = frame.replica + 1;
  absl::MutexLock lock(&netcdf_mutex);
  int code =
      nc_put_vara_float(ncid_, coordinates_, start, count, buffer_.data());
  if (code == NC_NOERR) code = nc_put_var1_float(ncid_, time_, start, &time);
  if (code == NC_NOERR) {
    code = nc_put_var1_double(ncid_, temp0_, start, &frame.temperature_k);
  }
  if (code == NC_NOERR) code = nc_put_var1_int(ncid_, repidx_, start, &repidx);
  if (code == NC_NOERR) code = nc_put_var1_int(ncid_, crdidx_, start, &crdidx);
  if (periodic_ && code == NC_NOERR) {
    const engine::Box& box = frame.box_nm;
    const double lengths[3] = {Length(box[0]) * 10, Length(box[1]) * 10,
                               Length(box[2]) * 10};
    const double angles[3] = {Angle(box[1], box[2]), Angle(box[0], box[2]),
                              Angle(box[0], box[1])};
    const size_t cell_start[2] = {static_cast<size_t>(index), 0};
    const size_t cell_count[2] = {1, 3};
    code = nc_put_vara_double(ncid_, cell_lengths_, cell_start, cell_count,
                              lengths);
    if (code == NC_NOERR) {
      code = nc_put_vara_double(ncid_, cell_angles_, cell_start, cell_count,
                                angles);
    }
  }
  // Syncing updates the record count in the header, so a reader opening the
  // file now sees this frame.
  if (code == NC_NOERR) code = nc_sync(ncid_);
  return code == NC_NOERR ? absl::OkStatus()
                          : NcError(code, path_, "cannot write a frame");
}

absl::Status NetcdfTrajectory::KeepFrames(const std::filesystem::path& path,
                                          int64_t frames) {
  // The copy is a temporary file (ResultsFiles skips those); one a crash
  // left goes first.
  const std::filesystem::path copy = path.string() + files::kTemporarySuffix;
  std::error_code error;
  std::filesystem::remove(copy, error);
  if (!std::filesystem::exists(path, error)) return absl::OkStatus();
  absl::MutexLock lock(&netcdf_mutex);
  int in = -1;
  if (int code = nc_open(path.c_str(), NC_NOWRITE, &in); code != NC_NOERR) {
    return NcError(code, path, "cannot reopen");
  }
  auto close_in = [&] { nc_close(in); };
  int frame_dim = -1, atom_dim = -1;
  size_t have = 0, atoms = 0;
  if (nc_inq_dimid(in, "frame", &frame_dim) != NC_NOERR ||
      nc_inq_dimlen(in, frame_dim, &have) != NC_NOERR ||
      nc_inq_dimid(in, "atom", &atom_dim) != NC_NOERR ||
      nc_inq_dimlen(in, atom_dim, &atoms) != NC_NOERR) {
    close_in();
    return absl::DataLossError(absl::StrCat(
        "trajectory ", path.string(), " is not an AMBER NetCDF trajectory"));
  }
  if (static_cast<int64_t>(have) <= frames) {
    close_in();
    return absl::OkStatus();
  }
  int lengths_var = -1;
  const bool periodic =
      nc_inq_varid(in, "cell_lengths", &lengths_var) == NC_NOERR;
  size_t title_length = 0;
  std::string title;
  if (nc_inq_attlen(in, NC_GLOBAL, "title", &title_length) == NC_NOERR) {
    title.resize(title_length);
    nc_get_att_text(in, NC_GLOBAL, "title", title.data());
  }
  int out = -1;
  int code = nc_create(copy.c_str(), NC_NOCLOBBER | NC_64BIT_OFFSET, &out);
  if (code != NC_NOERR) {
    close_in();
    return NcError(code, copy, "cannot create");
  }
  Variables to;
  absl::Status status =
      Define(out, static_cast<int>(atoms), periodic, title, to);
  // Each per-frame variable: its id in both files and its values a frame
  // (after the frame index), copied untyped, so bit for bit.
  struct Copied {
    const char* name;
    int to;
    size_t values[2];
    int from = -1;
  };
  std::vector<Copied> copied = {{"coordinates", to.coordinates, {atoms, 3}},
                                {"time", to.time, {1, 1}},
                                {"temp0", to.temp0, {1, 1}},
                                {"remd_repidx", to.repidx, {1, 1}},
                                {"remd_crdidx", to.crdidx, {1, 1}}};
  if (periodic) {
    copied.push_back({"cell_lengths", to.cell_lengths, {3, 1}});
    copied.push_back({"cell_angles", to.cell_angles, {3, 1}});
  }
  for (Copied& variable : copied) {
    if (status.ok() &&
        nc_inq_varid(in, variable.name, &variable.from) != NC_NOERR) {
      status = absl::DataLossError(absl::StrCat(
          "trajectory ", path.string(), " has no variable ", variable.name));
    }
  }
  std::vector<double> buffer(atoms * 3);  // wide enough for any of them
  for (int64_t f = 0; status.ok() && f < frames; ++f) {
    for (const Copied& variable : copied) {
      const size_t start[3] = {static_cast<size_t>(f), 0, 0};
      const size_t count[3] = {1, variable.values[0], variable.values[1]};
      code = nc_get_vara(in, variable.from, start, count, buffer.data());
      if (code == NC_NOERR) {
        code = nc_put_vara(out, variable.to, start, count, buffer.data());
      }
      if (code != NC_NOERR) {
        status = NcError(code, path, "cannot copy a frame");
        break;
      }
    }
  }
  close_in();
  code = nc_close(out);
  if (status.ok() && code != NC_NOERR) {
    status = NcError(code, copy, "cannot write");
  }
  // On disk before it replaces the original, so a crash leaves one whole.
  if (status.ok()) status = files::SyncFile(copy.string());
  if (status.ok()) std::filesystem::rename(copy, path, error);
  if (status.ok() && error) {
    status = absl::InternalError(absl::StrCat("cannot rename ", copy.string(),
                                              " to ", path.string(), ": ",
                                              error.message()));
  }
  if (!status.ok()) std::filesystem::remove(copy, error);
  return status;
}

}  // namespace replex::results
