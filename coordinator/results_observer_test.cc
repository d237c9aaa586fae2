// The results observer's per-owner quota of results disk, on a real
// directory (no job runs: the test plays the job manager's calls).
#include "coordinator/results_observer.h"

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/results/results.h"

namespace replex::coordinator {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// A job of 4 rungs writing a frame of 1,000 atoms every round for 1,000
// rounds (about 48 MB of trajectories), owned by `owner`.
v1::JobSpec Spec(const std::string& owner) {
  v1::JobSpec spec;
  spec.set_owner(owner);
  std::string xml = "<System><Particles>";
  for (int i = 0; i < 1000; ++i) xml += "<Particle mass=\"1\"/>";
  spec.set_system_xml(xml + "</Particles></System>");
  spec.mutable_ladder()->set_n_rungs(4);
  spec.mutable_ladder()->mutable_temperature_range_k()->set_min(300);
  spec.mutable_ladder()->mutable_temperature_range_k()->set_max(400);
  spec.mutable_exchange()->set_n_rounds(1000);
  spec.mutable_output()->set_frame_interval(1);
  return spec;
}

v1::Job Ended(const std::string& id) {
  v1::Job job;
  job.set_job_id(id);
  job.set_state(v1::CANCELLED);
  return job;
}

// Room for one and a half of those jobs per owner: a second one waits for
// the first to end (an unfinished job counts at its estimated final size,
// an ended one at what it left on disk); owners do not share a quota; and a
// restarted coordinator counts what the owner's directories hold.
TEST(ResultsObserverTest, EachOwnerKeepsWithinTheirResultsQuota) {
  const fs::path root = fs::path(::testing::TempDir()) / "results-quota";
  fs::remove_all(root);
  const uint64_t need = results::EstimatedResultsBytes(Spec("alice"));
  ASSERT_GT(need, uint64_t{40} << 20);
  const uint64_t quota = need * 3 / 2;
  ResultsObserver observer(root, quota);

  ASSERT_TRUE(observer.OnSubmit("j1", Spec("alice")).ok());
  const absl::Status refused = observer.OnSubmit("j2", Spec("alice"));
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted) << refused;
  EXPECT_THAT(std::string(refused.message()),
              HasSubstr("owner \"alice\" has results of about"));
  EXPECT_THAT(std::string(refused.message()),
              HasSubstr("--max_results_gib_per_owner"));
  EXPECT_FALSE(fs::exists(root / "j2"));
  EXPECT_TRUE(observer.OnSubmit("j3", Spec("bob")).ok());

  // j1 ends having written nothing: alice has room again.
  observer.OnFinished(Ended("j1"));
  ASSERT_TRUE(observer.OnSubmit("j2", Spec("alice")).ok());
  absl::StatusOr<fs::path> dir = observer.DirectoryOf("j1");
  ASSERT_TRUE(dir.ok()) << dir.status();
  EXPECT_EQ(*dir, root / "j1");

  // After a restart, j1's results (grown to its estimate, as a sparse file)
  // count from the disk, and j2 has not resumed yet: one more is too many.
  std::ofstream(root / "j1" / "big.nc").close();
  fs::resize_file(root / "j1" / "big.nc", need);
  ResultsObserver restarted(root, quota);
  EXPECT_EQ(restarted.OnSubmit("j4", Spec("alice")).code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(restarted.OnSubmit("j4", Spec("bob")).ok());
  fs::remove_all(root);
}

}  // namespace
}  // namespace replex::coordinator
