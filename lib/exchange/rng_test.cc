#include "lib/exchange/rng.h"

#include <cstdint>
#include <vector>

#include "gtest/gtest.h"
#include "lib/exchange/test_util.h"

namespace replex::exchange {
namespace {

using test_util::ChiSquareFits;

// Journals replay a job's decisions from (seed, round), so the streams must
// never change. These values come from an independent Python transcription of
// the reference SplitMix64 and xoshiro256** (prng.di.unimi.it), itself checked
// against the published outputs (SplitMix64 from 0 starts 0xe220a8397b1dcdaf;
// xoshiro256** from state {1, 2, 3, 4} gives 11520, 0, 1509978240, ...).
TEST(RngTest, MatchesTheReferenceAlgorithms) {
  EXPECT_EQ(DeriveSeed(0, 0, 0), 0x238275bc38fcbe91ULL);
  EXPECT_EQ(DeriveSeed(42, 7, 3), 0xf55e4254d4655539ULL);
  Rng a(42, 7);
  EXPECT_EQ(a.Next(), 0x3211aba3eb518116ULL);
  EXPECT_EQ(a.Next(), 0x746dc6c300431187ULL);
  EXPECT_EQ(a.Next(), 0x42f23897fbb7ee08ULL);
  Rng b(42, 7, /*stream=*/1);
  EXPECT_EQ(b.Next(), 0x099a46b3a7546609ULL);
  EXPECT_EQ(b.Next(), 0x35860ca741f843e3ULL);
  Rng c(2024, 5);
  const std::vector<uint64_t> below = {6, 6, 6, 5, 3, 5, 4, 0, 8, 4, 5, 8};
  for (uint64_t expected : below) EXPECT_EQ(c.Below(10), expected);
  Rng d(2024, 5);
  EXPECT_DOUBLE_EQ(d.Uniform(), 0.6269795531596919);
  EXPECT_DOUBLE_EQ(d.Uniform(), 0.6885273665172886);
}

std::vector<uint64_t> Draw(Rng rng, int count) {
  std::vector<uint64_t> values;
  for (int i = 0; i < count; ++i) values.push_back(rng.Next());
  return values;
}

TEST(RngTest, StreamIsAPureFunctionOfSeedRoundAndStream) {
  const std::vector<uint64_t> reference = Draw(Rng(7, 100, 2), 64);
  EXPECT_EQ(Draw(Rng(7, 100, 2), 64), reference);
  // Constructing other generators in between changes nothing.
  Rng other(7, 101);
  other.Next();
  EXPECT_EQ(Draw(Rng(7, 100, 2), 64), reference);
  EXPECT_NE(Draw(Rng(7, 101, 2), 64), reference);
  EXPECT_NE(Draw(Rng(8, 100, 2), 64), reference);
  EXPECT_NE(Draw(Rng(7, 100, 3), 64), reference);
}

TEST(RngTest, NeighbouringRoundsStartFarApart) {
  // Adjacent rounds must not give shifted or nearly equal streams: their
  // first outputs should differ in about half of the 64 bits.
  int64_t differing_bits = 0;
  constexpr int kRounds = 1000;
  for (int round = 0; round < kRounds; ++round) {
    differing_bits +=
        __builtin_popcountll(Rng(1, round).Next() ^ Rng(1, round + 1).Next());
  }
  EXPECT_TRUE(
      test_util::BinomialFits(differing_bits, int64_t{64} * kRounds, 0.5));
}

TEST(RngTest, UniformIsInTheUnitIntervalAndUniform) {
  constexpr int kBins = 20, kDraws = 200000;
  std::vector<int64_t> counts(kBins, 0);
  Rng rng(11, 0);
  for (int i = 0; i < kDraws; ++i) {
    const double u = rng.Uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    ++counts[static_cast<int>(u * kBins)];
  }
  EXPECT_TRUE(ChiSquareFits(counts, std::vector<double>(kBins, 1.0 / kBins)));
}

TEST(RngTest, BelowOneIsAlwaysZero) {
  Rng rng(3, 3);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(rng.Below(1), 0u);
}

class BelowUniformityTest : public ::testing::TestWithParam<uint64_t> {};

TEST_P(BelowUniformityTest, EveryValueIsEquallyLikely) {
  const uint64_t n = GetParam();
  constexpr int kDrawsPerValue = 2000;
  std::vector<int64_t> counts(n, 0);
  Rng rng(12345, n);
  for (uint64_t i = 0; i < n * kDrawsPerValue; ++i) {
    const uint64_t x = rng.Below(n);
    ASSERT_LT(x, n);
    ++counts[x];
  }
  EXPECT_TRUE(ChiSquareFits(counts, std::vector<double>(n, 1.0 / n)));
}

INSTANTIATE_TEST_SUITE_P(SmallRanges, BelowUniformityTest,
                         ::testing::Values(2, 3, 7, 10, 64, 1000));

TEST(RngTest, BelowIsUnbiasedForAHugeRange) {
  // n = 2^63 + 2^62: a plain Next() % n would put 2/3 of the draws in the
  // lower half of the range; uniform draws put 1/2.
  const uint64_t n = (uint64_t{1} << 63) + (uint64_t{1} << 62);
  constexpr int kDraws = 100000;
  int64_t lower_half = 0;
  Rng rng(5, 5);
  for (int i = 0; i < kDraws; ++i) {
    const uint64_t x = rng.Below(n);
    ASSERT_LT(x, n);
    lower_half += x < n / 2;
  }
  EXPECT_TRUE(test_util::BinomialFits(lower_half, kDraws, 0.5));
}

}  // namespace
}  // namespace replex::exchange
