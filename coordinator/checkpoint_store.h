// Checkpoint files: one consistent cut of a job (every replica's portable
// state and the permutation, a replex.v1.Checkpoint) per file under a
// directory, written atomically so that a crash leaves either the whole new
// file or none. The journal records which files exist; this class only
// reads and writes them.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "replex/v1/worker.pb.h"

namespace replex::coordinator {

// Thread-safe (it holds nothing but the directory's name).
class CheckpointStore {
 public:
  // `dir` is created on the first Write.
  explicit CheckpointStore(std::string dir) : dir_(std::move(dir)) {}

  const std::string& dir() const { return dir_; }

  // Writes DIR/<job_id>/round-<round>.ckpt: a temporary file, fsync, rename,
  // fsync of the directory. Returns the path.
  absl::StatusOr<std::string> Write(const v1::Checkpoint& checkpoint) const;
  // DATA_LOSS when the file is missing or does not parse.
  static absl::StatusOr<v1::Checkpoint> Read(const std::string& path);
  static void Remove(const std::string& path);

 private:
  const std::string dir_;
};

}  // namespace replex::coordinator
