#include "lib/results/npy_stack.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "lib/results/free_energies.h"

namespace replex::results {
namespace {

namespace fs = std::filesystem;

fs::path TempPath(const std::string& name) {
  const fs::path path = fs::path(::testing::TempDir()) / name;
  fs::remove(path);
  return path;
}

uint64_t Bits(double x) {
  uint64_t bits;
  std::memcpy(&bits, &x, 8);
  return bits;
}

std::vector<std::vector<double>> ReadAll(const fs::path& path, int n) {
  std::vector<std::vector<double>> matrices;
  const absl::Status read =
      ReadNpyStack(path, n, [&](int64_t i, const std::vector<double>& m) {
        EXPECT_EQ(i, static_cast<int64_t>(matrices.size()));
        matrices.push_back(m);
      });
  EXPECT_TRUE(read.ok()) << read;
  return matrices;
}

TEST(NpyStackTest, MatricesReadBackBitExactUnderNumPysHeader) {
  const fs::path path = TempPath("bits.npy");
  constexpr double kInf = std::numeric_limits<double>::infinity();
  const std::vector<std::vector<double>> written = {
      {-0.0, 5e-324, 1.0 / 3, -2.0 / 7},
      {1e300, -kInf, kInf, std::nan("")},
      {-1234.5678901234567, 0, 42, 1e-300}};
  {
    auto writer = NpyStackWriter::Open(path, 2, 0);
    ASSERT_TRUE(writer.ok()) << writer.status();
    for (const auto& m : written) ASSERT_TRUE((*writer)->Append(m).ok());
  }
  // NumPy's format 1.0 header, 128 bytes in all, then 3 x 2 x 2 doubles.
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)),
                    std::istreambuf_iterator<char>());
  ASSERT_EQ(bytes.size(), 128u + 3 * 4 * 8);
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  const std::string dict =
      "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2, 2), }";
  EXPECT_EQ(bytes.substr(10, dict.size()), dict);
  EXPECT_EQ(bytes[127], '\n');
  const std::vector<std::vector<double>> read = ReadAll(path, 2);
  ASSERT_EQ(read.size(), written.size());
  for (size_t i = 0; i < read.size(); ++i) {
    for (size_t j = 0; j < 4; ++j) {
      EXPECT_EQ(Bits(read[i][j]), Bits(written[i][j])) << i << "," << j;
    }
  }
}

// A job resumed or rolled back to round r reopens its file keeping r
// matrices: later ones go, and missing ones come back as NaN, so that
// index i is always round i.
TEST(NpyStackTest, ReopeningKeepsTheRoundsBeforeTheResumeAndPadsGaps) {
  const fs::path path = TempPath("resume.npy");
  {
    auto writer = NpyStackWriter::Open(path, 1, 0);
    ASSERT_TRUE(writer.ok());
    for (double x : {0.0, 1.0, 2.0, 3.0, 4.0}) {
      ASSERT_TRUE((*writer)->Append({x}).ok());
    }
  }
  {
    auto writer = NpyStackWriter::Open(path, 1, 3);  // rounds 3, 4 go
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->Append({30.0}).ok());
  }
  std::vector<std::vector<double>> read = ReadAll(path, 1);
  ASSERT_EQ(read.size(), 4u);
  EXPECT_EQ(read[2][0], 2.0);
  EXPECT_EQ(read[3][0], 30.0);
  {
    auto writer = NpyStackWriter::Open(path, 1, 6);  // rounds 4, 5 missing
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->Append({60.0}).ok());
  }
  read = ReadAll(path, 1);
  ASSERT_EQ(read.size(), 7u);
  EXPECT_EQ(read[3][0], 30.0);
  EXPECT_TRUE(std::isnan(read[4][0]));
  EXPECT_TRUE(std::isnan(read[5][0]));
  EXPECT_EQ(read[6][0], 60.0);
  EXPECT_EQ(fs::file_size(path), 128u + 7 * 8);
}

// A crash can leave the header's count on disk without the data it counts:
// reopening keeps only the matrices really there (and pads with NaN, never
// with the zeros a truncation up to the count would read back as).
TEST(NpyStackTest, AHeaderCountingMoreThanTheFileHoldsIsNotBelieved) {
  const fs::path path = TempPath("torn.npy");
  {
    auto writer = NpyStackWriter::Open(path, 1, 0);
    ASSERT_TRUE(writer.ok());
    for (double x : {1.0, 2.0, 3.0}) ASSERT_TRUE((*writer)->Append({x}).ok());
  }
  fs::resize_file(path, 128 + 8);  // the header says 3; one is there
  {
    auto writer = NpyStackWriter::Open(path, 1, 3);
    ASSERT_TRUE(writer.ok()) << writer.status();
  }
  const std::vector<std::vector<double>> read = ReadAll(path, 1);
  ASSERT_EQ(read.size(), 3u);
  EXPECT_EQ(read[0][0], 1.0);
  EXPECT_TRUE(std::isnan(read[1][0]));
  EXPECT_TRUE(std::isnan(read[2][0]));
}

TEST(NpyStackTest, AFileOfAnotherShapeOrKindIsRefusedAndLeftAlone) {
  const fs::path path = TempPath("other.npy");
  {
    auto writer = NpyStackWriter::Open(path, 2, 0);
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->Append({1, 2, 3, 4}).ok());
  }
  auto three = NpyStackWriter::Open(path, 3, 0);
  EXPECT_EQ(three.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(three.status().message().find("other.npy"), std::string::npos);
  EXPECT_EQ(
      ReadNpyStack(path, 3, [](int64_t, const std::vector<double>&) {}).code(),
      absl::StatusCode::kDataLoss);
  EXPECT_EQ(ReadAll(path, 2).size(), 1u);  // untouched

  const fs::path text = TempPath("text.npy");
  std::ofstream(text) << "round\tstate\tu_0\n";
  EXPECT_EQ(NpyStackWriter::Open(text, 1, 0).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(fs::file_size(text), 16u);
  EXPECT_EQ(ReadNpyStack(TempPath("none.npy"), 1,
                         [](int64_t, const std::vector<double>&) {})
                .code(),
            absl::StatusCode::kNotFound);
}

// MBAR reads either layout: the same reduced potentials as u_kln.tsv (at
// full precision) and as u_kln.npy give the same free energies. Three
// harmonic rungs, 300 rounds of independent samples from a fixed seed.
TEST(NpyStackTest, FreeEnergiesFromTheNpyEqualThoseFromTheTsv) {
  constexpr int kRungs = 3, kRounds = 300;
  const double spring[kRungs] = {1.0, 2.0, 4.0};  // u_l(x) = spring_l x^2 / 2
  const fs::path npy = TempPath("u_kln.npy");
  const fs::path tsv = TempPath("u_kln.tsv");
  std::ofstream out(tsv);
  out << "round\tstate\tu_0\tu_1\tu_2\n";
  auto writer = NpyStackWriter::Open(npy, kRungs, 0);
  ASSERT_TRUE(writer.ok());
  std::mt19937_64 rng(11);
  for (int round = 0; round < kRounds; ++round) {
    std::vector<double> matrix;
    for (int k = 0; k < kRungs; ++k) {
      std::normal_distribution<double> x(0, 1 / std::sqrt(spring[k]));
      const double sample = x(rng);
      out << round << '\t' << k;
      for (int l = 0; l < kRungs; ++l) {
        matrix.push_back(spring[l] * sample * sample / 2);
        out << '\t' << absl::StrFormat("%.17g", matrix.back());
      }
      out << '\n';
    }
    ASSERT_TRUE((*writer)->Append(matrix).ok());
  }
  out.close();
  const v1::FreeEnergies from_tsv = FreeEnergiesFromUkln(tsv, kRungs, 0);
  const v1::FreeEnergies from_npy = FreeEnergiesFromUkln(npy, kRungs, 0);
  ASSERT_EQ(from_tsv.unavailable(), "");
  ASSERT_EQ(from_npy.unavailable(), "");
  EXPECT_EQ(from_npy.SerializeAsString(), from_tsv.SerializeAsString());
  // And they are free energies: f_l - f_0 = ln(spring_l / spring_0) / 2,
  // within 4 of MBAR's standard errors.
  ASSERT_EQ(from_npy.f_size(), kRungs);
  for (int l = 1; l < kRungs; ++l) {
    EXPECT_NEAR(from_npy.f(l), std::log(spring[l] / spring[0]) / 2,
                4 * from_npy.df(l));
  }
}

}  // namespace
}  // namespace replex::results
