#include "coordinator/checkpoint_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace replex::coordinator {
namespace {

absl::Status Errno(const std::string& what, const std::string& path) {
  return absl::InternalError(
      absl::StrCat("cannot ", what, " ", path, ": ", std::strerror(errno)));
}

// Writes and fsyncs a whole file.
absl::Status WriteSynced(const std::string& path, const std::string& bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return Errno("create", path);
  size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n =
        ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const absl::Status status = Errno("write", path);
      ::close(fd);
      return status;
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    const absl::Status status = Errno("fsync", path);
    ::close(fd);
    return status;
  }
  if (::close(fd) != 0) return Errno("close", path);
  return absl::OkStatus();
}

// Makes a rename in `dir` durable.
absl::Status SyncDirectory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return Errno("open", dir);
  const int result = ::fsync(fd);
  ::close(fd);
  return result == 0 ? absl::OkStatus() : Errno("fsync", dir);
}

}  // namespace

absl::StatusOr<std::string> CheckpointStore::Write(
    const v1::Checkpoint& checkpoint) const {
  const std::filesystem::path dir =
      std::filesystem::path(dir_) / checkpoint.job_id();
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) {
    return absl::InternalError(
        absl::StrCat("cannot create checkpoint directory ", dir.string(), ": ",
                     error.message(), " (--checkpoint_dir)"));
  }
  const std::string path =
      (dir / absl::StrFormat("round-%012d.ckpt", checkpoint.round())).string();
  const std::string temporary = path + ".tmp";
  if (absl::Status status =
          WriteSynced(temporary, checkpoint.SerializeAsString());
      !status.ok()) {
    return status;
  }
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    return Errno("rename into place", path);
  }
  if (absl::Status status = SyncDirectory(dir.string()); !status.ok()) {
    return status;
  }
  return path;
}

absl::StatusOr<v1::Checkpoint> CheckpointStore::Read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  v1::Checkpoint checkpoint;
  if (!in || !checkpoint.ParseFromString(bytes.str())) {
    return absl::DataLossError(
        absl::StrCat("checkpoint ", path, " is missing or unreadable"));
  }
  return checkpoint;
}

void CheckpointStore::Remove(const std::string& path) {
  std::error_code ignored;  // already gone is fine
  std::filesystem::remove(path, ignored);
}

}  // namespace replex::coordinator
