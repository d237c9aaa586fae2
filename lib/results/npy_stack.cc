#include "lib/results/npy_stack.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace replex::results {
namespace {

// NumPy's format 1.0: magic, version, a 2-byte header length, then a Python
// dict literal padded with spaces and ended by '\n'. The whole header is a
// fixed kHeaderBytes (a multiple of 64, as NumPy aligns), so that the count
// can grow in place.
constexpr char kMagic[] = "\x93NUMPY\x01\x00";
constexpr size_t kMagicBytes = 8;
constexpr size_t kHeaderBytes = 128;

std::string Header(int64_t count, int n) {
  std::string dict =
      absl::StrCat("{'descr': '<f8', 'fortran_order': False, 'shape': (", count,
                   ", ", n, ", ", n, "), }");
  const size_t text = kHeaderBytes - kMagicBytes - 2;
  dict.resize(text - 1, ' ');
  dict += '\n';
  const uint16_t length = static_cast<uint16_t>(text);
  std::string header(kMagic, kMagicBytes);
  header += static_cast<char>(length & 0xff);
  header += static_cast<char>(length >> 8);
  return header + dict;
}

// The count in a header this file's Header wrote; -1 when it is not one of
// n x n float64 matrices.
int64_t CountIn(const std::string& header, int n) {
  if (header.size() != kHeaderBytes ||
      header.compare(0, kMagicBytes, kMagic, kMagicBytes) != 0) {
    return -1;
  }
  const std::string prefix =
      "{'descr': '<f8', 'fortran_order': False, 'shape': (";
  const std::string dict = header.substr(kMagicBytes + 2);
  if (dict.compare(0, prefix.size(), prefix) != 0) return -1;
  const size_t end = dict.find(')', prefix.size());
  if (end == std::string::npos) return -1;
  const std::string shape = dict.substr(prefix.size(), end - prefix.size());
  const size_t comma = shape.find(',');
  int64_t count = -1;
  if (comma == std::string::npos ||
      !absl::SimpleAtoi(shape.substr(0, comma), &count) ||
      shape.substr(comma) != absl::StrCat(", ", n, ", ", n) || count < 0) {
    return -1;
  }
  return count;
}

void Encode(double x, char* out) {
  uint64_t bits;
  std::memcpy(&bits, &x, 8);
  for (int b = 0; b < 8; ++b) out[b] = static_cast<char>(bits >> (8 * b));
}

double Decode(const char* in) {
  uint64_t bits = 0;
  for (int b = 0; b < 8; ++b) {
    bits |= uint64_t{static_cast<unsigned char>(in[b])} << (8 * b);
  }
  double x;
  std::memcpy(&x, &bits, 8);
  return x;
}

absl::Status ErrnoError(const std::filesystem::path& path, const char* what) {
  return absl::InternalError(absl::StrCat("cannot ", what, " ", path.string(),
                                          ": ", std::strerror(errno)));
}

bool WriteAll(int fd, const char* data, size_t size, off_t offset) {
  while (size > 0) {
    const ssize_t n = pwrite(fd, data, size, offset);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
    offset += n;
  }
  return true;
}

}  // namespace

absl::StatusOr<std::unique_ptr<NpyStackWriter>> NpyStackWriter::Open(
    const std::filesystem::path& path, int n, int64_t keep) {
  auto writer = std::unique_ptr<NpyStackWriter>(new NpyStackWriter);
  writer->path_ = path;
  writer->n_ = n;
  writer->matrix_bytes_ = static_cast<size_t>(n) * n * 8;
  writer->fd_ = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (writer->fd_ < 0) return ErrnoError(path, "open");
  std::string header(kHeaderBytes, '\0');
  const ssize_t read = pread(writer->fd_, header.data(), kHeaderBytes, 0);
  if (read < 0) return ErrnoError(path, "read");
  const size_t matrix = writer->matrix_bytes_;
  int64_t count = 0;
  if (read > 0) {
    count = CountIn(header, n);
    if (count < 0) {
      return absl::FailedPreconditionError(
          absl::StrCat(path.string(), " is not a stack of ", n, " x ", n,
                       " float64 matrices as replex writes them; move it "
                       "away to start the file again"));
    }
    // Matrices past the header's count (a write cut short) do not count,
    // nor does a count the data never reached (a crash can leave the header
    // on disk without it): truncating up to it would read back as zeros.
    struct stat st;
    if (fstat(writer->fd_, &st) != 0) return ErrnoError(path, "stat");
    const int64_t on_disk = (static_cast<int64_t>(st.st_size) -
                             static_cast<int64_t>(kHeaderBytes)) /
                            static_cast<int64_t>(matrix);
    count = std::min({count, std::max<int64_t>(on_disk, 0), keep});
  }
  if (ftruncate(writer->fd_,
                static_cast<off_t>(kHeaderBytes + count * matrix)) != 0) {
    return ErrnoError(path, "truncate");
  }
  writer->count_ = count;
  if (absl::Status s = writer->WriteHeader(); !s.ok()) return s;
  const std::vector<double> unknown(static_cast<size_t>(n) * n, std::nan(""));
  while (writer->count_ < keep) {
    if (absl::Status s = writer->Append(unknown); !s.ok()) return s;
  }
  return writer;
}

NpyStackWriter::~NpyStackWriter() {
  if (fd_ >= 0) close(fd_);
}

absl::Status NpyStackWriter::WriteHeader() {
  const std::string header = Header(count_, n_);
  if (!WriteAll(fd_, header.data(), header.size(), 0)) {
    return ErrnoError(path_, "write");
  }
  return absl::OkStatus();
}

absl::Status NpyStackWriter::Append(const std::vector<double>& matrix) {
  if (matrix.size() * 8 != matrix_bytes_) {
    return absl::InvalidArgumentError(
        absl::StrCat(path_.string(), ": a matrix of ", matrix.size(),
                     " values, not ", n_, " x ", n_));
  }
  // The file's "<f8" is this host's own layout on little-endian hosts, which
  // write the values as they are: at 1,024 rungs, encoding a copy of the
  // 8 MiB a round took about a third of the coordinator's CPU
  // (docs/benchmarks.md).
  const char* data = reinterpret_cast<const char*>(matrix.data());
  std::vector<char> encoded;
  if constexpr (__BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__) {
    encoded.resize(matrix_bytes_);
    for (size_t i = 0; i < matrix.size(); ++i) {
      Encode(matrix[i], &encoded[8 * i]);
    }
    data = encoded.data();
  }
  const off_t at = static_cast<off_t>(kHeaderBytes + count_ * matrix_bytes_);
  if (!WriteAll(fd_, data, matrix_bytes_, at)) {
    return ErrnoError(path_, "write");
  }
  ++count_;
  return WriteHeader();
}

absl::Status ReadNpyStack(
    const std::filesystem::path& path, int n,
    absl::FunctionRef<void(int64_t, const std::vector<double>&)> on_matrix) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("no ", path.string()));
  std::string header(kHeaderBytes, '\0');
  in.read(header.data(), kHeaderBytes);
  const int64_t count = in ? CountIn(header, n) : -1;
  if (count < 0) {
    return absl::DataLossError(absl::StrCat(path.string(),
                                            " is not a stack of ", n, " x ", n,
                                            " float64 matrices"));
  }
  std::vector<char> bytes(static_cast<size_t>(n) * n * 8);
  std::vector<double> matrix(static_cast<size_t>(n) * n);
  for (int64_t i = 0; i < count; ++i) {
    if (!in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()))) {
      return absl::DataLossError(
          absl::StrCat(path.string(), " ends in matrix ", i, " of ", count));
    }
    for (size_t j = 0; j < matrix.size(); ++j)
      matrix[j] = Decode(&bytes[8 * j]);
    on_matrix(i, matrix);
  }
  return absl::OkStatus();
}

}  // namespace replex::results
