#include "lib/analysis/mbar.h"

#include <cmath>
#include <vector>

#include "gtest/gtest.h"
#include "lib/exchange/rng.h"

namespace replex::analysis {
namespace {

// Harmonic oscillators in d dimensions at beta = 1 with spring constants
// kappa_k: sample r^2 from state k exactly (u_k = kappa_k r^2 / 2 is
// Gamma(d/2, 1), a sum of d/2 unit exponentials for even d) and evaluate it
// at every state. f_k - f_0 = (d / 2) ln(kappa_k / kappa_0).
struct Oscillators {
  std::vector<double> u_kn;
  std::vector<int64_t> counts;
};

Oscillators Sample(const std::vector<double>& kappa, int dims, int per_state,
                   uint64_t seed) {
  const int k_states = static_cast<int>(kappa.size());
  const int64_t samples = static_cast<int64_t>(k_states) * per_state;
  Oscillators o{std::vector<double>(samples * k_states),
                std::vector<int64_t>(k_states, per_state)};
  exchange::Rng rng(seed, 0);
  for (int k = 0; k < k_states; ++k) {
    for (int i = 0; i < per_state; ++i) {
      double own = 0;  // u_k of this sample
      for (int j = 0; j < dims / 2; ++j) own -= std::log(1 - rng.Uniform());
      const int64_t n = static_cast<int64_t>(k) * per_state + i;
      for (int l = 0; l < k_states; ++l) {
        o.u_kn[l * samples + n] = own * kappa[l] / kappa[k];
      }
    }
  }
  return o;
}

// Independent samples, so MBAR's asymptotic errors are honest: each
// estimate is within 4 of its standard errors of the exact value (a 6e-5
// chance each to fail for a Gaussian estimate; the seed is fixed).
TEST(MbarTest, HarmonicOscillatorFreeEnergiesAreExactWithinTheirErrors) {
  const std::vector<double> kappa = {4000, 5657, 8000, 11314, 16000};
  const int dims = 12;
  const Oscillators o = Sample(kappa, dims, 2000, 11);
  const absl::StatusOr<MbarResult> r = SolveMbar(o.u_kn, o.counts);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->f.size(), kappa.size());
  EXPECT_EQ(r->f[0], 0);
  for (size_t k = 1; k < kappa.size(); ++k) {
    const double exact = dims / 2.0 * std::log(kappa[k] / kappa[0]);
    const double error = r->Error(0, static_cast<int>(k));
    EXPECT_GT(error, 0.005) << k;  // ~sqrt(2 / 2000)-ish, not zero
    EXPECT_LT(error, 0.2) << k;
    EXPECT_NEAR(r->f[k], exact, 4 * error) << "state " << k;
  }
  // The overlap matrix is row-stochastic and symmetric for equal counts;
  // neighbours overlap more than states three apart.
  const int n = r->states;
  for (int i = 0; i < n; ++i) {
    double row = 0;
    for (int j = 0; j < n; ++j) {
      row += r->overlap[i * n + j];
      EXPECT_NEAR(r->overlap[i * n + j], r->overlap[j * n + i], 1e-12);
    }
    EXPECT_NEAR(row, 1, 1e-9) << i;
  }
  EXPECT_GT(r->overlap[0 * n + 1], r->overlap[0 * n + 3]);
  EXPECT_GT(r->overlap_gap, 0);
  EXPECT_LE(r->overlap_gap, 1);
  EXPECT_LT(r->iterations, 50);
}

// u_1 = u_0 + c for every sample: the states differ by a constant, so MBAR
// (like any estimator) returns f_1 - f_0 = c exactly, with no uncertainty,
// and the states overlap completely.
TEST(MbarTest, AConstantShiftIsRecoveredExactly) {
  const Oscillators o = Sample({1.0, 1.0}, 4, 500, 12);
  std::vector<double> u = o.u_kn;
  const int64_t samples = 1000;
  for (int64_t n = 0; n < samples; ++n) u[samples + n] = u[n] + 3.25;
  const absl::StatusOr<MbarResult> r = SolveMbar(u, o.counts);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_NEAR(r->f[1], 3.25, 1e-10);
  EXPECT_NEAR(r->Error(0, 1), 0, 1e-6);
  for (double x : r->overlap) EXPECT_NEAR(x, 0.5, 1e-12);
  EXPECT_NEAR(r->overlap_gap, 1, 1e-9);
}

// Adding a constant to all of a sample's reduced potentials changes nothing
// (it cancels in every weight), however large: solvated systems have
// u ~ 10^5 k_B T, whose rounding would otherwise keep the weights' sums from
// reaching 1 to 1e-12.
TEST(MbarTest, LargeReducedPotentialsGiveTheSameFreeEnergies) {
  const Oscillators o = Sample({4000, 5657, 8000}, 12, 200, 13);
  std::vector<double> shifted = o.u_kn;
  const int64_t samples = 600;
  for (int64_t n = 0; n < samples; ++n) {
    for (int k = 0; k < 3; ++k)
      shifted[k * samples + n] += 1e5 + 37.5 * (n % 7);
  }
  const absl::StatusOr<MbarResult> plain = SolveMbar(o.u_kn, o.counts);
  const absl::StatusOr<MbarResult> large = SolveMbar(shifted, o.counts);
  ASSERT_TRUE(plain.ok()) << plain.status();
  ASSERT_TRUE(large.ok()) << large.status();
  for (int k = 0; k < 3; ++k) {
    EXPECT_NEAR(large->f[k], plain->f[k], 1e-9) << k;
    EXPECT_NEAR(large->Error(0, k), plain->Error(0, k), 1e-9) << k;
  }
}

TEST(MbarTest, BadInputIsRefusedWithTheReason) {
  EXPECT_EQ(SolveMbar({}, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SolveMbar({1, 2, 3}, {1, 1}).status().code(),
            absl::StatusCode::kInvalidArgument);
  const absl::Status empty = SolveMbar({1, 2}, {2, 0}).status();
  EXPECT_NE(empty.message().find("state 1 has no samples"), std::string::npos)
      << empty;
  const absl::Status nan = SolveMbar({1, 2, std::nan(""), 4}, {1, 1}).status();
  EXPECT_NE(nan.message().find("sample 0 at state 1"), std::string::npos)
      << nan;
}

// Two states whose samples never visit each other's region: nothing ties
// their free energies together, which is an error, not a number.
TEST(MbarTest, StatesWithoutOverlapAreAnError) {
  const absl::StatusOr<MbarResult> r =
      SolveMbar({0, 0, 1e6, 1e6, 1e6, 1e6, 0, 0}, {2, 2});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("split into groups"), std::string::npos)
      << r.status();
}

}  // namespace
}  // namespace replex::analysis
