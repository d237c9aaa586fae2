// The checkpoint stores: files for production, a map for tests.
#include "lib/store/checkpoint_store.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "lib/files/atomic_file.h"

namespace replex::store {
namespace {

absl::Status Unreadable(const std::string& location) {
  return absl::DataLossError(
      absl::StrCat("checkpoint ", location, " is missing or unreadable"));
}

std::string Name(const v1::Checkpoint& checkpoint) {
  return absl::StrFormat("round-%012d.ckpt", checkpoint.round());
}

}  // namespace

absl::StatusOr<std::string> FileCheckpointStore::Write(
    const v1::Checkpoint& checkpoint) {
  const std::filesystem::path dir =
      std::filesystem::path(dir_) / checkpoint.job_id();
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) {
    return absl::InternalError(
        absl::StrCat("cannot create checkpoint directory ", dir.string(), ": ",
                     error.message(), " (--checkpoint_dir)"));
  }
  const std::filesystem::path path = dir / Name(checkpoint);
  if (absl::Status status = files::WriteFileAtomically(
          path, checkpoint.SerializeAsString(), files::Sync::kDurable);
      !status.ok()) {
    return status;
  }
  return path.string();
}

absl::StatusOr<v1::Checkpoint> FileCheckpointStore::Read(
    const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  v1::Checkpoint checkpoint;
  if (!in || !checkpoint.ParseFromString(bytes.str())) return Unreadable(path);
  return checkpoint;
}

void FileCheckpointStore::Remove(const std::string& path) {
  std::error_code ignored;  // already gone is fine
  std::filesystem::remove(path, ignored);
}

absl::StatusOr<std::string> InMemoryCheckpointStore::Write(
    const v1::Checkpoint& checkpoint) {
  const std::string location =
      absl::StrCat(checkpoint.job_id(), "/", Name(checkpoint));
  absl::MutexLock lock(&mu_);
  entries_[location] = checkpoint.SerializeAsString();
  return location;
}

absl::StatusOr<v1::Checkpoint> InMemoryCheckpointStore::Read(
    const std::string& location) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(location);
  v1::Checkpoint checkpoint;
  if (it == entries_.end() || !checkpoint.ParseFromString(it->second)) {
    return Unreadable(location);
  }
  return checkpoint;
}

void InMemoryCheckpointStore::Remove(const std::string& location) {
  absl::MutexLock lock(&mu_);
  entries_.erase(location);
}

void InMemoryCheckpointStore::Corrupt(const std::string& location,
                                      std::string bytes) {
  absl::MutexLock lock(&mu_);
  entries_[location] = std::move(bytes);
}

int InMemoryCheckpointStore::size() {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(entries_.size());
}

}  // namespace replex::store
