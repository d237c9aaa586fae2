// Bad jobs get a clear error naming the field and the fix, through the
// library (RunJob) and through the `replex` command line; nothing crashes.
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/runner/runner.h"
#include "tests/process.h"
#include "tests/sampling_checks.h"

namespace replex::testing {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

v1::JobSpec Harmonic() {
  v1::JobSpec spec = LoadExample("examples/harmonic-oscillator/job.yaml");
  spec.mutable_exchange()->set_n_rounds(5);
  return spec;
}

absl::Status RunSpec(const v1::JobSpec& spec) {
  return runner::RunJob(spec, runner::RunOptions{}).status();
}

TEST(BadJobTest, ZeroReplicas) {
  v1::JobSpec spec = Harmonic();
  spec.mutable_ladder()->Clear();
  spec.mutable_ladder()->set_n_rungs(0);
  spec.mutable_ladder()->mutable_temperature_range_k()->set_min(300);
  spec.mutable_ladder()->mutable_temperature_range_k()->set_max(400);
  const absl::Status status = RunSpec(spec);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("ladder.n_rungs"));
}

TEST(BadJobTest, DecreasingAndNegativeAndNanTemperatures) {
  for (const std::vector<double>& temperatures :
       {std::vector<double>{300, 350, 340}, std::vector<double>{-5, 300},
        std::vector<double>{300, NAN}}) {
    v1::JobSpec spec = Harmonic();
    spec.mutable_ladder()->Clear();
    for (double t : temperatures) spec.mutable_ladder()->add_temperatures_k(t);
    const absl::Status status = RunSpec(spec);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(status.message()), HasSubstr("temperature"))
        << status;
  }
}

TEST(BadJobTest, UnknownPlatformNamesTheValidOnes) {
  v1::JobSpec spec = Harmonic();
  spec.set_platform("GPU");
  const absl::Status status = RunSpec(spec);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()),
              AllOf(HasSubstr("platform"), HasSubstr("Reference")));
}

TEST(BadJobTest, MalformedSystemXml) {
  v1::JobSpec spec = Harmonic();
  // Truncated: OpenMM's own parser would read past the end; the spec check
  // refuses it first, naming the field and the line.
  spec.set_system_xml("<System><Particles><Particle mass=");
  const absl::Status status = RunSpec(spec);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("system: not well-formed XML: line 1"));
}

TEST(BadJobTest, CoordinatesForAnotherSystem) {
  v1::JobSpec spec = Harmonic();
  spec.set_state_xml(LoadExample("examples/double-well/job.yaml").state_xml());
  const absl::Status status = RunSpec(spec);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("particles"));
}

TEST(BadJobTest, LadderParameterMissingFromSystem) {
  v1::JobSpec spec = Harmonic();
  v1::ParameterLadder* lambda = spec.mutable_ladder()->add_parameters();
  lambda->set_name("lambda_sterics");
  for (int k = 0; k < spec.ladder().n_rungs(); ++k) lambda->add_values(k);
  const absl::Status status = RunSpec(spec);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("lambda_sterics"));
}

TEST(BadJobTest, BlownUpIntegrationFailsTheJobWithItsReplicaAndRound) {
  v1::JobSpec spec = Harmonic();
  // A timestep far beyond the oscillator's stability limit makes the
  // energies overflow to inf/NaN within a segment.
  spec.mutable_integrator()->set_timestep_ps(5.0);
  spec.mutable_integrator()->set_friction_per_ps(0);
  const absl::Status status = RunSpec(spec);
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(std::string(status.message()),
              AllOf(HasSubstr("replica"), HasSubstr("round")))
      << status;
}

std::pair<int, std::string> RunCli(const std::string& args) {
  return RunCommand(absl::StrCat(REPLEX_BIN, " ", args));
}

std::string WriteJob(const std::string& name, const std::string& yaml) {
  const std::filesystem::path dir =
      std::filesystem::path(::testing::TempDir()) / "replex_cli_test";
  std::filesystem::create_directories(dir);
  const std::filesystem::path path = dir / name;
  std::ofstream(path) << yaml;
  return path.string();
}

TEST(CliTest, MalformedYamlExitsTwoWithThePosition) {
  const auto [code, output] =
      RunCli("run " + WriteJob("bad.yaml", "ladder: {n_rungs: [1,\n"));
  EXPECT_EQ(code, 2) << output;
  EXPECT_THAT(output, HasSubstr("replex: error:"));
  EXPECT_THAT(output, HasSubstr("line"));
}

TEST(CliTest, MissingJobFileExitsTwo) {
  const auto [code, output] = RunCli("run /nonexistent/job.yaml");
  EXPECT_EQ(code, 2) << output;
  EXPECT_THAT(output, HasSubstr("/nonexistent/job.yaml"));
}

TEST(CliTest, RunsAShortJobAndPrintsJson) {
  const std::string dir = SourcePath("examples/harmonic-oscillator");
  const std::string job = WriteJob(
      "short.yaml",
      absl::StrCat("name: short\nsystem: ", dir, "/system.xml\ncoordinates: ",
                   dir, "/state.xml\nplatform: Reference\nseed: 3\n",
                   "ladder: {temperatures_k: [300, 330, 360]}\n",
                   "exchange: {steps_per_exchange: 20, n_rounds: 40}\n"));
  const auto [code, output] = RunCli("run " + job + " --json --threads=2");
  EXPECT_EQ(code, 0) << output;
  EXPECT_THAT(output,
              AllOf(HasSubstr("\"rounds\":40"), HasSubstr("\"replicas\":3"),
                    HasSubstr("[round 40/40 100%]")));
}

// The asynchronous example runs and reports its events.
TEST(CliTest, AsynchronousExchangeRunsAndReportsItsEvents) {
  const std::string example =
      SourcePath("examples/harmonic-oscillator/asynchronous.yaml");
  const auto [code, output] = RunCli("run " + example + " --json --threads=2");
  EXPECT_EQ(code, 0) << output;
  EXPECT_THAT(output, AllOf(HasSubstr("\"rounds\":2000"),
                            HasSubstr("\"exchange_events\":\""),
                            HasSubstr("[round 2000/2000 100%]")));
}

}  // namespace
}  // namespace replex::testing
