#include "lib/exchange/ladder_tuning.h"

#include <cmath>
#include <limits>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/exchange/test_util.h"

namespace replex::exchange {
namespace {

using test_util::TemperatureLadder;
using ::testing::HasSubstr;

std::vector<double> Temperatures(const std::vector<Rung>& rungs) {
  std::vector<double> temperatures;
  for (const Rung& rung : rungs) temperatures.push_back(rung.temperature_k);
  return temperatures;
}

TEST(ErfcInverseTest, InvertsErfc) {
  for (double x : {0.0, 1e-8, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0}) {
    const double p = std::erfc(x);
    EXPECT_NEAR(ErfcInverse(p), x, 1e-12 * std::max(1.0, x)) << x;
  }
  EXPECT_EQ(ErfcInverse(1), 0);
  EXPECT_EQ(ErfcInverse(2), 0);
  EXPECT_GT(ErfcInverse(0), 26);
}

// Acceptance as the model has it: erfc(delta beta * s / 2), s fixed.
std::vector<double> ModelAcceptance(const Ladder& ladder, double s) {
  std::vector<double> acceptance;
  for (int k = 0; k + 1 < ladder.size(); ++k) {
    acceptance.push_back(
        std::erfc((ladder.beta(k) - ladder.beta(k + 1)) * s / 2));
  }
  return acceptance;
}

TEST(EqualAcceptanceLadderTest, OneStepEqualisesWhereTheModelHolds) {
  // Badly spaced: three rungs crowded at the bottom.
  const Ladder bad = TemperatureLadder({300, 305, 310, 315, 600});
  constexpr double kS = 300;  // kJ/mol
  absl::StatusOr<TunedLadder> tuned =
      EqualAcceptanceLadder(bad, ModelAcceptance(bad, kS));
  ASSERT_TRUE(tuned.ok()) << tuned.status();
  const std::vector<double> temperatures = Temperatures(tuned->rungs);
  ASSERT_EQ(temperatures.size(), 5u);
  EXPECT_EQ(temperatures.front(), 300);
  EXPECT_EQ(temperatures.back(), 600);
  const Ladder good = TemperatureLadder(temperatures);
  const std::vector<double> after = ModelAcceptance(good, kS);
  for (double a : after) {
    EXPECT_NEAR(a, tuned->predicted_acceptance, 1e-12);
  }
  // Equal steps in beta between the same ends.
  const double step = (bad.beta(0) - bad.beta(4)) / 4;
  EXPECT_NEAR(tuned->predicted_acceptance, std::erfc(step * kS / 2), 1e-12);
}

TEST(EqualAcceptanceLadderTest, IteratingConvergesWhereTheModelIsApproximate) {
  // Constant heat capacity: the energy width grows with T, so acceptance
  // depends on ln(T_{k+1} / T_k) and the geometric ladder is the equal one.
  auto truth = [](const Ladder& ladder) {
    std::vector<double> acceptance;
    for (int k = 0; k + 1 < ladder.size(); ++k) {
      acceptance.push_back(
          std::erfc(3 * std::log(ladder.rung(k + 1).temperature_k /
                                 ladder.rung(k).temperature_k)));
    }
    return acceptance;
  };
  std::vector<double> temperatures = {300, 301, 302, 303, 304, 305, 600};
  for (int step = 0; step < 30; ++step) {
    const Ladder ladder = TemperatureLadder(temperatures);
    absl::StatusOr<TunedLadder> tuned =
        EqualAcceptanceLadder(ladder, truth(ladder));
    ASSERT_TRUE(tuned.ok()) << tuned.status();
    temperatures = Temperatures(tuned->rungs);
  }
  const std::vector<double> geometric = Ladder::Geometric(300, 600, 7);
  for (size_t k = 0; k < geometric.size(); ++k) {
    EXPECT_NEAR(temperatures[k], geometric[k], 1e-6 * geometric[k]) << k;
  }
}

TEST(EqualAcceptanceLadderTest, SaysWhyItCannotTune) {
  const Ladder ladder = TemperatureLadder({300, 330, 363});
  const double kNaN = std::numeric_limits<double>::quiet_NaN();
  struct Case {
    Ladder ladder;
    std::vector<double> acceptance;
    const char* why;
  };
  for (const Case& c : std::vector<Case>{
           {ladder, {0.5, kNaN}, "pair 1-2 has no acceptance yet"},
           {ladder, {0.5, 1.5}, "pair 1-2 has no acceptance yet"},
           {ladder,
            {0.5},
            "1 acceptances (one per neighbour pair) for a "
            "ladder of 3 rungs"},
           {ladder, {1, 1}, "every pair always accepted"},
           {TemperatureLadder({300, 330}), {0.5}, "fewer than 3 rungs"},
           {test_util::GridLadder(2, 2),
            {0.5, 0.5, 0.5, 0.5},
            "only an ordinary ladder"}}) {
    absl::StatusOr<TunedLadder> tuned =
        EqualAcceptanceLadder(c.ladder, c.acceptance);
    EXPECT_EQ(tuned.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(tuned.status().message(), HasSubstr(c.why));
  }
  // A pair that never accepted still tunes: it pulls its rungs together.
  absl::StatusOr<TunedLadder> tuned = EqualAcceptanceLadder(ladder, {0.9, 0});
  ASSERT_TRUE(tuned.ok()) << tuned.status();
  EXPECT_GT(tuned->rungs[1].temperature_k, 330);
}

// Where the fraction of up-going replicas already falls by the same step at
// every rung, the ladder is where round trips want it: nothing moves.
TEST(RoundTripLadderTest, ALinearFractionUpIsTheFixedPoint) {
  const Ladder ladder = TemperatureLadder({300, 310, 345, 400, 600});
  absl::StatusOr<std::vector<Rung>> rungs =
      RoundTripLadder(ladder, {1, 0.75, 0.5, 0.25, 0});
  ASSERT_TRUE(rungs.ok()) << rungs.status();
  const std::vector<double> tuned = Temperatures(*rungs);
  const std::vector<double> expected = {300, 310, 345, 400, 600};
  for (int k = 0; k < 5; ++k) {
    EXPECT_NEAR(tuned[k], expected[k], 1e-9) << "rung " << k;
  }
}

// f falls by 0.64 across 400-450 K and by 0.12 across each other interval,
// so that interval's share of the rungs is sqrt(0.64) = 0.8 against 0.346
// for each other: inner rung j goes where the cumulative share reaches j/4
// of the total (1.839), uniformly in T within an interval, which puts two of
// the three inside 400-450 K.
TEST(RoundTripLadderTest, RungsGatherWhereTheFractionUpFallsFastest) {
  const Ladder ladder = TemperatureLadder({300, 350, 400, 450, 500});
  const std::vector<double> f = {1, 0.88, 0.76, 0.12, 0};
  absl::StatusOr<std::vector<Rung>> rungs = RoundTripLadder(ladder, f);
  ASSERT_TRUE(rungs.ok()) << rungs.status();
  const std::vector<double> tuned = Temperatures(*rungs);
  std::vector<double> share = {std::sqrt(0.12), std::sqrt(0.12),
                               std::sqrt(0.64), std::sqrt(0.12)};
  const double total = share[0] + share[1] + share[2] + share[3];
  // Rung j lands where the cumulative share reaches j * total / 4.
  const std::vector<double> x = {300, 350, 400, 450, 500};
  for (int j = 1; j < 4; ++j) {
    double target = total * j / 4, at = 0;
    int k = 0;
    while (at + share[k] < target) at += share[k++];
    const double expected = x[k] + (target - at) / share[k] * 50;
    EXPECT_NEAR(tuned[j], expected, 1e-9) << "rung " << j;
  }
  EXPECT_EQ(tuned[0], 300);
  EXPECT_EQ(tuned[4], 500);
  // Two inner rungs now lie in 400-450 K, where there were none.
  EXPECT_GT(tuned[2], 400);
  EXPECT_LT(tuned[3], 450);
}

TEST(RoundTripLadderTest, SaysWhyItCannotTuneAndFloorsNoise) {
  const Ladder ladder = TemperatureLadder({300, 330, 363});
  const double kNaN = std::numeric_limits<double>::quiet_NaN();
  EXPECT_THAT(RoundTripLadder(ladder, {1, kNaN, 0}).status().message(),
              HasSubstr("rung 1 has no fraction of up-going replicas yet"));
  EXPECT_THAT(RoundTripLadder(ladder, {1, 0}).status().message(),
              HasSubstr("2 fractions up (one per rung) for a ladder of 3"));
  EXPECT_EQ(RoundTripLadder(test_util::GridLadder(2, 2), {1, 0.5, 0.5, 0})
                .status()
                .code(),
            absl::StatusCode::kFailedPrecondition);
  // A fraction that rises (noise) counts as falling by a tenth of the even
  // step, 0.1 / 3: shares sqrt(0.6), sqrt(0.0333), sqrt(0.6) of the rungs.
  // (Without that floor its share would be the square root of a negative
  // number, NaN.)
  const Ladder four = TemperatureLadder({300, 330, 363, 400});
  absl::StatusOr<std::vector<Rung>> rungs =
      RoundTripLadder(four, {1, 0.4, 0.6, 0});
  ASSERT_TRUE(rungs.ok()) << rungs.status();
  const std::vector<double> tuned = Temperatures(*rungs);
  const double a = std::sqrt(0.6), b = std::sqrt(0.1 / 3);
  const double total = 2 * a + b;
  EXPECT_NEAR(tuned[1], 300 + 30 * (total / 3) / a, 1e-9);
  EXPECT_NEAR(tuned[2], 363 + 37 * (2 * total / 3 - a - b) / a, 1e-9);
}

// A lambda ladder is a path through parameter space: the rungs move along
// it as a temperature ladder's do in beta. With the model's acceptance,
// erfc(s * delta lambda / (2 sqrt 2)) (Hamiltonian exchange with a Gaussian
// energy difference of width s * delta lambda), rungs crowded at lambda = 0
// spread to equal steps, the temperature (shared) and the ends unchanged.
TEST(EqualAcceptanceLadderTest, AParameterLadderMovesAlongItsParameter) {
  // 298 K: 1 / (R (1 / (R T))) is not T there, so the tuner must keep
  // equal temperatures exact, or the tuned ladder would be out of order.
  constexpr double kT = 298;
  const double beta = 1 / (kMolarGasConstantKJPerMolK * kT);
  ASSERT_NE(1 / (kMolarGasConstantKJPerMolK * beta), kT);
  std::vector<Rung> crowded;
  for (double lambda : {0.0, 0.05, 0.1, 0.15, 1.0}) {
    crowded.push_back(Rung{kT, {lambda, 2 * lambda}});
  }
  const Ladder bad = *Ladder::Create({"lambda", "twice"}, crowded);
  constexpr double kS = 4;
  auto acceptance = [&](const Ladder& ladder) {
    std::vector<double> a;
    for (int k = 0; k + 1 < ladder.size(); ++k) {
      const double d =
          ladder.rung(k + 1).parameters[0] - ladder.rung(k).parameters[0];
      a.push_back(std::erfc(kS * d / (2 * std::sqrt(2.0))));
    }
    return a;
  };
  absl::StatusOr<TunedLadder> tuned =
      EqualAcceptanceLadder(bad, acceptance(bad));
  ASSERT_TRUE(tuned.ok()) << tuned.status();
  ASSERT_EQ(tuned->rungs.size(), 5u);
  for (int k = 0; k < 5; ++k) {
    EXPECT_EQ(tuned->rungs[k].temperature_k, kT) << "rung " << k;
    EXPECT_NEAR(tuned->rungs[k].parameters[0], k / 4.0, 1e-12) << "rung " << k;
    EXPECT_NEAR(tuned->rungs[k].parameters[1], k / 2.0, 1e-12) << "rung " << k;
  }
  EXPECT_EQ(tuned->rungs[0].parameters, crowded[0].parameters);
  EXPECT_EQ(tuned->rungs[4].parameters, crowded[4].parameters);
  const absl::StatusOr<Ladder> good =
      Ladder::Create({"lambda", "twice"}, tuned->rungs);
  ASSERT_TRUE(good.ok()) << good.status();
  for (double a : acceptance(*good)) {
    EXPECT_NEAR(a, tuned->predicted_acceptance, 1e-12);
  }
  // Round trips move the rungs along the same path.
  absl::StatusOr<std::vector<Rung>> rungs =
      RoundTripLadder(bad, {1, 0.75, 0.5, 0.25, 0});
  ASSERT_TRUE(rungs.ok()) << rungs.status();
  for (int k = 0; k < 5; ++k) {
    EXPECT_NEAR((*rungs)[k].parameters[0], crowded[k].parameters[0], 1e-12)
        << "rung " << k;
  }
}

// A temperature x lambda grid, crowded along both axes.
Ladder CrowdedGrid(const std::vector<double>& lambdas) {
  std::vector<Rung> rungs;
  for (double t : {300.0, 310.0, 320.0, 600.0}) {
    for (double lambda : lambdas) rungs.push_back(Rung{t, {lambda}});
  }
  return *Ladder::Create({"lambda"}, std::move(rungs),
                         {4, static_cast<int>(lambdas.size())});
}

TEST(EqualAcceptanceGridTest, EachAxisMovesAlongItsLineFromPooledCounts) {
  const Ladder grid = CrowdedGrid({0, 0.1, 0.2, 1});
  // Counts that differ from line to line, so that pooling shows: pair p
  // attempted 100 (p + 1) times, accepting a share that falls along each
  // axis (crowded inner pairs accept more).
  const size_t pairs = grid.pairs().size();
  std::vector<int64_t> attempts(pairs), accepts(pairs);
  std::vector<std::vector<int64_t>> pooled_attempts(2, {0, 0, 0}),
      pooled_accepts(2, {0, 0, 0});
  for (size_t p = 0; p < pairs; ++p) {
    const Ladder::Pair& pair = grid.pairs()[p];
    const int i = grid.Coordinate(pair.lower, pair.axis);
    attempts[p] = 100 * static_cast<int64_t>(p + 1);
    accepts[p] = attempts[p] * (i < 2 ? 9 : 1) / 10;
    pooled_attempts[pair.axis][i] += attempts[p];
    pooled_accepts[pair.axis][i] += accepts[p];
  }
  absl::StatusOr<std::vector<Rung>> rungs =
      EqualAcceptanceGrid(grid, attempts, accepts);
  ASSERT_TRUE(rungs.ok()) << rungs.status();
  // Each axis as the ordinary tuner has it, on its line through rung 0 with
  // the pooled estimate.
  std::vector<std::vector<Rung>> lines;
  for (int a = 0; a < 2; ++a) {
    std::vector<Rung> line;
    for (int i = 0; i < 4; ++i) line.push_back(grid.rung(i * grid.Stride(a)));
    std::vector<double> acceptance;
    for (int i = 0; i < 3; ++i) {
      acceptance.push_back((pooled_accepts[a][i] + 0.5) /
                           (pooled_attempts[a][i] + 1.0));
    }
    absl::StatusOr<TunedLadder> tuned =
        EqualAcceptanceLadder(*Ladder::Create({"lambda"}, line), acceptance);
    ASSERT_TRUE(tuned.ok()) << tuned.status();
    lines.push_back(tuned->rungs);
  }
  ASSERT_EQ(rungs->size(), 16u);
  for (int t = 0; t < 4; ++t) {
    for (int l = 0; l < 4; ++l) {
      const Rung& rung = (*rungs)[4 * t + l];
      EXPECT_EQ(rung.temperature_k, lines[0][t].temperature_k)
          << "rung (" << t << ", " << l << ")";
      EXPECT_EQ(rung.parameters, lines[1][l].parameters)
          << "rung (" << t << ", " << l << ")";
    }
  }
  // Both axes moved outward from their crowded start, ends kept.
  EXPECT_GT(lines[0][1].temperature_k, 310);
  EXPECT_GT(lines[1][1].parameters[0], 0.1);
  EXPECT_EQ(lines[0][3].temperature_k, 600);
  EXPECT_EQ(lines[1][3].parameters[0], 1);
  ASSERT_TRUE(Ladder::Create({"lambda"}, *rungs, {4, 4}).ok());
}

TEST(EqualAcceptanceGridTest,
     AnAxisOfTwoKeepsItsRungsAndOtherLaddersAreRefused) {
  const Ladder grid = CrowdedGrid({0, 1});
  // Every pair attempted 10 times; axis 0's crowded pairs accepted 9.
  const std::vector<int64_t> counts(grid.pairs().size(), 10);
  std::vector<int64_t> accepts;
  for (const Ladder::Pair& pair : grid.pairs()) {
    accepts.push_back(pair.axis == 0 && pair.lower < 4 ? 9 : 1);
  }
  absl::StatusOr<std::vector<Rung>> rungs =
      EqualAcceptanceGrid(grid, counts, accepts);
  ASSERT_TRUE(rungs.ok()) << rungs.status();
  for (int k = 0; k < 8; ++k) {
    EXPECT_EQ((*rungs)[k].parameters, grid.rung(k).parameters) << k;
  }
  EXPECT_NE((*rungs)[2].temperature_k, 310);  // axis 0 moved

  std::vector<Rung> skewed = grid.rungs();
  skewed[3].parameters[0] = 2;  // lambda varies along both axes
  const Ladder not_a_product = *Ladder::Create({"lambda"}, skewed, {4, 2});
  struct Case {
    const Ladder& ladder;
    size_t counts;
    const char* why;
  };
  const Ladder ordinary = TemperatureLadder({300, 310, 320});
  for (const Case& c : std::vector<Case>{
           {not_a_product, counts.size(), "rung 3 is not the product"},
           {ordinary, 2, "only a grid ladder"},
           {grid, counts.size() - 1, "for a grid of 10 neighbour pairs"}}) {
    const std::vector<int64_t> some(c.counts, 10);
    absl::StatusOr<std::vector<Rung>> refused =
        EqualAcceptanceGrid(c.ladder, some, some);
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(refused.status().message(), HasSubstr(c.why));
  }
}

TEST(EqualAcceptanceGridTest, ThreeAxesOfParametersAtOneTemperature) {
  // lambda x mu x nu, 3 x 3 x 2, all at 298 K (where T -> beta -> T is an
  // ulp off): each of the two long axes is crowded at its low end.
  std::vector<Rung> rungs;
  for (double lambda : {0.0, 0.1, 1.0}) {
    for (double mu : {0.0, 0.2, 1.0}) {
      for (double nu : {0.0, 1.0}) rungs.push_back(Rung{298, {lambda, mu, nu}});
    }
  }
  const Ladder grid =
      *Ladder::Create({"lambda", "mu", "nu"}, std::move(rungs), {3, 3, 2});
  // The crowded pairs (position 0 on axes 0 and 1) accept 9 in 10, the
  // others 1 in 10.
  std::vector<int64_t> attempts, accepts;
  for (const Ladder::Pair& pair : grid.pairs()) {
    attempts.push_back(10);
    accepts.push_back(
        pair.axis < 2 && grid.Coordinate(pair.lower, pair.axis) == 0 ? 9 : 1);
  }
  absl::StatusOr<std::vector<Rung>> tuned =
      EqualAcceptanceGrid(grid, attempts, accepts);
  ASSERT_TRUE(tuned.ok()) << tuned.status();
  ASSERT_TRUE(Ladder::Create({"lambda", "mu", "nu"}, *tuned, {3, 3, 2}).ok());
  for (int k = 0; k < grid.size(); ++k) {
    SCOPED_TRACE(k);
    const Rung& rung = (*tuned)[k];
    EXPECT_EQ(rung.temperature_k, 298);
    // A product: each value from its own axis's line through rung 0.
    EXPECT_EQ(rung.parameters[0],
              (*tuned)[grid.Coordinate(k, 0) * grid.Stride(0)].parameters[0]);
    EXPECT_EQ(rung.parameters[1],
              (*tuned)[grid.Coordinate(k, 1) * grid.Stride(1)].parameters[1]);
    EXPECT_EQ(rung.parameters[2], grid.rung(k).parameters[2]);  // 2 rungs
  }
  // The inner lambda and mu moved up, away from their crowded low ends.
  EXPECT_GT((*tuned)[grid.Stride(0)].parameters[0], 0.1);
  EXPECT_GT((*tuned)[grid.Stride(1)].parameters[1], 0.2);
}

}  // namespace
}  // namespace replex::exchange
