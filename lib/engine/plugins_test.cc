// Tests for the plugins replex builds itself (tools/build-openmm-plugins.sh)
// and loads from ReplexPluginDirectory(): the CPU PME plugin, used by the CPU
// platform for PME, and the CUDA platform, which loads where there is an
// NVIDIA driver and otherwise says why not. Each test is skipped, naming the
// command, when its plugin has not been built.
#include <OpenMM.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/engine/engine.h"
#include "lib/engine/test_util.h"

namespace replex::engine {
namespace {

using exchange::Ladder;
using exchange::Rung;
using test_util::MessageOf;
using test_util::Options;
using test_util::Pdb;
using test_util::ToXml;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;

// The plugin library `name` in ReplexPluginDirectory(), or "" with the reason
// to skip in `why` when it has not been built.
std::string BuiltPlugin(const std::string& name, std::string* why) {
  const std::string directory = ReplexPluginDirectory();
  const std::string path = directory + "/" + name;
  if (std::filesystem::exists(path)) return path;
  *why = absl::StrFormat(
      "no %s: build it with `tools/build-openmm-plugins.sh %s`%s", path,
      directory,
      directory == kDefaultReplexPluginDirectory
          ? ""
          : " (REPLEX_OPENMM_PLUGIN_DIR names this directory)");
  return "";
}

Ladder RoomTemperature() { return *Ladder::Create({}, {Rung{300, {}}}); }

// TIP3P water on a cubic lattice at about 1 g/cm³, `n` molecules a side, in
// six orientations so that the dipoles do not all line up; PME electrostatics
// with OpenMM's default error tolerance.
constexpr double kWaterSpacingNm = 0.3104;

std::shared_ptr<const Model> WaterBox(int n) {
  constexpr double kOh = 0.09572;                                // nm
  const double half_angle = 104.52 / 2 * std::acos(-1.0) / 180;  // H-O-H / 2
  constexpr int kIntramolecularPairs[3][2] = {{0, 1}, {0, 2}, {1, 2}};
  const Vec3 axes[6][2] = {{{1, 0, 0}, {0, 1, 0}},   {{0, 1, 0}, {0, 0, 1}},
                           {{0, 0, 1}, {1, 0, 0}},   {{-1, 0, 0}, {0, -1, 0}},
                           {{0, -1, 0}, {0, 0, -1}}, {{0, 0, -1}, {-1, 0, 0}}};
  OpenMM::System system;
  auto* nonbonded = new OpenMM::NonbondedForce();
  nonbonded->setNonbondedMethod(OpenMM::NonbondedForce::PME);
  nonbonded->setCutoffDistance(0.8);
  std::vector<Vec3> angstrom;
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < n; ++j) {
      for (int k = 0; k < n; ++k) {
        const int first = system.getNumParticles();
        system.addParticle(15.999);
        system.addParticle(1.008);
        system.addParticle(1.008);
        nonbonded->addParticle(-0.834, 0.31507524, 0.635968);
        nonbonded->addParticle(0.417, 1, 0);
        nonbonded->addParticle(0.417, 1, 0);
        for (const auto& [a, b] : kIntramolecularPairs) {
          nonbonded->addException(first + a, first + b, 0, 1, 0);
        }
        const Vec3 oxygen = {(i + 0.5) * kWaterSpacingNm,
                             (j + 0.5) * kWaterSpacingNm,
                             (k + 0.5) * kWaterSpacingNm};
        const auto& [bisector, across] = axes[(i + 2 * j + 3 * k) % 6];
        angstrom.push_back({10 * oxygen[0], 10 * oxygen[1], 10 * oxygen[2]});
        for (double side : {1.0, -1.0}) {
          Vec3 hydrogen;
          for (int d = 0; d < 3; ++d) {
            hydrogen[d] =
                oxygen[d] + kOh * (std::cos(half_angle) * bisector[d] +
                                   side * std::sin(half_angle) * across[d]);
          }
          angstrom.push_back(
              {10 * hydrogen[0], 10 * hydrogen[1], 10 * hydrogen[2]});
        }
      }
    }
  }
  system.addForce(nonbonded);  // takes ownership
  const double box = 10 * n * kWaterSpacingNm;
  absl::StatusOr<std::shared_ptr<const Model>> model = Model::Load(
      ToXml(system), "",
      Pdb(angstrom,
          absl::StrFormat("CRYST1%9.3f%9.3f%9.3f  90.00  90.00  90.00 P 1\n",
                          box, box, box)));
  EXPECT_TRUE(model.ok()) << model.status();
  return model.ok() ? *model : nullptr;
}

TEST(PmePluginTest, CpuPlatformUsesItAndAgreesWithReference) {
  std::string why;
  const std::string library = BuiltPlugin("libOpenMMPME.so", &why);
  if (library.empty()) GTEST_SKIP() << why;
  const PluginReport& plugins = Plugins();
  EXPECT_THAT(plugins.loaded_files, Contains(library))
      << "failures: " << absl::StrJoin(plugins.failures, "; ");
  // What the CPU platform asks before it uses an optimised PME.
  EXPECT_TRUE(OpenMM::Platform::getPlatformByName("CPU").supportsKernels(
      {"CalcPmeReciprocalForce"}));

  const std::shared_ptr<const Model> water = WaterBox(6);  // 216 molecules
  ASSERT_NE(water, nullptr);
  ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<Replica> cpu,
      Replica::Create(water, Options("CPU"), RoomTemperature(), 0, 1));
  ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<Replica> reference,
      Replica::Create(water, Options("Reference"), RoomTemperature(), 0, 1));
  ASSERT_OK_AND_ASSIGN(const double cpu_kj_mol, cpu->PotentialEnergy());
  ASSERT_OK_AND_ASSIGN(const double reference_kj_mol,
                       reference->PotentialEnergy());
  // The plugin computes in single precision and may round the PME grid up
  // to sizes FFTW likes; PME's own error at the default tolerance (5e-4 in
  // forces) dominates. Measured: 2e-5 relative (0.02 of -1058 kJ/mol).
  EXPECT_NEAR(cpu_kj_mol, reference_kj_mol, 1e-4 * std::abs(reference_kj_mol));
}

// Embedded mode and workers step several replicas at once from their first
// segment. The PME plugin plans its FFTs at a Context's first force
// evaluation, and FFTW's planner is not thread-safe: unless the engine makes
// that evaluation as it creates the Context (one at a time), two replicas'
// first steps at once corrupt the heap.
TEST(PmePluginTest, SeveralReplicasTakeTheirFirstStepsAtOnce) {
  std::string why;
  if (BuiltPlugin("libOpenMMPME.so", &why).empty()) GTEST_SKIP() << why;
  // A solvated peptide with constraints, as users run.
  auto read = [](const std::string& name) {
    std::ifstream in(std::string(REPLEX_SOURCE_DIR) +
                     "/examples/alanine-dipeptide-water/" + name);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  };
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<const Model> water,
                       Model::Load(read("system.xml"), read("state.xml"), ""));
  constexpr int kReplicas = 4;
  std::vector<std::unique_ptr<Replica>> replicas;
  for (int i = 0; i < kReplicas; ++i) {
    ASSERT_OK_AND_ASSIGN(
        std::unique_ptr<Replica> replica,
        Replica::Create(water, Options("CPU"), RoomTemperature(), 0, i + 1));
    replicas.push_back(std::move(replica));
  }
  // Two threads, each stepping two replicas in turn, as embedded mode runs
  // four replicas on two threads.
  std::vector<absl::Status> ran(kReplicas);
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 3; ++round) {
        for (int i = t; i < kReplicas; i += 2) {
          if (ran[i].ok()) ran[i] = replicas[i]->Run(5, i);
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int i = 0; i < kReplicas; ++i) EXPECT_TRUE(ran[i].ok()) << ran[i];
}

TEST(CudaPluginTest, LoadsOrSaysWhyNamingLibcuda) {
  std::string why;
  const std::string library = BuiltPlugin("libOpenMMCUDA.so", &why);
  if (library.empty()) {
    GTEST_SKIP()
        << why
        << ", which needs a CUDA toolkit (tools/build-openmm-plugins.sh: "
           "REPLEX_CUDA_ROOT, default /usr/local/cuda)";
  }
  const PluginReport& plugins = Plugins();
  if (std::find(plugins.loaded_files.begin(), plugins.loaded_files.end(),
                library) != plugins.loaded_files.end()) {
    // A driver is installed: the GPU tests in engine_test run the platform.
    EXPECT_THAT(plugins.platforms, Contains("CUDA"));
    return;
  }
  std::vector<std::string> failures;
  for (const std::string& failure : plugins.failures) {
    if (absl::StartsWith(failure, library + ": ")) failures.push_back(failure);
  }
  ASSERT_EQ(failures.size(), 1u) << library << " neither loaded nor failed: "
                                 << absl::StrJoin(plugins.failures, "; ");
  EXPECT_THAT(failures[0], HasSubstr("libcuda"));
  EXPECT_THAT(plugins.platforms, Not(Contains("CUDA")));

  OpenMM::System one_particle;
  one_particle.addParticle(1.0);
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<const Model> model,
                       Model::Load(ToXml(one_particle), "", Pdb({{0, 0, 0}})));
  absl::StatusOr<std::unique_ptr<Replica>> replica =
      Replica::Create(model, Options("CUDA"), RoomTemperature(), 0, 1);
  EXPECT_EQ(replica.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(MessageOf(replica.status()), HasSubstr(failures[0]));
}

}  // namespace
}  // namespace replex::engine
