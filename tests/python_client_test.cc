// The Python client (python/replex) against a real local cluster: its README
// example as written, every call of the API (tests/python_client_check.py,
// with authentication on), and stubs that match the protos.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/cluster.h"
#include "tests/process.h"
#include "tests/test_paths.h"

namespace replex::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

constexpr char kAlice[] = "alice-0123456789abcdef";
constexpr char kBob[] = "bob-0123456789abcdef0";

bool PythonHasGrpc() {
  return RunCommand("/usr/bin/python3 -c 'import grpc' 2>/dev/null").first == 0;
}

// Runs `/usr/bin/python3 ARGS` in `dir` with the client on the path and the
// cluster's gateway in the environment.
std::pair<int, std::string> RunClient(const std::string& dir,
                                      const std::string& gateway,
                                      const std::string& token,
                                      const std::string& args) {
  return RunCommand(absl::StrCat(
      "cd ", dir, " && env PYTHONPATH=", SourcePath("python"),
      " REPLEX_GATEWAY=", gateway, " REPLEX_TOKEN=", token,
      " REPLEXCTL=", REPLEXCTL_BIN, " /usr/bin/python3 ", args, " 2>&1"));
}

TEST(PythonClientTest, TheReadmeExampleRuns) {
  if (!PythonHasGrpc()) GTEST_SKIP() << "python3-grpcio is not installed";
  LocalCluster cluster("python-readme");
  ASSERT_TRUE(cluster.StartServices().ok()) << cluster.Logs();
  ASSERT_TRUE(cluster.AddWorker().ok()) << cluster.Logs();
  // The example's ```python block, run where examples/ resolves as from the
  // repository root (its results directory lands in the test's directory).
  const std::string readme = ReadFile(SourcePath("python/README.md"));
  const size_t start = readme.find("```python\n");
  ASSERT_NE(start, std::string::npos);
  const size_t end = readme.find("```", start + 10);
  const std::string dir = cluster.dir() + "/readme";
  fs::create_directories(dir);
  fs::create_symlink(SourcePath("examples"), dir + "/examples");
  std::ofstream(dir + "/example.py")
      << readme.substr(start + 10, end - start - 10);
  const auto [code, output] =
      RunClient(dir, cluster.gateway(), "", "example.py");
  ASSERT_EQ(code, 0) << output << cluster.Logs();
  EXPECT_THAT(output, HasSubstr("SUCCEEDED"));
  EXPECT_THAT(output, HasSubstr("100%"));
  EXPECT_THAT(output, HasSubstr("u_kln (4, 4, 2000)"));
  EXPECT_THAT(output, HasSubstr("free energies (k_B T) [0, -"));
}

TEST(PythonClientTest, EveryCallWorksAgainstAnAuthenticatedCluster) {
  if (!PythonHasGrpc()) GTEST_SKIP() << "python3-grpcio is not installed";
  LocalCluster cluster("python-api");
  const std::string users = cluster.dir() + "/users.tokens";
  std::ofstream(users) << kAlice << " alice\n" << kBob << " bob\n";
  cluster.set_gateway_flags({"--tokens_file=" + users});
  ASSERT_TRUE(cluster.StartServices().ok()) << cluster.Logs();
  ASSERT_TRUE(cluster.AddWorker().ok()) << cluster.Logs();
  const std::string long_job =
      WriteHarmonicJob(cluster.dir(), "long", 4, 50, 1000000);
  const std::string short_job =
      WriteHarmonicJob(cluster.dir(), "short", 4, 50, 300);
  const auto [code, output] = RunClient(
      cluster.dir(), cluster.gateway(), kAlice,
      absl::StrCat(SourcePath("tests/python_client_check.py"), " ", long_job,
                   " ", short_job, " ", cluster.dir(), " ", kBob));
  ASSERT_EQ(code, 0) << output << cluster.Logs();
  EXPECT_THAT(output, HasSubstr("ok"));
}

// python/replex/v1 is what python/generate.sh makes of proto/ now.
TEST(PythonClientTest, TheCommittedStubsAreCurrent) {
  if (RunCommand("command -v grpc_python_plugin >/dev/null").first != 0) {
    GTEST_SKIP() << "grpc_python_plugin (protobuf-compiler-grpc) is missing";
  }
  const fs::path out =
      fs::temp_directory_path() / absl::StrCat("replex-stubs-", getpid());
  fs::create_directories(out);
  const auto [code, output] = RunCommand(absl::StrCat(
      SourcePath("python/generate.sh"), " ", out.string(), " 2>&1"));
  ASSERT_EQ(code, 0) << output;
  int compared = 0;
  for (const auto& entry : fs::directory_iterator(out / "replex/v1")) {
    const fs::path committed =
        fs::path(SourcePath("python/replex/v1")) / entry.path().filename();
    EXPECT_EQ(ReadFile(entry.path()), ReadFile(committed))
        << committed << " is stale: run python/generate.sh";
    ++compared;
  }
  EXPECT_EQ(compared, 4);
  fs::remove_all(out);
}

}  // namespace
}  // namespace replex::testing
