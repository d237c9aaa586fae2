// The checkpoint stores: files for production, a map for tests.
#include "lib/store/checkpoint_store.h"

#include <filesystem>
#include <fstream>
#include <iterator>
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

constexpr char kIndexFile[] = "index.pb";

std::string StateFile(int replica) {
  return absl::StrFormat("replica-%06d.state", replica);
}

// A whole file; NOT_FOUND when it cannot be read.
absl::StatusOr<std::string> ReadBytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::string bytes{std::istreambuf_iterator<char>(in),
                    std::istreambuf_iterator<char>()};
  if (!in.is_open() || in.bad()) {
    return absl::NotFoundError(absl::StrCat("cannot read ", path.string()));
  }
  return bytes;
}

}  // namespace

absl::StatusOr<std::string> FileCheckpointStore::Write(
    const v1::Checkpoint& checkpoint) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(dir_) / checkpoint.job_id();
  const fs::path path = dir / Name(checkpoint);
  const fs::path staging = path.string() + files::kTemporarySuffix;
  std::error_code error;
  fs::remove_all(staging, error);  // left by a crash
  fs::create_directories(staging, error);
  if (error) {
    return absl::InternalError(
        absl::StrCat("cannot create checkpoint directory ", staging.string(),
                     ": ", error.message(), " (--checkpoint_dir)"));
  }
  v1::Checkpoint index;
  index.set_job_id(checkpoint.job_id());
  index.set_round(checkpoint.round());
  *index.mutable_rung_of_replica() = checkpoint.rung_of_replica();
  *index.mutable_state_rung() = checkpoint.state_rung();
  *index.mutable_segments_by_replica() = checkpoint.segments_by_replica();
  *index.mutable_segments_by_rung() = checkpoint.segments_by_rung();
  absl::Status status = files::WriteFileAtomically(
      staging / kIndexFile, index.SerializeAsString(), files::Sync::kDurable);
  for (int r = 0; status.ok() && r < checkpoint.states_size(); ++r) {
    status = files::WriteFileAtomically(
        staging / StateFile(r), checkpoint.states(r), files::Sync::kDurable);
  }
  if (status.ok()) {
    fs::remove_all(path, error);  // the same round written again
    fs::rename(staging, path, error);
    status = error ? absl::InternalError(absl::StrCat(
                         "cannot rename ", staging.string(), " to ",
                         path.string(), ": ", error.message()))
                   : files::SyncDirectory(dir.string());
  }
  if (!status.ok()) {
    fs::remove_all(staging, error);
    return status;
  }
  return path.string();
}

absl::StatusOr<v1::Checkpoint> FileCheckpointStore::Read(
    const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code error;
  if (!fs::is_directory(path, error)) {  // one serialized Checkpoint
    absl::StatusOr<std::string> bytes = ReadBytes(path);
    v1::Checkpoint checkpoint;
    if (!bytes.ok() || !checkpoint.ParseFromString(*bytes)) {
      return Unreadable(path);
    }
    return checkpoint;
  }
  absl::StatusOr<std::string> index = ReadBytes(fs::path(path) / kIndexFile);
  v1::Checkpoint checkpoint;
  if (!index.ok() || !checkpoint.ParseFromString(*index) ||
      checkpoint.states_size() != 0) {
    return Unreadable(path);
  }
  for (int r = 0; r < checkpoint.rung_of_replica_size(); ++r) {
    absl::StatusOr<std::string> state =
        ReadBytes(fs::path(path) / StateFile(r));
    if (!state.ok()) {
      return absl::DataLossError(absl::StrCat("checkpoint ", path, ": replica ",
                                              r,
                                              "'s state is missing or "
                                              "unreadable"));
    }
    checkpoint.add_states(*std::move(state));
  }
  return checkpoint;
}

void FileCheckpointStore::Remove(const std::string& path) {
  std::error_code ignored;  // already gone is fine
  std::filesystem::remove_all(path, ignored);
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
