#include "lib/files/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"

namespace replex::files {
namespace {

absl::Status Errno(absl::string_view what, const std::string& path) {
  return absl::InternalError(
      absl::StrCat("cannot ", what, " ", path, ": ", std::strerror(errno)));
}

absl::Status WriteAll(int fd, absl::string_view bytes,
                      const std::string& path) {
  size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n =
        ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Errno("write", path);
    written += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

// Opens `path` with `flags` and fsyncs it.
absl::Status Fsync(const std::string& path, int flags) {
  const int fd = ::open(path.c_str(), flags);
  if (fd < 0) return Errno("open", path);
  const int result = ::fsync(fd);
  ::close(fd);
  return result == 0 ? absl::OkStatus() : Errno("fsync", path);
}

}  // namespace

absl::Status SyncDirectory(const std::string& dir) {
  return Fsync(dir, O_RDONLY | O_DIRECTORY);
}

absl::Status SyncFile(const std::string& path) { return Fsync(path, O_RDONLY); }

absl::Status WriteFileAtomically(const std::filesystem::path& path,
                                 absl::string_view contents, Sync sync) {
  const std::string target = path.string();
  const std::string temporary = target + kTemporarySuffix;
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return Errno("create", temporary);
  absl::Status status = WriteAll(fd, contents, temporary);
  if (status.ok() && sync == Sync::kDurable && ::fsync(fd) != 0) {
    status = Errno("fsync", temporary);
  }
  if (::close(fd) != 0 && status.ok()) status = Errno("close", temporary);
  if (status.ok() && ::rename(temporary.c_str(), target.c_str()) != 0) {
    status = Errno("rename into place", target);
  }
  if (!status.ok()) {
    ::unlink(temporary.c_str());
    return status;
  }
  if (sync == Sync::kDurable) {
    const std::filesystem::path dir = path.parent_path();
    return SyncDirectory(dir.empty() ? "." : dir.string());
  }
  return absl::OkStatus();
}

}  // namespace replex::files
