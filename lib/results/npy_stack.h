// A growing stack of n x n float64 matrices in NumPy's .npy format: shape
// (count, n, n), little-endian '<f8', C order, so that Python reads it with
// numpy.load (memory-mapped with mmap_mode="r") and no replex code. Used for
// u_kln above kMaxMatrixRungs rungs, where a TSV row of n values a state
// would be both slow to write and read and three times the size.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace replex::results {

// Not thread-safe: one writer per file.
class NpyStackWriter {
 public:
  // Opens `path` for matrices from index `keep` on: a file there (of the same
  // n) keeps its first `keep` matrices and loses the rest; one with fewer is
  // padded with NaN matrices, so that index i stays round i. Creates the
  // file when there is none; FAILED_PRECONDITION naming the file when it is
  // not such a stack of this n.
  static absl::StatusOr<std::unique_ptr<NpyStackWriter>> Open(
      const std::filesystem::path& path, int n, int64_t keep);
  ~NpyStackWriter();

  // Appends one matrix (n * n values, row-major). The data is written before
  // the header's count, so a reader never counts a matrix not yet there.
  absl::Status Append(const std::vector<double>& matrix);

 private:
  NpyStackWriter() = default;
  absl::Status WriteHeader();

  std::filesystem::path path_;
  int fd_ = -1;
  int n_ = 0;
  int64_t count_ = 0;
  size_t matrix_bytes_ = 0;  // n * n * 8
};

// Calls on_matrix(index, n * n values) for each matrix of the stack at
// `path`, in order. NOT_FOUND when there is no file; DATA_LOSS naming the
// file when it is not an .npy stack of n x n float64 matrices.
absl::Status ReadNpyStack(
    const std::filesystem::path& path, int n,
    absl::FunctionRef<void(int64_t, const std::vector<double>&)> on_matrix);

}  // namespace replex::results
