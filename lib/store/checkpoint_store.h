// Where a job's checkpoints live: one consistent cut of a job (every
// replica's portable state and the permutation, a replex.v1.Checkpoint) per
// entry, written atomically so that a crash leaves either the whole new
// checkpoint or none. The journal records which exist (by the location Write
// returns); a store only reads and writes them.
//
// Two implementations: FileCheckpointStore (a directory; production) and
// InMemoryCheckpointStore (tests).
#pragma once

#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "replex/v1/worker.pb.h"

namespace replex::store {

// Implementations are thread-safe.
class CheckpointStore {
 public:
  virtual ~CheckpointStore() = default;
  // Stores the checkpoint durably; returns its location for Read and Remove.
  virtual absl::StatusOr<std::string> Write(
      const v1::Checkpoint& checkpoint) = 0;
  // DATA_LOSS when it is missing or does not parse.
  virtual absl::StatusOr<v1::Checkpoint> Read(const std::string& location) = 0;
  // Gone already is fine.
  virtual void Remove(const std::string& location) = 0;
};

// DIR/<job_id>/round-<round>.ckpt/ directories: index.pb (the Checkpoint
// without its states) and replica-<r>.state (replica r's state bytes), so
// no file, and no protobuf message, holds every replica's state at once (a
// message cannot pass 2 GiB; 1,024 replicas of 50,000 atoms already do).
// Written as round-<round>.ckpt.tmp/, each file fsynced, then renamed into
// place. A round-<round>.ckpt file (one serialized Checkpoint, as earlier
// versions wrote) is still read.
class FileCheckpointStore final : public CheckpointStore {
 public:
  // `dir` is created on the first Write.
  explicit FileCheckpointStore(std::string dir) : dir_(std::move(dir)) {}

  const std::string& dir() const { return dir_; }

  // Returns the directory's path.
  absl::StatusOr<std::string> Write(const v1::Checkpoint& checkpoint) override;
  absl::StatusOr<v1::Checkpoint> Read(const std::string& path) override;
  void Remove(const std::string& path) override;

 private:
  const std::string dir_;
};

// Checkpoints as serialized bytes in a map, so a test can also corrupt one.
class InMemoryCheckpointStore final : public CheckpointStore {
 public:
  absl::StatusOr<std::string> Write(const v1::Checkpoint& checkpoint) override;
  absl::StatusOr<v1::Checkpoint> Read(const std::string& location) override;
  void Remove(const std::string& location) override;

  // Replaces the stored bytes, as a torn or corrupted file would.
  void Corrupt(const std::string& location, std::string bytes);
  int size();

 private:
  absl::Mutex mu_;
  std::map<std::string, std::string> entries_ ABSL_GUARDED_BY(mu_);
};

}  // namespace replex::store
