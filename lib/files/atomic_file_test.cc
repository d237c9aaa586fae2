#include "lib/files/atomic_file.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "gtest/gtest.h"

namespace replex::files {
namespace {

namespace fs = std::filesystem;

class AtomicFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("replex_files_test_" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  static std::string Read(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

  fs::path dir_;
};

TEST_F(AtomicFileTest, WritesAndReplacesWholeContentsLeavingNoTemporary) {
  const fs::path path = dir_ / "a.json";
  for (Sync sync : {Sync::kNone, Sync::kDurable}) {
    ASSERT_TRUE(WriteFileAtomically(path, "first, longer contents", sync).ok());
    EXPECT_EQ(Read(path), "first, longer contents");
    ASSERT_TRUE(WriteFileAtomically(path, std::string("x\0y", 3), sync).ok());
    EXPECT_EQ(Read(path), std::string("x\0y", 3));
  }
  EXPECT_FALSE(fs::exists(dir_ / "a.json.tmp"));
  EXPECT_EQ(
      std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);
}

TEST_F(AtomicFileTest, AMissingDirectoryIsAnErrorNamingThePath) {
  const fs::path path = dir_ / "missing" / "a.json";
  const absl::Status status = WriteFileAtomically(path, "x");
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
  EXPECT_NE(status.message().find((dir_ / "missing").string()),
            std::string::npos)
      << status;
}

TEST_F(AtomicFileTest, AFailedRenameKeepsTheOldFileAndRemovesTheTemporary) {
  // A directory where the file should go: the rename fails.
  const fs::path path = dir_ / "taken";
  fs::create_directories(path / "inside");
  const absl::Status status = WriteFileAtomically(path, "x");
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal) << status;
  EXPECT_TRUE(fs::is_directory(path / "inside"));
  EXPECT_FALSE(fs::exists(dir_ / "taken.tmp"));
}

}  // namespace
}  // namespace replex::files
