#include "lib/results/netcdf_trajectory.h"

#include <netcdf.h>

#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace replex::results {
namespace {

// libnetcdf is not thread-safe, and a coordinator writes several jobs'
// trajectories from several threads: before every nc_* call took one lock,
// a coordinator running two jobs crashed inside libnetcdf. Four threads
// each create, fill and close their own files at once; every frame must
// read back as written.
TEST(NetcdfTrajectoryTest, ThreadsWritingTheirOwnFilesAtOnceLoseNothing) {
  const std::filesystem::path dir =
      std::filesystem::path(::testing::TempDir()) / "netcdf_threads";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  constexpr int kThreads = 4, kFilesPerThread = 20, kFrames = 20, kAtoms = 50;
  auto path = [&](int t, int f) {
    return dir / ("t" + std::to_string(t) + "_" + std::to_string(f) + ".nc");
  };
  std::vector<std::thread> threads;
  std::vector<std::string> errors(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int f = 0; f < kFilesPerThread; ++f) {
        auto trajectory =
            NetcdfTrajectory::Open(path(t, f), kAtoms, /*periodic=*/true, "t");
        if (!trajectory.ok()) {
          errors[t] = trajectory.status().ToString();
          return;
        }
        std::vector<engine::Vec3> positions(kAtoms);
        for (int frame = 0; frame < kFrames; ++frame) {
          for (int a = 0; a < kAtoms; ++a) {
            positions[a] = {0.1 * t, 0.01 * f, 0.001 * frame + a};
          }
          NetcdfTrajectory::Frame data;
          data.positions_nm = &positions;
          data.box_nm = {engine::Vec3{3, 0, 0}, engine::Vec3{0, 3, 0},
                         engine::Vec3{0, 0, 3}};
          data.rung = t;
          data.replica = f;
          if (absl::Status s = (*trajectory)->WriteFrame(frame, data);
              !s.ok()) {
            errors[t] = s.ToString();
            return;
          }
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (const std::string& error : errors) EXPECT_EQ(error, "");

  for (int t = 0; t < kThreads; ++t) {
    for (int f = 0; f < kFilesPerThread; ++f) {
      int ncid = -1, var = -1, frame_dim = -1;
      size_t frames = 0;
      ASSERT_EQ(nc_open(path(t, f).c_str(), NC_NOWRITE, &ncid), NC_NOERR);
      ASSERT_EQ(nc_inq_dimid(ncid, "frame", &frame_dim), NC_NOERR);
      ASSERT_EQ(nc_inq_dimlen(ncid, frame_dim, &frames), NC_NOERR);
      EXPECT_EQ(frames, static_cast<size_t>(kFrames)) << path(t, f);
      ASSERT_EQ(nc_inq_varid(ncid, "coordinates", &var), NC_NOERR);
      std::vector<float> xyz(static_cast<size_t>(kFrames) * kAtoms * 3);
      ASSERT_EQ(nc_get_var_float(ncid, var, xyz.data()), NC_NOERR);
      const size_t last = (static_cast<size_t>(kFrames - 1) * kAtoms + 7) * 3;
      EXPECT_FLOAT_EQ(xyz[last], static_cast<float>(1.0 * t));  // angstrom
      EXPECT_FLOAT_EQ(xyz[last + 1], static_cast<float>(0.1 * f));
      EXPECT_FLOAT_EQ(xyz[last + 2], static_cast<float>(10 * (0.019 + 7)));
      nc_close(ncid);
    }
  }
  std::filesystem::remove_all(dir);
}

// A resumed asynchronous run drops the frames of the superseded run past
// its cut: KeepFrames leaves a file equal, variable for variable, to one
// that had only those frames written, and does nothing to a file with no
// more frames or to none at all.
TEST(NetcdfTrajectoryTest, KeepFramesDropsTheRestAndKeepsTheseBitForBit) {
  const std::filesystem::path dir =
      std::filesystem::path(::testing::TempDir()) / "netcdf_keep";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  constexpr int kAtoms = 5;
  auto write = [&](const std::filesystem::path& path, int frames) {
    auto trajectory =
        NetcdfTrajectory::Open(path, kAtoms, /*periodic=*/true, "keep");
    ASSERT_TRUE(trajectory.ok()) << trajectory.status();
    std::vector<engine::Vec3> positions(kAtoms);
    for (int frame = 0; frame < frames; ++frame) {
      for (int a = 0; a < kAtoms; ++a) {
        positions[a] = {0.1 * frame, 0.37 * a, 1.0 / (frame + a + 1)};
      }
      NetcdfTrajectory::Frame data;
      data.time_ps = 0.1 * (frame + 1);
      data.positions_nm = &positions;
      data.box_nm = {engine::Vec3{3 + 0.01 * frame, 0, 0},
                     engine::Vec3{0.5, 3, 0}, engine::Vec3{0, 0.2, 3}};
      data.rung = frame % 3;
      data.replica = frame % 4;
      data.temperature_k = 300 + frame;
      ASSERT_TRUE((*trajectory)->WriteFrame(frame, data).ok());
    }
  };
  const std::filesystem::path kept = dir / "kept.nc", four = dir / "four.nc";
  write(kept, 10);
  write(four, 4);
  ASSERT_TRUE(NetcdfTrajectory::KeepFrames(kept, 4).ok());
  ASSERT_TRUE(NetcdfTrajectory::KeepFrames(kept, 10).ok());
  ASSERT_TRUE(NetcdfTrajectory::KeepFrames(dir / "none.nc", 3).ok());
  EXPECT_FALSE(std::filesystem::exists(dir / "none.nc"));

  // Every variable of both files, as doubles.
  auto read = [](const std::filesystem::path& path) {
    std::vector<std::vector<double>> values;
    int ncid = -1, frame_dim = -1;
    size_t frames = 0;
    EXPECT_EQ(nc_open(path.c_str(), NC_NOWRITE, &ncid), NC_NOERR);
    EXPECT_EQ(nc_inq_dimid(ncid, "frame", &frame_dim), NC_NOERR);
    EXPECT_EQ(nc_inq_dimlen(ncid, frame_dim, &frames), NC_NOERR);
    values.push_back({static_cast<double>(frames)});
    for (const char* name :
         {"coordinates", "time", "cell_lengths", "cell_angles", "temp0",
          "remd_repidx", "remd_crdidx"}) {
      int var = -1;
      EXPECT_EQ(nc_inq_varid(ncid, name, &var), NC_NOERR) << name;
      const size_t per_frame = std::string(name) == "coordinates" ? kAtoms * 3
                               : std::string(name).rfind("cell", 0) == 0 ? 3
                                                                         : 1;
      std::vector<double> all(frames * per_frame);
      EXPECT_EQ(nc_get_var_double(ncid, var, all.data()), NC_NOERR) << name;
      values.push_back(std::move(all));
    }
    nc_close(ncid);
    return values;
  };
  const std::vector<std::vector<double>> expected = read(four);
  EXPECT_EQ(expected[0][0], 4);
  EXPECT_EQ(read(kept), expected);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace replex::results
