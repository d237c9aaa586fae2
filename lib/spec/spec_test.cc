// Tests for the job spec: YAML to proto, defaults, and error messages that
// name the field at fault.
#include "lib/spec/spec.h"

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace replex::spec {
namespace {

using ::testing::DoubleNear;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kSystemXml[] = "<System type=\"System\" version=\"1\"/>\n";
constexpr char kStateXml[] = "<State type=\"State\" version=\"1\"/>\n";
constexpr char kPdb[] =
    "ATOM      1  C   UNK     1       0.000   0.000   0.000\nEND\n";

void WriteFile(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

// A fresh directory under TempDir() for this test, holding system.xml,
// state.xml and inputs/start.pdb.
std::filesystem::path MakeInputDir() {
  const testing::TestInfo* test =
      testing::UnitTest::GetInstance()->current_test_info();
  const std::filesystem::path dir =
      std::filesystem::path(testing::TempDir()) / "replex_spec_test" /
      absl::StrCat(test->test_suite_name(), ".", test->name());
  std::filesystem::remove_all(dir);
  WriteFile(dir / "system.xml", kSystemXml);
  WriteFile(dir / "state.xml", kStateXml);
  WriteFile(dir / "inputs" / "start.pdb", kPdb);
  // The per-window starts of docs/job-spec.md's REUS example.
  for (int w = 0; w < 6; ++w) {
    WriteFile(dir / "inputs" / absl::StrCat("w", w, ".pdb"), kPdb);
  }
  return dir;
}

v1::JobSpec FromText(const std::string& text) {
  v1::JobSpec spec;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &spec))
      << text;
  return spec;
}

void ExpectProtoEq(const v1::JobSpec& actual, const v1::JobSpec& expected) {
  google::protobuf::util::MessageDifferencer differencer;
  std::string differences;
  differencer.ReportDifferencesToString(&differences);
  EXPECT_TRUE(differencer.Compare(expected, actual))
      << differences << "\nactual:\n"
      << actual.DebugString();
}

// Every failing case asserts the status code and that the message names the
// field (and, where it matters, says what to do).
void ExpectError(const absl::Status& status, absl::StatusCode code,
                 const std::vector<std::string>& in_message) {
  EXPECT_EQ(status.code(), code) << status;
  for (const std::string& text : in_message) {
    EXPECT_THAT(std::string(status.message()), HasSubstr(text));
  }
}

TEST(ParseYamlTest, FullSpecRoundTripsIntoTheProto) {
  const std::filesystem::path dir = MakeInputDir();
  const std::string yaml = R"yaml(
name: harmonic-oscillator
owner: alice
labels: {project: demo, tier: 1}
system: system.xml
coordinates: inputs/start.pdb
platform: CPU
platform_properties: {Threads: 1, DeterministicForces: "true"}
seed: 18446744073709551615
checkpoint_interval: 100
integrator:
  timestep_ps: 0.001
  friction_per_ps: 5
ladder:
  n_rungs: 4
  temperature_range_k: {min: 300, max: 450, spacing: linear}
  parameters:
    - name: K
      values: [100, 200, 400, 800]
    - name: lambda
      range: {min: 0, max: 1}
exchange:
  scheme: gibbs
  steps_per_exchange: 500
  n_rounds: 1000
  swap_attempts: 20
)yaml";
  v1::JobSpec expected = FromText(R"pb(
    name: "harmonic-oscillator"
    owner: "alice"
    labels { key: "project" value: "demo" }
    labels { key: "tier" value: "1" }
    platform: "CPU"
    platform_properties { key: "Threads" value: "1" }
    platform_properties { key: "DeterministicForces" value: "true" }
    seed: 18446744073709551615
    checkpoint_interval: 100
    integrator { timestep_ps: 0.001 friction_per_ps: 5 }
    ladder {
      n_rungs: 4
      temperature_range_k { min: 300 max: 450 spacing: LINEAR }
      parameters {
        name: "K"
        values: [ 100, 200, 400, 800 ]
      }
      parameters {
        name: "lambda"
        range { min: 0 max: 1 spacing: LINEAR }
      }
    }
    exchange {
      scheme: GIBBS
      steps_per_exchange: 500
      n_rounds: 1000
      swap_attempts: 20
    }
  )pb");
  expected.set_system_xml(kSystemXml);
  expected.set_pdb(kPdb);

  absl::StatusOr<v1::JobSpec> spec = ParseYaml(yaml, dir);
  ASSERT_TRUE(spec.ok()) << spec.status();
  ExpectProtoEq(*spec, expected);
}

TEST(ParseYamlTest, MinimalSpecGetsDefaults) {
  const std::filesystem::path dir = MakeInputDir();
  const std::string yaml = R"yaml(
system: system.xml
coordinates: state.xml
ladder: {n_rungs: 3, temperature_range_k: {min: 300, max: 600}}
exchange: {steps_per_exchange: 100, n_rounds: 10}
)yaml";
  v1::JobSpec expected = FromText(R"pb(
    platform: "CPU"
    integrator { timestep_ps: 0.002 friction_per_ps: 1 }
    ladder {
      n_rungs: 3
      temperature_range_k { min: 300 max: 600 spacing: GEOMETRIC }
    }
    exchange { scheme: NEIGHBORS steps_per_exchange: 100 n_rounds: 10 }
  )pb");
  expected.set_system_xml(kSystemXml);
  expected.set_state_xml(kStateXml);

  absl::StatusOr<v1::JobSpec> spec = ParseYaml(yaml, dir);
  ASSERT_TRUE(spec.ok()) << spec.status();
  ExpectProtoEq(*spec, expected);
}

TEST(LoadYamlFileTest, ResolvesInputsAgainstTheFilesDirectory) {
  const std::filesystem::path dir = MakeInputDir();
  WriteFile(dir / "jobs" / "job.yaml", R"yaml(
system: ../system.xml
coordinates: ../inputs/start.pdb
ladder: {temperature_k: 300, parameters: [{name: K, values: [1, 2]}]}
exchange: {steps_per_exchange: 10, n_rounds: 2}
)yaml");
  absl::StatusOr<v1::JobSpec> spec = LoadYamlFile(dir / "jobs" / "job.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->system_xml(), kSystemXml);
  EXPECT_EQ(spec->pdb(), kPdb);

  ExpectError(LoadYamlFile(dir / "missing.yaml").status(),
              absl::StatusCode::kNotFound, {"job spec", "missing.yaml"});
}

TEST(LoadYamlFileTest, ReplicaStartsComeFromAListOrADirectoryInNameOrder) {
  const std::filesystem::path dir = MakeInputDir();
  WriteFile(dir / "windows" / "w1.pdb", "pdb 1");
  WriteFile(dir / "windows" / "w0.xml", kStateXml);
  WriteFile(dir / "windows" / "notes.txt", "not a start");
  const std::string base = R"yaml(
system: system.xml
coordinates: state.xml
ladder: {temperature_k: 300, parameters: [{name: K, values: [1, 2]}]}
exchange: {steps_per_exchange: 10, n_rounds: 2}
)yaml";
  for (const std::string starts :
       {"replica_starts: [windows/w0.xml, windows/w1.pdb]",
        "replica_starts: windows"}) {
    SCOPED_TRACE(starts);
    WriteFile(dir / "job.yaml", base + starts + "\n");
    absl::StatusOr<v1::JobSpec> spec = LoadYamlFile(dir / "job.yaml");
    ASSERT_TRUE(spec.ok()) << spec.status();
    ASSERT_EQ(spec->replica_starts_size(), 2);
    EXPECT_EQ(spec->replica_starts(0).state_xml(), kStateXml);
    EXPECT_EQ(spec->replica_starts(1).pdb(), "pdb 1");
  }

  WriteFile(dir / "job.yaml", base + "replica_starts: [state.xml]\n");
  ExpectError(LoadYamlFile(dir / "job.yaml").status(),
              absl::StatusCode::kInvalidArgument,
              {"replica_starts", "1 starting structures for 2 rungs"});
  std::filesystem::create_directories(dir / "empty");
  WriteFile(dir / "job.yaml", base + "replica_starts: empty\n");
  ExpectError(LoadYamlFile(dir / "job.yaml").status(),
              absl::StatusCode::kInvalidArgument,
              {"replica_starts", "holds no .xml or .pdb files"});
  WriteFile(dir / "job.yaml", base + "replica_starts: [state.xml, nope.pdb]\n");
  ExpectError(LoadYamlFile(dir / "job.yaml").status(),
              absl::StatusCode::kNotFound, {"replica_starts[1]", "nope.pdb"});
  WriteFile(dir / "windows" / "w0.xml", "<State");
  WriteFile(dir / "job.yaml", base + "replica_starts: windows\n");
  ExpectError(LoadYamlFile(dir / "job.yaml").status(),
              absl::StatusCode::kInvalidArgument, {"replica_starts[0]"});
}

// A valid spec, edited by each case below into a bad one.
constexpr char kBaseYaml[] = R"yaml(
system: system.xml
coordinates: state.xml
ladder:
  n_rungs: 4
  temperatures_k: [300, 320, 340, 360]
  parameters:
    - name: K
      values: [1, 2, 3, 4]
exchange:
  steps_per_exchange: 500
  n_rounds: 10
)yaml";

struct BadYamlCase {
  std::string name;
  // Replacements applied to kBaseYaml, in order; each `from` must occur.
  std::vector<std::pair<std::string, std::string>> edits;
  absl::StatusCode code;
  std::vector<std::string> in_message;
};

// yaml-cpp 0.7 never returns on these (fuzz/spec_fuzzer.cc found them);
// libyaml refuses them first. Each case would hang the test were the check
// gone.
TEST(ParseYamlTest, TextThatWouldHangTheYamlParserIsRefused) {
  for (const std::string& yaml :
       {std::string(","),
        std::string(" ,a"),
        std::string("#x\n,"),
        std::string("- a\n,"),
        std::string("---\n,"),
        std::string("--- ,"),
        std::string("a: 1\n---\n,"),
        std::string("!!str ,"),
        std::string("&a ,"),
        std::string("&a^, b"),
        std::string("'''''''''''''''[',"),
        std::string("'a' ,"),
        std::string("\"a\","),
        std::string("[a],"),
        std::string("{a: 1},"),
        std::string("''&uuuu,uu"),
        std::string("\"a\"\"b\""),
        std::string("[1] x"),
        std::string("name: 'a' b"),
        std::string("\xEF\xBB\xBF\"\"\"\"\"\"\",\"\"\"\"")}) {
    ExpectError(ParseYaml(yaml, ".").status(),
                absl::StatusCode::kInvalidArgument,
                {"YAML syntax error at line"});
  }
  // Commas and quotes where YAML allows them are not refused.
  for (const std::string& yaml :
       {std::string("name: a, b\n"), std::string("labels: {a: 1, b: \",\"}\n"),
        std::string("name: ',x'\n"), std::string("name: \",x\"\n"),
        std::string("# ,\nname: x\n"), std::string("name: >\n  , folded\n"),
        std::string("name: a[1], b{2}\n"), std::string("name: a - ,b\n"),
        std::string("labels:\n  x: 'it''s, here'\n"),
        std::string("'name': x\n"), std::string("labels: {a: b} # c\n"),
        std::string("name: 'x'  \n")}) {
    absl::StatusOr<v1::JobSpec> spec = ParseYaml(yaml, ".");
    EXPECT_THAT(spec.status().message(),
                ::testing::Not(HasSubstr("YAML syntax error")))
        << yaml;
  }
}

TEST(ParseYamlTest, ControlCharactersAndInvalidUtf8AreRefused) {
  ExpectError(ParseYaml(std::string("\0\0\0,\0\0/\0\0\0,\0", 12), ".").status(),
              absl::StatusCode::kInvalidArgument,
              {"byte 0: control characters are not allowed", "UTF-8"});
  ExpectError(ParseYaml("name: \xff\n", ".").status(),
              absl::StatusCode::kInvalidArgument,
              {"byte 6: invalid leading UTF-8 octet"});
}

// YAML's line breaks are "\n", "\r\n" and a lone "\r"; yaml-cpp loops
// on "&a\r--,\nt" (the fuzzer found it), so all are read as "\n".
TEST(ParseYamlTest, CarriageReturnsAreLineBreaks) {
  ExpectError(ParseYaml("&a\r--,\nt", ".").status(),
              absl::StatusCode::kInvalidArgument, {"expected a map"});
  const std::filesystem::path dir = MakeInputDir();
  const absl::StatusOr<v1::JobSpec> unix_spec = ParseYaml(kBaseYaml, dir);
  ASSERT_TRUE(unix_spec.ok()) << unix_spec.status();
  for (const char* line_break : {"\r\n", "\r"}) {
    const absl::StatusOr<v1::JobSpec> spec =
        ParseYaml(absl::StrReplaceAll(kBaseYaml, {{"\n", line_break}}), dir);
    ASSERT_TRUE(spec.ok()) << spec.status();
    EXPECT_EQ(spec->DebugString(), unix_spec->DebugString());
  }
}

// What libyaml reads is what YAML means: aliases copy what their anchor
// names, a plain null is nothing while a quoted one is text, booleans have
// YAML 1.1's spellings; and what would exhaust the reader is refused.
TEST(ParseYamlTest, YamlIsReadAsTheStandardSays) {
  const std::filesystem::path dir = MakeInputDir();
  absl::StatusOr<v1::JobSpec> spec = ParseYaml(
      absl::StrReplaceAll(kBaseYaml,
                          {{"temperatures_k: [300, 320, 340, 360]",
                            "temperatures_k: &t [300, 320, 340, 360]"},
                           {"values: [1, 2, 3, 4]", "values: *t"}}) +
          "name: \"null\"\nowner: ~\noutput: {per_replica_trajectories: "
          "Yes}\n",
      dir);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_THAT(spec->ladder().parameters(0).values(),
              ::testing::ElementsAre(300, 320, 340, 360));
  EXPECT_EQ(spec->name(), "null");
  EXPECT_EQ(spec->owner(), "");
  EXPECT_TRUE(spec->output().per_replica_trajectories());
  for (const auto& [text, value] :
       std::vector<std::pair<std::string, bool>>{{"true", true},
                                                 {"TRUE", true},
                                                 {"on", true},
                                                 {"y", true},
                                                 {"False", false},
                                                 {"NO", false},
                                                 {"off", false}}) {
    spec = ParseYaml(std::string(kBaseYaml) +
                         "output: {per_replica_trajectories: " + text + "}\n",
                     dir);
    ASSERT_TRUE(spec.ok()) << text << ": " << spec.status();
    EXPECT_EQ(spec->output().per_replica_trajectories(), value) << text;
  }
  ExpectError(ParseYaml(std::string(kBaseYaml) +
                            "output: {per_replica_trajectories: tRUE}\n",
                        dir)
                  .status(),
              absl::StatusCode::kInvalidArgument,
              {"output.per_replica_trajectories", "expected true or false"});

  ExpectError(ParseYaml("name: *nowhere\n", dir).status(),
              absl::StatusCode::kInvalidArgument,
              {"*nowhere at line 1", "names no anchor"});
  ExpectError(ParseYaml("name: " + std::string(100, '[') + "\n", dir).status(),
              absl::StatusCode::kInvalidArgument,
              {"nested more than 64 deep", "line 1"});
  // Each level names the one before ten times: 10^7 nodes from 80 lines.
  std::string laughs = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i <= 7; ++i) {
    laughs += absl::StrCat("a", i, ": &a", i, " [");
    for (int j = 0; j < 10; ++j)
      absl::StrAppend(&laughs, j ? ", " : "", "*a", i - 1);
    laughs += "]\n";
  }
  ExpectError(ParseYaml(laughs, dir).status(),
              absl::StatusCode::kInvalidArgument,
              {"more than 1000000 YAML nodes"});
}

TEST(ParseYamlTest, BaseSpecIsValid) {
  absl::StatusOr<v1::JobSpec> spec = ParseYaml(kBaseYaml, MakeInputDir());
  EXPECT_TRUE(spec.ok()) << spec.status();
}

TEST(ParseYamlTest, BadInputGetsAnErrorNamingTheField) {
  const absl::StatusCode kInvalid = absl::StatusCode::kInvalidArgument;
  const std::vector<BadYamlCase> cases = {
      {"zero replicas",
       {{"n_rungs: 4", "n_rungs: 0"}},
       kInvalid,
       {"ladder.n_rungs", "0 replicas requested", "at least 1 rung"}},
      {"no rung count with ranges only",
       {{"n_rungs: 4\n  temperatures_k: [300, 320, 340, 360]",
         "temperature_range_k: {min: 300, max: 400}"},
        {"values: [1, 2, 3, 4]", "range: {min: 0, max: 1}"}},
       kInvalid,
       {"ladder.n_rungs", "0 replicas requested", "set ladder.n_rungs"}},
      {"negative frame interval",
       {{"  n_rounds: 10\n", "  n_rounds: 10\noutput: {frame_interval: -1}\n"}},
       kInvalid,
       {"output.frame_interval", "is -1", "at least 0"}},
      {"results directory outside the results root",
       {{"  n_rounds: 10\n", "  n_rounds: 10\noutput: {directory: ../x}\n"}},
       kInvalid,
       {"output.directory", "\"..\""}},
      {"results directory in the coordinator's index",
       {{"  n_rounds: 10\n", "  n_rounds: 10\noutput: {directory: .jobs/x}\n"}},
       kInvalid,
       {"output.directory", "reserved"}},
      {"unknown output key",
       {{"  n_rounds: 10\n", "  n_rounds: 10\noutput: {frames: 1}\n"}},
       kInvalid,
       {"output.frames", "frame_interval"}},
      {"too many rungs",
       {{"n_rungs: 4", "n_rungs: 4097"}},
       kInvalid,
       {"ladder.n_rungs", "4096"}},
      {"non-increasing temperatures",
       {{"[300, 320, 340, 360]", "[300, 340, 320, 360]"}},
       kInvalid,
       {"ladder.temperatures_k", "rung 2", "increasing"}},
      {"identical rungs",
       {{"[300, 320, 340, 360]", "[300, 300, 340, 360]"},
        {"[1, 2, 3, 4]", "[1, 1, 3, 4]"}},
       kInvalid,
       {"ladder.temperatures_k", "rungs 0 and 1 are identical"}},
      {"pressures of the wrong length",
       {{"[300, 320, 340, 360]",
         "[300, 320, 340, 360]\n  pressures_bar: [1, 2]"}},
       kInvalid,
       {"ladder.pressures_bar", "2 values for 4 rungs"}},
      {"a negative pressure",
       {{"[300, 320, 340, 360]",
         "[300, 320, 340, 360]\n  pressures_bar: [1, 1, -2, 1]"}},
       kInvalid,
       {"ladder.pressures_bar[2]", "bar is not a pressure"}},
      {"negative temperature",
       {{"[300, 320, 340, 360]", "[-300, 320, 340, 360]"}},
       kInvalid,
       {"ladder.temperatures_k[0]", "-300 K"}},
      {"NaN temperature",
       {{"[300, 320, 340, 360]", "[300, .nan, 340, 360]"}},
       kInvalid,
       {"ladder.temperatures_k[1]", "finite", "line 6"}},
      {"infinite parameter value",
       {{"[1, 2, 3, 4]", "[1, 2, .inf, 4]"}},
       kInvalid,
       {"ladder.parameters[0].values[2]", "finite"}},
      {"zero single temperature",
       {{"  temperatures_k: [300, 320, 340, 360]\n", "  temperature_k: 0\n"}},
       kInvalid,
       {"ladder.temperature_k", "0 K"}},
      {"unknown platform",
       {{"n_rounds: 10", "n_rounds: 10\nplatform: Cuda"}},
       kInvalid,
       {"platform", "did you mean \"CUDA\"", "Reference, CPU, OpenCL, CUDA"}},
      {"a compiler path as a platform property",
       {{"n_rounds: 10",
         "n_rounds: 10\nplatform: CUDA\nplatform_properties: "
         "{CudaCompiler: /tmp/evil}"}},
       kInvalid,
       {"platform_properties", "\"CudaCompiler\" is not a property",
        "allowed: DeviceIndex, Precision"}},
      {"absurd Threads",
       {{"n_rounds: 10",
         "n_rounds: 10\nplatform_properties: {Threads: 1000000}"}},
       kInvalid,
       {"platform_properties.Threads", "is \"1000000\"", "1 to 1023"}},
      {"a property of another platform",
       {{"n_rounds: 10",
         "n_rounds: 10\nplatform: Reference\nplatform_properties: {Threads: "
         "2}"}},
       kInvalid,
       {"not a property a job may set on the Reference platform",
        "allowed: none"}},
      {"a malformed device list",
       {{"n_rounds: 10",
         "n_rounds: 10\nplatform: OpenCL\nplatform_properties: "
         "{DeviceIndex: \"0,,1\"}"}},
       kInvalid,
       {"platform_properties.DeviceIndex", "comma-separated"}},
      {"a precision OpenMM does not have",
       {{"n_rounds: 10",
         "n_rounds: 10\nplatform: CUDA\nplatform_properties: "
         "{Precision: quad}"}},
       kInvalid,
       {"platform_properties.Precision", "single, mixed or double"}},
      {"a name of a megabyte",
       {{"n_rounds: 10", "n_rounds: 10\nname: " + std::string(200, 'x')}},
       kInvalid,
       {"name", "is 200 bytes; at most 128"}},
      {"a control character in a label",
       {{"n_rounds: 10", "n_rounds: 10\nlabels: {tier: \"a\\u0007b\"}"}},
       kInvalid,
       {"labels.tier", "control character"}},
      {"malformed YAML",
       {{"n_rounds: 10", "n_rounds: [10"}},
       kInvalid,
       {"YAML syntax error", "line"}},
      {"unknown key",
       {{"steps_per_exchange", "stpes_per_exchange"}},
       kInvalid,
       {"exchange.stpes_per_exchange", "unknown key",
        "did you mean \"steps_per_exchange\"", "n_rounds"}},
      {"unknown top-level key",
       {{"system: system.xml", "sytem: system.xml"}},
       kInvalid,
       {"sytem", "unknown key", "did you mean \"system\""}},
      {"duplicate key",
       {{"n_rounds: 10", "n_rounds: 10\n  n_rounds: 20"}},
       kInvalid,
       {"exchange.n_rounds", "twice"}},
      {"string where a number is needed",
       {{"[300, 320, 340, 360]", "[300, 320, abc, 360]"}},
       kInvalid,
       {"ladder.temperatures_k[2]", "expected a number, got \"abc\""}},
      {"map where a list is needed",
       {{"values: [1, 2, 3, 4]", "values: {a: 1}"}},
       kInvalid,
       {"ladder.parameters[0].values", "expected a list", "a map"}},
      {"fraction where an integer is needed",
       {{"n_rounds: 10", "n_rounds: 10.5"}},
       kInvalid,
       {"exchange.n_rounds", "expected an integer", "\"10.5\""}},
      {"negative seed",
       {{"n_rounds: 10", "n_rounds: 10\nseed: -1"}},
       kInvalid,
       {"seed", "18446744073709551615"}},
      {"map value in a plain scalar",
       {{"system: system.xml", "system: system.xml: extra"}},
       kInvalid,
       {"YAML syntax error", "line"}},
      {"missing system file",
       {{"system: system.xml", "system: nope.xml"}},
       absl::StatusCode::kNotFound,
       {"system", "nope.xml", "relative"}},
      {"a device as the system",
       {{"system: system.xml", "system: /dev/zero"}},
       kInvalid,
       {"system", "/dev/zero is not a regular file"}},
      {"missing coordinates file",
       {{"coordinates: state.xml", "coordinates: gone.pdb"}},
       absl::StatusCode::kNotFound,
       {"coordinates", "gone.pdb"}},
      {"missing required key",
       {{"  n_rounds: 10\n", ""}},
       kInvalid,
       {"exchange.n_rounds", "missing"}},
      {"both temperature forms",
       {{"n_rungs: 4", "n_rungs: 4\n  temperature_k: 300"}},
       kInvalid,
       {"ladder", "temperatures_k and temperature_k", "exactly one"}},
      {"parameter count mismatch",
       {{"[1, 2, 3, 4]", "[1, 2, 3]"}},
       kInvalid,
       {"ladder.parameters[0].values", "3 values for 4 rungs"}},
      {"duplicate parameter name",
       {{"values: [1, 2, 3, 4]",
         "values: [1, 2, 3, 4]\n    - name: K\n      values: [5, 6, 7, 8]"}},
       kInvalid,
       {"ladder.parameters[1].name", "ladder.parameters[0]"}},
      {"parameter values and range",
       {{"values: [1, 2, 3, 4]",
         "values: [1, 2, 3, 4]\n      range: {min: 0, max: 1}"}},
       kInvalid,
       {"ladder.parameters[0]", "both values and range"}},
      {"unknown spacing",
       {{"values: [1, 2, 3, 4]", "range: {min: 0, max: 1, spacing: log}"}},
       kInvalid,
       {"ladder.parameters[0].range.spacing", "geometric, linear"}},
      {"zero steps per exchange",
       {{"steps_per_exchange: 500", "steps_per_exchange: 0"}},
       kInvalid,
       {"exchange.steps_per_exchange", "at least 1"}},
      {"unknown scheme",
       {{"n_rounds: 10", "n_rounds: 10\n  scheme: metropolis"}},
       kInvalid,
       {"exchange.scheme", "neighbors, gibbs, none"}},
      {"swap attempts without gibbs",
       {{"n_rounds: 10", "n_rounds: 10\n  swap_attempts: 100"}},
       kInvalid,
       {"exchange.swap_attempts", "gibbs"}},
      {"negative checkpoint interval",
       {{"n_rounds: 10", "n_rounds: 10\ncheckpoint_interval: -5"}},
       kInvalid,
       {"checkpoint_interval", "-5"}},
      {"infinite timestep",
       {{"n_rounds: 10", "n_rounds: 10\nintegrator: {timestep_ps: .inf}"}},
       kInvalid,
       {"integrator.timestep_ps", "finite"}},
      {"adaptation without its interval",
       {{"    - name: K\n      values: [1, 2, 3, 4]\n",
         "  adapt: {rounds: 5}\n"}},
       kInvalid,
       {"ladder.adapt", "interval", "missing"}},
      {"adaptation with an unknown target",
       {{"    - name: K\n      values: [1, 2, 3, 4]\n",
         "  adapt: {rounds: 5, interval: 10, target: trips}\n"}},
       kInvalid,
       {"ladder.adapt.target", "equal_acceptance, round_trips"}},
      {"adaptation with an unknown key",
       {{"    - name: K\n      values: [1, 2, 3, 4]\n",
         "  adapt: {rounds: 5, interval: 10, goal: trips}\n"}},
       kInvalid,
       {"ladder.adapt", "goal"}},
      {"unknown exchange mode",
       {{"n_rounds: 10", "n_rounds: 10\n  mode: async"}},
       kInvalid,
       {"exchange.mode", "synchronous, asynchronous"}},
      {"label given as a list",
       {{"n_rounds: 10", "n_rounds: 10\nlabels: {team: [a, b]}"}},
       kInvalid,
       {"labels.team", "expected a string"}},
  };
  const std::filesystem::path dir = MakeInputDir();
  for (const BadYamlCase& c : cases) {
    SCOPED_TRACE(c.name);
    std::string yaml = kBaseYaml;
    for (const auto& [from, to] : c.edits) {
      ASSERT_TRUE(absl::StrContains(yaml, from)) << from;
      yaml = absl::StrReplaceAll(yaml, {{from, to}});
    }
    ExpectError(ParseYaml(yaml, dir).status(), c.code, c.in_message);
  }
}

TEST(ParseYamlTest, EmptyOrSeveralDocumentsAreRejected) {
  const std::filesystem::path dir = MakeInputDir();
  ExpectError(ParseYaml("", dir).status(), absl::StatusCode::kInvalidArgument,
              {"empty"});
  ExpectError(ParseYaml("# nothing\n", dir).status(),
              absl::StatusCode::kInvalidArgument, {"empty"});
  ExpectError(
      ParseYaml(absl::StrCat(kBaseYaml, "---\n", kBaseYaml), dir).status(),
      absl::StatusCode::kInvalidArgument, {"2 YAML documents"});
  ExpectError(ParseYaml("[1, 2]", dir).status(),
              absl::StatusCode::kInvalidArgument,
              {"job spec", "expected a map"});
}

// A valid spec as it could arrive over gRPC, edited by each case below.
constexpr char kBaseProto[] = R"pb(
  system_xml: "<System/>"
  state_xml: "<State/>"
  platform: "CPU"
  integrator { timestep_ps: 0.002 friction_per_ps: 1 }
  ladder {
    n_rungs: 3
    temperature_range_k { min: 300 max: 400 }
    parameters {
      name: "lambda"
      values: [ 0, 0.5, 1 ]
    }
  }
  exchange { scheme: NEIGHBORS steps_per_exchange: 100 n_rounds: 10 }
)pb";

struct BadProtoCase {
  std::string name;
  std::function<void(v1::JobSpec&)> edit;
  std::vector<std::string> in_message;
};

TEST(ValidateTest, BaseSpecIsValid) {
  EXPECT_TRUE(Validate(FromText(kBaseProto)).ok());
}

TEST(ValidateTest, BadSpecGetsInvalidArgumentNamingTheField) {
  const double kNaN = std::numeric_limits<double>::quiet_NaN();
  const std::vector<BadProtoCase> cases = {
      {"no system", [](v1::JobSpec& s) { s.clear_system_xml(); }, {"system"}},
      {"truncated system XML",
       [](v1::JobSpec& s) { s.set_system_xml("<System type=\"System\"><Par"); },
       {"system: not well-formed XML", "never closed"}},
      {"truncated state XML",
       [](v1::JobSpec& s) { s.set_state_xml("<State type=\"State\">"); },
       {"state: not well-formed XML", "ends inside <State>"}},
      {"no coordinates",
       [](v1::JobSpec& s) { s.clear_state_xml(); },
       {"coordinates", "State XML"}},
      {"empty pdb", [](v1::JobSpec& s) { s.set_pdb(""); }, {"coordinates"}},
      {"no platform",
       [](v1::JobSpec& s) { s.clear_platform(); },
       {"platform", "Reference, CPU, OpenCL, CUDA"}},
      {"lowercase platform",
       [](v1::JobSpec& s) { s.set_platform("cuda"); },
       {"platform", "case-sensitive", "did you mean \"CUDA\""}},
      {"negative timestep",
       [](v1::JobSpec& s) { s.mutable_integrator()->set_timestep_ps(-1); },
       {"integrator.timestep_ps"}},
      {"NaN friction",
       [&](v1::JobSpec& s) {
         s.mutable_integrator()->set_friction_per_ps(kNaN);
       },
       {"integrator.friction_per_ps"}},
      {"unknown scheme value",
       [](v1::JobSpec& s) {
         s.mutable_exchange()->set_scheme(
             static_cast<v1::Exchange::Scheme>(42));
       },
       {"exchange.scheme", "\"42\""}},
      {"zero rounds",
       [](v1::JobSpec& s) { s.mutable_exchange()->set_n_rounds(0); },
       {"exchange.n_rounds", "at least 1"}},
      {"negative swap attempts",
       [](v1::JobSpec& s) {
         s.mutable_exchange()->set_scheme(v1::Exchange::GIBBS);
         s.mutable_exchange()->set_swap_attempts(-1);
       },
       {"exchange.swap_attempts"}},
      {"absurd swap attempts",
       [](v1::JobSpec& s) {
         s.mutable_exchange()->set_scheme(v1::Exchange::GIBBS);
         s.mutable_exchange()->set_swap_attempts(int64_t{1} << 60);
       },
       {"exchange.swap_attempts", "1000000000"}},
      {"negative rung count",
       [](v1::JobSpec& s) { s.mutable_ladder()->set_n_rungs(-2); },
       {"ladder.n_rungs", "-2 replicas requested"}},
      {"huge rung count",
       [](v1::JobSpec& s) {
         s.mutable_ladder()->set_n_rungs(std::numeric_limits<int32_t>::max());
       },
       {"ladder.n_rungs", "4096"}},
      {"too many explicit temperatures",
       [](v1::JobSpec& s) {
         v1::Ladder& ladder = *s.mutable_ladder();
         ladder.Clear();
         for (int k = 0; k <= 4096; ++k) ladder.add_temperatures_k(300 + k);
       },
       {"ladder.temperatures_k", "4096"}},
      {"too many parameters",
       [](v1::JobSpec& s) {
         for (int i = 0; i < 64; ++i) {
           v1::ParameterLadder& p = *s.mutable_ladder()->add_parameters();
           p.set_name(absl::StrCat("p", i));
           p.mutable_range()->set_max(1);
         }
       },
       {"ladder.parameters", "64"}},
      {"no temperature",
       [](v1::JobSpec& s) { s.mutable_ladder()->clear_temperature_range_k(); },
       {"ladder", "no temperature given"}},
      {"temperature range from 0",
       [](v1::JobSpec& s) {
         s.mutable_ladder()->mutable_temperature_range_k()->set_min(0);
       },
       {"ladder.temperature_range_k.min", "0 K"}},
      {"temperature range upside down",
       [](v1::JobSpec& s) {
         s.mutable_ladder()->mutable_temperature_range_k()->set_max(200);
       },
       {"ladder.temperature_range_k", "below min"}},
      {"unknown spacing value",
       [](v1::JobSpec& s) {
         s.mutable_ladder()->mutable_temperature_range_k()->set_spacing(
             static_cast<v1::Range::Spacing>(9));
       },
       {"ladder.temperature_range_k.spacing", "9"}},
      {"NaN single temperature",
       [&](v1::JobSpec& s) {
         s.mutable_ladder()->clear_temperature_range_k();
         s.mutable_ladder()->set_temperature_k(kNaN);
       },
       {"ladder.temperature_k", "nan"}},
      {"parameter without a name",
       [](v1::JobSpec& s) {
         s.mutable_ladder()->mutable_parameters(0)->clear_name();
       },
       {"ladder.parameters[0].name", "empty"}},
      {"parameter without values",
       [](v1::JobSpec& s) {
         s.mutable_ladder()->mutable_parameters(0)->clear_values();
       },
       {"ladder.parameters[0]", "no values"}},
      {"geometric parameter range through 0",
       [](v1::JobSpec& s) {
         v1::ParameterLadder& p = *s.mutable_ladder()->mutable_parameters(0);
         p.clear_values();
         p.mutable_range()->set_max(1);
         p.mutable_range()->set_spacing(v1::Range::GEOMETRIC);
       },
       {"ladder.parameters[0].range.min", "geometric"}},
      {"parameter count mismatch",
       [](v1::JobSpec& s) {
         s.mutable_ladder()->mutable_parameters(0)->add_values(2);
       },
       {"ladder.parameters[0].values", "4 values for 3 rungs",
        "ladder.n_rungs"}},
      {"negative checkpoint interval",
       [](v1::JobSpec& s) { s.set_checkpoint_interval(-1); },
       {"checkpoint_interval"}},
  };
  for (const BadProtoCase& c : cases) {
    SCOPED_TRACE(c.name);
    v1::JobSpec spec = FromText(kBaseProto);
    c.edit(spec);
    ExpectError(Validate(spec), absl::StatusCode::kInvalidArgument,
                c.in_message);
  }
}

// A grid of `ladder`'s temperatures (axis 0) by two values of K (axis 1),
// adapting as `ladder` does.
v1::Ladder ThreeByTwoGrid(const v1::Ladder& ladder) {
  v1::Ladder grid;
  v1::Ladder& temperatures = *grid.add_axes();
  temperatures.set_n_rungs(ladder.n_rungs());
  *temperatures.mutable_temperatures_k() = ladder.temperatures_k();
  *temperatures.mutable_temperature_range_k() = ladder.temperature_range_k();
  v1::ParameterLadder& k = *grid.add_axes()->add_parameters();
  k.set_name("K");
  k.add_values(1);
  k.add_values(2);
  *grid.mutable_adapt() = ladder.adapt();
  return grid;
}

TEST(ValidateTest, AnAdaptiveLadderIsAnOrdinaryLadderOrAGrid) {
  // kBaseProto's 3 temperatures without its parameter, adapting for 50 of
  // 100 rounds; with a parameter too, or a parameter alone; a grid of them
  // by two values of a parameter.
  auto adaptive = [](v1::JobSpec& s) {
    s.mutable_ladder()->clear_parameters();
    s.mutable_exchange()->set_n_rounds(100);
    s.mutable_ladder()->mutable_adapt()->set_rounds(50);
    s.mutable_ladder()->mutable_adapt()->set_interval(10);
  };
  v1::JobSpec valid = FromText(kBaseProto);
  adaptive(valid);
  EXPECT_TRUE(Validate(valid).ok()) << Validate(valid);
  v1::Ladder& ladder = *valid.mutable_ladder();
  ladder.add_parameters()->set_name("lambda");
  for (double x : {0.0, 0.5, 1.0}) ladder.mutable_parameters(0)->add_values(x);
  EXPECT_TRUE(Validate(valid).ok()) << Validate(valid);
  ladder.clear_temperatures_k();
  ladder.clear_temperature_range_k();
  ladder.set_temperature_k(300);
  EXPECT_TRUE(Validate(valid).ok()) << Validate(valid);
  // A grid adapts when an axis has an inner rung (equal acceptance).
  valid = FromText(kBaseProto);
  adaptive(valid);
  *valid.mutable_ladder() = ThreeByTwoGrid(valid.ladder());
  EXPECT_TRUE(Validate(valid).ok()) << Validate(valid);
  valid = FromText(kBaseProto);
  adaptive(valid);
  const std::vector<BadProtoCase> cases = {
      {"two rungs",
       [](v1::JobSpec& s) { s.mutable_ladder()->set_n_rungs(2); },
       {"ladder.adapt", "fewer than 3 rungs"}},
      {"a pressure per rung",
       [](v1::JobSpec& s) {
         for (int k = 0; k < 3; ++k) s.mutable_ladder()->add_pressures_bar(1);
       },
       {"ladder.adapt", "per-rung pressures"}},
      {"unknown target value",
       [](v1::JobSpec& s) {
         s.mutable_ladder()->mutable_adapt()->set_target(
             static_cast<v1::LadderAdaptation::Target>(7));
       },
       {"ladder.adapt.target", "equal_acceptance, round_trips"}},
      {"no exchanges",
       [](v1::JobSpec& s) {
         s.mutable_exchange()->set_scheme(v1::Exchange::NONE);
       },
       {"ladder.adapt", "scheme none"}},
      {"interval too short",
       [](v1::JobSpec& s) {
         s.mutable_ladder()->mutable_adapt()->set_interval(5);
       },
       {"ladder.adapt.interval", "at least 10"}},
      {"phase shorter than an interval",
       [](v1::JobSpec& s) {
         s.mutable_ladder()->mutable_adapt()->set_rounds(5);
       },
       {"ladder.adapt.rounds", "at least 10"}},
      {"too many changes",
       [](v1::JobSpec& s) {
         s.mutable_exchange()->set_n_rounds(20000);
         s.mutable_ladder()->mutable_adapt()->set_rounds(10010);
       },
       {"ladder.adapt.interval", "1001 changes", "at most 1000"}},
      {"no production",
       [](v1::JobSpec& s) {
         s.mutable_ladder()->mutable_adapt()->set_rounds(100);
       },
       {"ladder.adapt.rounds", "no production rounds", "exchange.n_rounds"}},
      {"on a grid",
       [](v1::JobSpec& s) {
         v1::Ladder grid;
         for (int a = 0; a < 2; ++a) {
           v1::Ladder& axis = *grid.add_axes();
           axis.set_n_rungs(2);
           *axis.mutable_temperature_range_k() =
               s.ladder().temperature_range_k();
         }
         grid.mutable_axes(1)->clear_temperature_range_k();
         v1::ParameterLadder& k = *grid.mutable_axes(1)->add_parameters();
         k.set_name("K");
         k.add_values(1);
         k.add_values(2);
         *grid.mutable_adapt() = s.ladder().adapt();
         *s.mutable_ladder() = grid;
       },
       {"ladder.adapt", "no axis of this grid has 3 or more rungs"}},
      {"round trips on a grid",
       [](v1::JobSpec& s) {
         s.mutable_ladder()->mutable_adapt()->set_target(
             v1::LadderAdaptation::ROUND_TRIPS);
         *s.mutable_ladder() = ThreeByTwoGrid(s.ladder());
       },
       {"ladder.adapt.target", "a grid does not have", "equal_acceptance"}},
      {"on an axis",
       [](v1::JobSpec& s) {
         v1::Ladder grid;
         for (int a = 0; a < 2; ++a) {
           v1::Ladder& axis = *grid.add_axes();
           v1::ParameterLadder& k = *axis.add_parameters();
           k.set_name(absl::StrCat("K", a));
           k.add_values(1);
           k.add_values(2);
         }
         grid.set_temperature_k(300);
         *grid.mutable_axes(0)->mutable_adapt() = s.ladder().adapt();
         *s.mutable_ladder() = grid;
       },
       {"ladder.axes[0].adapt", "move it to ladder.adapt"}},
  };
  for (const BadProtoCase& c : cases) {
    SCOPED_TRACE(c.name);
    v1::JobSpec spec = FromText(kBaseProto);
    adaptive(spec);
    c.edit(spec);
    ExpectError(Validate(spec), absl::StatusCode::kInvalidArgument,
                c.in_message);
  }
}

TEST(ValidateTest, AsynchronousExchangeHasNoRoundsToActAt) {
  v1::JobSpec valid = FromText(kBaseProto);
  valid.mutable_exchange()->set_mode(v1::Exchange::ASYNCHRONOUS);
  EXPECT_TRUE(Validate(valid).ok()) << Validate(valid);
  const std::vector<BadProtoCase> cases = {
      {"an adaptive ladder",
       [](v1::JobSpec& s) {
         s.mutable_ladder()->clear_parameters();
         s.mutable_exchange()->set_n_rounds(100);
         s.mutable_ladder()->mutable_adapt()->set_rounds(50);
         s.mutable_ladder()->mutable_adapt()->set_interval(10);
       },
       {"ladder.adapt", "asynchronous", "exchange.mode: synchronous"}},
      {"every rung's energies",
       [](v1::JobSpec& s) { s.mutable_exchange()->set_energies_every(5); },
       {"exchange.energies_every", "asynchronous"}},
      {"an unknown mode",
       [](v1::JobSpec& s) {
         s.mutable_exchange()->set_mode(static_cast<v1::Exchange::Mode>(9));
       },
       {"exchange.mode", "synchronous, asynchronous"}},
  };
  for (const BadProtoCase& c : cases) {
    SCOPED_TRACE(c.name);
    v1::JobSpec spec = valid;
    c.edit(spec);
    ExpectError(Validate(spec), absl::StatusCode::kInvalidArgument,
                c.in_message);
  }
}

// Validate must survive anything a client can put in the proto: extreme,
// non-finite and out-of-range values in every numeric field, with a fixed
// seed so a failure reproduces.
TEST(ValidateTest, NeverCrashesOnArbitraryContent) {
  const std::vector<double> doubles = {
      0,
      -0.0,
      -1,
      1e-300,
      300,
      1e300,
      -1e308,
      1e308,
      std::numeric_limits<double>::quiet_NaN(),
      std::numeric_limits<double>::infinity(),
      -std::numeric_limits<double>::infinity()};
  const std::vector<int32_t> ints = {0,
                                     -1,
                                     1,
                                     2,
                                     5,
                                     100001,
                                     std::numeric_limits<int32_t>::min(),
                                     std::numeric_limits<int32_t>::max()};
  std::mt19937 rng(12345);
  auto pick_double = [&] { return doubles[rng() % doubles.size()]; };
  auto pick_int = [&] { return ints[rng() % ints.size()]; };
  for (int trial = 0; trial < 3000; ++trial) {
    v1::JobSpec spec = FromText(kBaseProto);
    v1::Ladder& ladder = *spec.mutable_ladder();
    ladder.Clear();
    if (rng() % 2) ladder.set_n_rungs(pick_int());
    if (rng() % 3 == 0) {
      for (int i = static_cast<int>(rng() % 4); i > 0; --i) {
        ladder.add_temperatures_k(pick_double());
      }
    }
    if (rng() % 3 == 0) {
      v1::Range& range = *ladder.mutable_temperature_range_k();
      range.set_min(pick_double());
      range.set_max(pick_double());
      range.set_spacing(static_cast<v1::Range::Spacing>(rng() % 4));
    }
    if (rng() % 3 == 0) ladder.set_temperature_k(pick_double());
    if (rng() % 3 == 0) {
      ladder.mutable_adapt()->set_rounds(pick_int());
      ladder.mutable_adapt()->set_interval(pick_int());
    }
    for (int i = static_cast<int>(rng() % 3); i > 0; --i) {
      v1::ParameterLadder& p = *ladder.add_parameters();
      p.set_name(rng() % 4 ? "p" + std::to_string(rng() % 2) : "");
      for (int k = static_cast<int>(rng() % 4); k > 0; --k) {
        p.add_values(pick_double());
      }
      if (rng() % 2) {
        p.mutable_range()->set_min(pick_double());
        p.mutable_range()->set_max(pick_double());
        p.mutable_range()->set_spacing(
            static_cast<v1::Range::Spacing>(rng() % 4));
      }
    }
    spec.mutable_integrator()->set_timestep_ps(pick_double());
    spec.mutable_integrator()->set_friction_per_ps(pick_double());
    spec.mutable_exchange()->set_scheme(
        static_cast<v1::Exchange::Scheme>(rng() % 5));
    spec.mutable_exchange()->set_steps_per_exchange(pick_int());
    spec.mutable_exchange()->set_n_rounds(pick_int());
    spec.mutable_exchange()->set_swap_attempts(pick_int());
    spec.set_checkpoint_interval(pick_int());

    const absl::Status status = Validate(spec);
    EXPECT_TRUE(status.ok() ||
                status.code() == absl::StatusCode::kInvalidArgument)
        << status;
    ApplyDefaults(spec);
    const absl::Status after_defaults = Validate(spec);
    EXPECT_TRUE(after_defaults.ok() ||
                after_defaults.code() == absl::StatusCode::kInvalidArgument)
        << after_defaults;
  }
}

// Every ```yaml block of docs/job-spec.md is a complete, valid job spec.
TEST(DocsTest, ExamplesAreValid) {
  std::ifstream in(REPLEX_JOB_SPEC_DOC);
  ASSERT_TRUE(in) << REPLEX_JOB_SPEC_DOC;
  const std::string doc{std::istreambuf_iterator<char>(in),
                        std::istreambuf_iterator<char>()};
  const std::filesystem::path dir = MakeInputDir();
  const std::string fence = "```yaml\n";
  int examples = 0;
  for (size_t start = doc.find(fence); start != std::string::npos;
       start = doc.find(fence, start)) {
    start += fence.size();
    const size_t end = doc.find("```", start);
    ASSERT_NE(end, std::string::npos);
    const std::string yaml = doc.substr(start, end - start);
    absl::StatusOr<v1::JobSpec> spec = ParseYaml(yaml, dir);
    EXPECT_TRUE(spec.ok()) << spec.status() << "\n" << yaml;
    ++examples;
  }
  EXPECT_GE(examples, 4);
}

struct LadderCase {
  std::string name;
  std::string ladder;  // text-format v1::Ladder
  std::vector<double> temperatures;
  std::vector<std::string> parameter_names;
  std::vector<std::vector<double>> parameters;  // per rung
};

TEST(BuildLadderTest, ExpandsEveryForm) {
  const std::vector<LadderCase> cases = {
      {"explicit temperatures",
       "temperatures_k: [300, 310.5]",
       {300, 310.5},
       {},
       {{}, {}}},
      {"geometric temperature range by default",
       "n_rungs: 3 temperature_range_k { min: 300 max: 600 }",
       {300, 300 * std::sqrt(2.0), 600},
       {},
       {{}, {}, {}}},
      {"linear temperature range",
       "n_rungs: 3 temperature_range_k { min: 300 max: 500 spacing: LINEAR }",
       {300, 400, 500},
       {},
       {{}, {}, {}}},
      {"single temperature, rung count from parameter values",
       "temperature_k: 310 parameters { name: 'K' values: [100, 200] }",
       {310, 310},
       {"K"},
       {{100}, {200}}},
      {"parameter range, linear by default",
       "temperature_k: 300 n_rungs: 3 parameters { name: 'lambda' range { "
       "min: 0 max: 1 } }",
       {300, 300, 300},
       {"lambda"},
       {{0}, {0.5}, {1}}},
      {"temperatures and two parameters",
       "temperatures_k: [300, 330] parameters { name: 'a' values: [1, 2] } "
       "parameters { name: 'b' range { min: 1 max: 4 spacing: GEOMETRIC } }",
       {300, 330},
       {"a", "b"},
       {{1, 1}, {2, 4}}},
  };
  for (const LadderCase& c : cases) {
    SCOPED_TRACE(c.name);
    v1::Ladder proto;
    ASSERT_TRUE(
        google::protobuf::TextFormat::ParseFromString(c.ladder, &proto));
    absl::StatusOr<exchange::Ladder> ladder = BuildLadder(proto);
    ASSERT_TRUE(ladder.ok()) << ladder.status();
    ASSERT_EQ(ladder->size(), static_cast<int>(c.temperatures.size()));
    EXPECT_EQ(ladder->parameter_names(), c.parameter_names);
    for (int k = 0; k < ladder->size(); ++k) {
      EXPECT_THAT(ladder->rung(k).temperature_k,
                  DoubleNear(c.temperatures[k], 1e-9));
      ASSERT_EQ(ladder->rung(k).parameters.size(), c.parameters[k].size());
      for (size_t p = 0; p < c.parameters[k].size(); ++p) {
        EXPECT_THAT(ladder->rung(k).parameters[p],
                    DoubleNear(c.parameters[k][p], 1e-12));
      }
    }
  }
}

// A friction of 0 means no thermostat coupling, not "unset": it is kept, and
// only an absent friction gets the default.
TEST(BuildLadderTest, CarriesAPressurePerRung) {
  absl::StatusOr<exchange::Ladder> ladder = BuildLadder(
      FromText("ladder { temperature_k: 300 pressures_bar: [1, 500, 1000] }")
          .ladder());
  ASSERT_TRUE(ladder.ok()) << ladder.status();
  ASSERT_TRUE(ladder->has_pressures());
  EXPECT_EQ(ladder->size(), 3);
  EXPECT_EQ(ladder->rung(1).pressure_bar, 500);
  EXPECT_TRUE(ladder->temperature_only());
  EXPECT_FALSE(
      BuildLadder(FromText("ladder { temperatures_k: [300, 310] }").ladder())
          ->has_pressures());
}

constexpr char kGridLadder[] = R"yaml(ladder:
  axes:
    - temperature_range_k: {min: 300, max: 363}
      n_rungs: 3
    - parameters:
        - name: K
          range: {min: 1, max: 2}
      n_rungs: 2
    - parameters: [{name: M, values: [5, 6]}]
)yaml";

TEST(BuildLadderTest, AGridHasEveryCombinationOfItsAxes) {
  const std::string yaml = absl::StrReplaceAll(
      kBaseYaml, {{"ladder:\n  n_rungs: 4\n  temperatures_k: [300, 320, "
                   "340, 360]\n  parameters:\n    - name: K\n      values: "
                   "[1, 2, 3, 4]\n",
                   kGridLadder}});
  absl::StatusOr<v1::JobSpec> spec = ParseYaml(yaml, MakeInputDir());
  ASSERT_TRUE(spec.ok()) << spec.status();
  absl::StatusOr<exchange::Ladder> ladder = BuildLadder(spec->ladder());
  ASSERT_TRUE(ladder.ok()) << ladder.status();
  EXPECT_EQ(ladder->shape(), (std::vector<int>{3, 2, 2}));
  EXPECT_EQ(ladder->parameter_names(), (std::vector<std::string>{"K", "M"}));
  ASSERT_EQ(ladder->size(), 12);
  // Rung 4 t + 2 k + m: the last axis varies fastest.
  for (int t = 0; t < 3; ++t) {
    for (int k = 0; k < 2; ++k) {
      for (int m = 0; m < 2; ++m) {
        const exchange::Rung& rung = ladder->rung(4 * t + 2 * k + m);
        EXPECT_NEAR(rung.temperature_k, 300 * std::pow(1.1, t), 1e-9);
        EXPECT_EQ(rung.parameters, (std::vector<double>{1.0 + k, 5.0 + m}));
      }
    }
  }
  // (3-1)*4 + 3*(2-1)*2 + 3*2*(2-1) pairs.
  EXPECT_EQ(ladder->pairs().size(), 8u + 6u + 6u);

  // One temperature for every rung instead of a temperature axis.
  v1::Ladder lambdas = spec->ladder();
  lambdas.mutable_axes()->DeleteSubrange(0, 1);
  lambdas.set_temperature_k(310);
  ladder = BuildLadder(lambdas);
  ASSERT_TRUE(ladder.ok()) << ladder.status();
  EXPECT_EQ(ladder->size(), 4);
  EXPECT_EQ(ladder->rung(3).temperature_k, 310);
}

TEST(BuildLadderTest, ABadGridGetsAnErrorNamingTheField) {
  v1::Ladder base;
  base.add_axes()->add_temperatures_k(300);
  base.mutable_axes(0)->add_temperatures_k(320);
  v1::ParameterLadder& k = *base.add_axes()->add_parameters();
  k.set_name("K");
  k.add_values(1);
  k.add_values(2);
  ASSERT_TRUE(BuildLadder(base).ok()) << BuildLadder(base).status();

  const std::vector<
      std::pair<std::function<void(v1::Ladder&)>, std::vector<std::string>>>
      cases = {
          {[](v1::Ladder& l) { l.set_n_rungs(4); },
           {"ladder.n_rungs", "give it on one of the axes"}},
          {[](v1::Ladder& l) { l.add_parameters()->set_name("X"); },
           {"ladder.parameters", "give it on one of the axes"}},
          {[](v1::Ladder& l) { l.mutable_axes()->RemoveLast(); },
           {"ladder.axes", "one axis is an ordinary ladder"}},
          {[](v1::Ladder& l) { l.set_temperature_k(300); },
           {"ladder:",
            "temperature_k and ladder.axes[0]'s temperatures are "
            "both given"}},
          {[](v1::Ladder& l) {
             l.mutable_axes(0)->clear_temperatures_k();
             l.mutable_axes(0)->set_n_rungs(2);
           },
           {"ladder:", "no temperature given"}},
          {[](v1::Ladder& l) {
             l.mutable_axes(1)->add_temperatures_k(300);
             l.mutable_axes(1)->add_temperatures_k(400);
           },
           {"ladder.axes[1]", "as ladder.axes[0] does; give them on one axis"}},
          {[](v1::Ladder& l) {
             l.mutable_axes(1)->mutable_parameters(0)->set_name("K");
             *l.mutable_axes(0)->add_parameters() = l.axes(1).parameters(0);
           },
           {"ladder.axes[1].parameters[0].name",
            "already used by ladder.axes[0].parameters[0].name"}},
          {[](v1::Ladder& l) {
             l.mutable_axes(1)->set_n_rungs(2);
             l.mutable_axes(1)->mutable_parameters(0)->add_values(3);
           },
           {"ladder.axes[1].parameters[0].values", "3 values for 2 rungs",
            "ladder.axes[1].n_rungs"}},
          {[](v1::Ladder& l) { l.mutable_axes(0)->set_temperatures_k(1, -5); },
           {"ladder.axes[0].temperatures_k[1]"}},
          {[](v1::Ladder& l) { l.mutable_axes(0)->set_temperatures_k(1, 200); },
           {"ladder.axes", "below rung 0's 300 K", "along axis 0"}},
          {[](v1::Ladder& l) {
             l.mutable_axes(1)->mutable_parameters(0)->set_values(1, 1);
           },
           {"ladder.axes", "rungs 0 and 1 are identical along axis 1"}},
          {[](v1::Ladder& l) { l.mutable_axes(1)->add_pressures_bar(1); },
           {"ladder.axes[1].pressures_bar", "not supported on a grid"}},
          {[](v1::Ladder& l) { *l.mutable_axes(1)->add_axes() = l.axes(0); },
           {"ladder.axes[1].axes", "cannot itself be a grid"}},
          {[](v1::Ladder& l) {
             l.mutable_axes(0)->mutable_temperature_range_k()->set_min(300);
             l.mutable_axes(0)->mutable_temperature_range_k()->set_max(400);
           },
           {"ladder.axes[0]:",
            "temperatures_k and temperature_range_k are "
            "both given; give one of temperatures_k (one per rung) or "
            "temperature_range_k"}},
          {[](v1::Ladder& l) {
             l.mutable_axes(0)->clear_temperatures_k();
             l.mutable_axes(0)->set_temperature_k(300);
             l.mutable_axes(0)->set_n_rungs(2);
           },
           {"ladder.axes[0].temperature_k", "belongs in ladder.temperature_k"}},
          {[](v1::Ladder& l) {
             l.mutable_axes(1)->mutable_parameters(0)->clear_values();
             l.mutable_axes(1)->mutable_parameters(0)->add_values(1);
           },
           {"ladder.axes[1]", "1 rung: an axis needs at least 2"}},
          {[](v1::Ladder& l) {
             l.mutable_axes(0)->clear_temperatures_k();
             l.mutable_axes(0)->mutable_temperature_range_k()->set_min(300);
             l.mutable_axes(0)->mutable_temperature_range_k()->set_max(400);
             l.mutable_axes(0)->set_n_rungs(4000);
           },
           {"ladder.axes", "8000", "limit of 4096"}},
      };
  for (const auto& [edit, in_message] : cases) {
    v1::Ladder ladder = base;
    edit(ladder);
    SCOPED_TRACE(ladder.ShortDebugString());
    ExpectError(BuildLadder(ladder).status(),
                absl::StatusCode::kInvalidArgument, in_message);
  }
}

TEST(ApplyDefaultsTest, KeepsZeroFrictionAndFillsAnAbsentOne) {
  const std::filesystem::path dir = MakeInputDir();
  const auto with_integrator = [](const std::string& integrator) {
    return absl::StrReplaceAll(
        kBaseYaml, {{"n_rounds: 10",
                     absl::StrCat("n_rounds: 10\nintegrator: ", integrator)}});
  };
  absl::StatusOr<v1::JobSpec> zero =
      ParseYaml(with_integrator("{friction_per_ps: 0}"), dir);
  ASSERT_TRUE(zero.ok()) << zero.status();
  EXPECT_TRUE(zero->integrator().has_friction_per_ps());
  EXPECT_EQ(zero->integrator().friction_per_ps(), 0);

  absl::StatusOr<v1::JobSpec> absent =
      ParseYaml(with_integrator("{timestep_ps: 0.001}"), dir);
  ASSERT_TRUE(absent.ok()) << absent.status();
  EXPECT_TRUE(absent->integrator().has_friction_per_ps());
  EXPECT_EQ(absent->integrator().friction_per_ps(), kDefaultFrictionPerPs);

  // The same over gRPC: ApplyDefaults keeps an explicit 0.
  v1::JobSpec proto = FromText(kBaseProto);
  proto.mutable_integrator()->set_friction_per_ps(0);
  ApplyDefaults(proto);
  EXPECT_TRUE(proto.integrator().has_friction_per_ps());
  EXPECT_EQ(proto.integrator().friction_per_ps(), 0);
  EXPECT_TRUE(Validate(proto).ok()) << Validate(proto);
}

TEST(ApplyDefaultsTest, FillsOnlyUnsetFields) {
  v1::JobSpec empty;
  ApplyDefaults(empty);
  EXPECT_EQ(empty.platform(), kDefaultPlatform);
  EXPECT_EQ(empty.integrator().timestep_ps(), kDefaultTimestepPs);
  EXPECT_EQ(empty.integrator().friction_per_ps(), kDefaultFrictionPerPs);
  EXPECT_EQ(empty.exchange().scheme(), v1::Exchange::NEIGHBORS);
  EXPECT_FALSE(empty.ladder().has_temperature_range_k());

  v1::JobSpec set = FromText(R"pb(
    platform: "CUDA"
    integrator { timestep_ps: 0.004 friction_per_ps: 0.1 }
    exchange { scheme: NONE }
    ladder {
      temperature_range_k { min: 1 max: 2 spacing: LINEAR }
      parameters { range { min: 1 max: 2 } }
    }
  )pb");
  v1::JobSpec expected = set;
  expected.mutable_ladder()
      ->mutable_parameters(0)
      ->mutable_range()
      ->set_spacing(v1::Range::LINEAR);
  ApplyDefaults(set);
  ExpectProtoEq(set, expected);
}

TEST(SchemeOfTest, MapsEveryScheme) {
  const std::vector<std::pair<v1::Exchange::Scheme, exchange::Scheme>> cases = {
      {v1::Exchange::SCHEME_UNSPECIFIED, exchange::Scheme::kNeighbors},
      {v1::Exchange::NEIGHBORS, exchange::Scheme::kNeighbors},
      {v1::Exchange::GIBBS, exchange::Scheme::kGibbs},
      {v1::Exchange::NONE, exchange::Scheme::kNone}};
  for (const auto& [proto, scheme] : cases) {
    v1::Exchange exchange;
    exchange.set_scheme(proto);
    EXPECT_EQ(SchemeOf(exchange), scheme) << proto;
  }
}

}  // namespace
}  // namespace replex::spec
