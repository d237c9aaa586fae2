#include "lib/exchange/statistics.h"

#include <cmath>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace replex::exchange {
namespace {

using ::testing::ElementsAre;
using ::testing::IsNan;

using Path = std::vector<std::vector<int>>;  // rung_of_replica per time

RoundOutcome Outcome(int64_t round, const Permutation& before,
                     const Permutation& after) {
  RoundOutcome outcome;
  outcome.round = round;
  outcome.before = before;
  outcome.after = after;
  outcome.pair_attempts.assign(before.size() - 1, 0);
  outcome.pair_accepts.assign(before.size() - 1, 0);
  return outcome;
}

// Records the rounds that lead from states[0] through every later state.
void RecordPath(const Path& states, Statistics& statistics) {
  for (size_t t = 1; t < states.size(); ++t) {
    statistics.Record(Outcome(static_cast<int64_t>(t - 1),
                              *Permutation::FromRungOfReplica(states[t - 1]),
                              *Permutation::FromRungOfReplica(states[t])));
  }
}

// Records one round per entry of `rounds`, each swapping the listed disjoint
// rung pairs, starting from the identity.
Statistics RecordSwaps(
    int n, const std::vector<std::vector<std::pair<int, int>>>& rounds) {
  Statistics statistics(n, n - 1);
  Permutation state = Permutation::Identity(n);
  for (size_t r = 0; r < rounds.size(); ++r) {
    Permutation next = state;
    for (const auto& [a, b] : rounds[r]) next.SwapRungs(a, b);
    statistics.Record(Outcome(static_cast<int64_t>(r), state, next));
    state = next;
  }
  return statistics;
}

// The swaps of a neighbour round of the given parity: all pairs (k, k+1)
// with k % 2 == parity.
std::vector<std::pair<int, int>> NeighbourSwaps(int n, int parity) {
  std::vector<std::pair<int, int>> swaps;
  for (int k = parity; k + 1 < n; k += 2) swaps.emplace_back(k, k + 1);
  return swaps;
}

TEST(StatisticsTest, NothingRecorded) {
  Statistics statistics(4, 3);
  EXPECT_EQ(statistics.n_rungs(), 4);
  EXPECT_EQ(statistics.rounds(), 0);
  EXPECT_THAT(statistics.PairAcceptance(),
              ElementsAre(IsNan(), IsNan(), IsNan()));
  EXPECT_TRUE(std::isnan(statistics.SecondLargestEigenvalue()));
  EXPECT_TRUE(std::isnan(statistics.MeanRoundTripRounds()));
  EXPECT_EQ(statistics.RoundTrips(), 0);
  EXPECT_THAT(statistics.TransitionMatrix()[0],
              ElementsAre(IsNan(), IsNan(), IsNan(), IsNan()));
}

// A 2 x 3 grid (rung 3 i + j): replica 0 goes along axis 1 from its first
// rung to its last and back (rungs 0, 1, 2, 1, 0), then along axis 0 (rungs
// 0, 3, 0). Each is one trip along its axis and none between the grid's
// corners; replicas that meet an axis's last rung before its first make
// none.
TEST(StatisticsTest, AGridCountsRoundTripsAlongEachAxis) {
  Statistics grid(6, 5, {2, 3});
  RecordPath({{0, 1, 2, 3, 4, 5},
              {1, 0, 2, 3, 4, 5},
              {2, 0, 1, 3, 4, 5},
              {1, 0, 2, 3, 4, 5},
              {0, 1, 2, 3, 4, 5}},
             grid);
  EXPECT_THAT(grid.axis_round_trips(), ElementsAre(0, 1));
  RecordPath({{0, 1, 2, 3, 4, 5}, {3, 1, 2, 0, 4, 5}, {0, 1, 2, 3, 4, 5}},
             grid);
  EXPECT_THAT(grid.axis_round_trips(), ElementsAre(1, 1));
  EXPECT_EQ(grid.RoundTrips(), 0);
  // An ordinary ladder, or a shape that does not fit, has no axes.
  EXPECT_TRUE(Statistics(6, 5).axis_round_trips().empty());
  EXPECT_TRUE(Statistics(6, 5, {2, 2}).axis_round_trips().empty());
  EXPECT_TRUE(Statistics(6, 5, {6}).axis_round_trips().empty());
}

TEST(StatisticsTest, PairAcceptanceAccumulatesOverRounds) {
  Statistics statistics(4, 3);
  const Permutation identity = Permutation::Identity(4);
  RoundOutcome first = Outcome(0, identity, identity);
  first.pair_attempts = {2, 0, 1};
  first.pair_accepts = {1, 0, 0};
  RoundOutcome second = Outcome(1, identity, identity);
  second.pair_attempts = {2, 0, 3};
  second.pair_accepts = {2, 0, 2};
  statistics.Record(first);
  statistics.Record(second);
  EXPECT_EQ(statistics.rounds(), 2);
  EXPECT_THAT(statistics.pair_attempts(), ElementsAre(4, 0, 4));
  EXPECT_THAT(statistics.pair_accepts(), ElementsAre(3, 0, 2));
  EXPECT_THAT(statistics.PairAcceptance(), ElementsAre(0.75, IsNan(), 0.5));
}

TEST(StatisticsTest, OneRoundTripAndFractionUp) {
  // Replica 0: rungs 0,1,2,1,0 — one trip of 4 rounds. Replica 1 reaches
  // the bottom but never the top; replica 2 never reaches the bottom.
  Statistics statistics(3, 2);
  RecordPath({{0, 1, 2}, {1, 0, 2}, {2, 0, 1}, {1, 0, 2}, {0, 1, 2}},
             statistics);
  EXPECT_EQ(statistics.RoundTrips(), 1);
  EXPECT_THAT(statistics.round_trips_per_replica(), ElementsAre(1, 0, 0));
  EXPECT_EQ(statistics.MeanRoundTripRounds(), 4);
  // Labelled visits (u: last extreme lowest, d: highest; replica 1 is
  // unlabelled at first): rung 0: u u u u u; rung 1: u d d u; rung 2: all d.
  EXPECT_THAT(statistics.FractionUp(), ElementsAre(1.0, 0.5, 0.0));
}

TEST(StatisticsTest, TripsTileTheTimeLine) {
  // Two rungs. Replica 0: 0 0 1 1 0 1 0 — trips of 4 (lingering at the
  // bottom does not restart the clock) and 2 rounds. Replica 1, the
  // complement, starts labelled "down" and completes one trip of 3 (t2..t5).
  Statistics statistics(2, 1);
  RecordPath({{0, 1}, {0, 1}, {1, 0}, {1, 0}, {0, 1}, {1, 0}, {0, 1}},
             statistics);
  EXPECT_THAT(statistics.round_trips_per_replica(), ElementsAre(2, 1));
  EXPECT_EQ(statistics.RoundTrips(), 3);
  EXPECT_DOUBLE_EQ(statistics.MeanRoundTripRounds(), (4 + 2 + 3) / 3.0);
}

TEST(StatisticsTest, SingleRungHasNoTripsOrSpectrum) {
  Statistics statistics(1, 0);
  RecordPath({{0}, {0}, {0}}, statistics);
  EXPECT_EQ(statistics.rounds(), 2);
  EXPECT_EQ(statistics.RoundTrips(), 0);
  EXPECT_TRUE(std::isnan(statistics.SecondLargestEigenvalue()));
  EXPECT_THAT(statistics.FractionUp(), ElementsAre(IsNan()));
  EXPECT_THAT(statistics.TransitionMatrix(), ElementsAre(ElementsAre(1.0)));
}

TEST(StatisticsTest, TransitionMatrixIsSymmetrisedAndRowStochastic) {
  // A 3-cycle every round: C = rounds * P, (P + P^T) / 2 has zero diagonal
  // and 1/2 elsewhere; its spectrum is 1, -1/2, -1/2.
  Statistics statistics(3, 2);
  RecordPath({{0, 1, 2}, {1, 2, 0}, {2, 0, 1}, {0, 1, 2}}, statistics);
  EXPECT_THAT(statistics.TransitionMatrix(),
              ElementsAre(ElementsAre(0, 0.5, 0.5), ElementsAre(0.5, 0, 0.5),
                          ElementsAre(0.5, 0.5, 0)));
  EXPECT_NEAR(statistics.SecondLargestEigenvalue(), -0.5, 1e-14);
}

TEST(StatisticsTest, TwoRungsSwappingAQuarterOfTheTime) {
  // T = [[3/4, 1/4], [1/4, 3/4]]: eigenvalues 1 and 1 - 2/4.
  const Statistics statistics = RecordSwaps(2, {{{0, 1}}, {}, {}, {}});
  EXPECT_THAT(statistics.TransitionMatrix(),
              ElementsAre(ElementsAre(0.75, 0.25), ElementsAre(0.25, 0.75)));
  EXPECT_NEAR(statistics.SecondLargestEigenvalue(), 0.5, 1e-14);
}

TEST(StatisticsTest, CycleSpectrum) {
  // Rotating n rungs: (P + P^T) / 2 has eigenvalues cos(2 pi j / n).
  constexpr int kN = 7;
  Path path;
  for (int t = 0; t <= 5; ++t) {
    std::vector<int> state;
    for (int i = 0; i < kN; ++i) state.push_back((i + t) % kN);
    path.push_back(state);
  }
  Statistics statistics(kN, kN - 1);
  RecordPath(path, statistics);
  EXPECT_NEAR(statistics.SecondLargestEigenvalue(), std::cos(2 * M_PI / kN),
              1e-13);
}

class NeighbourSpectrumTest : public ::testing::TestWithParam<int> {};

TEST_P(NeighbourSpectrumTest, MatchesThePathLaplacian) {
  // One even round, one odd round and one idle round: P_even + P_odd =
  // 2I - L for the path Laplacian L (eigenvalues 2 - 2 cos(pi j / n)), so
  // T = I - L / 3 and the second eigenvalue is 1 - (2/3)(1 - cos(pi / n)).
  // At n = 4096 this is 1 - 2e-7: it checks accuracy near 1 and that the
  // largest ladder is solved quickly (neighbour moves give a tridiagonal T).
  const int n = GetParam();
  const Statistics statistics =
      RecordSwaps(n, {NeighbourSwaps(n, 0), NeighbourSwaps(n, 1), {}});
  const double expected = 1 - (2.0 / 3) * (1 - std::cos(M_PI / n));
  EXPECT_NEAR(statistics.SecondLargestEigenvalue(), expected, 1e-12);
  const std::vector<std::vector<double>> t = statistics.TransitionMatrix();
  for (int i = 0; i < n; ++i) {
    double sum = 0;
    for (double x : t[i]) sum += x;
    EXPECT_NEAR(sum, 1, 1e-14);
  }
}

INSTANTIATE_TEST_SUITE_P(LadderSizes, NeighbourSpectrumTest,
                         ::testing::Values(2, 3, 8, 33, 1000, 4096));

TEST(StatisticsTest, AllPairsSpectrumIsDegenerate) {
  // One round swapping each of the n(n-1)/2 pairs, plus m idle rounds:
  // C = (pairs - n + 1 + m) I + (J - I), so T has eigenvalue 1 once and
  // (pairs - n + m) / (pairs + m) n - 1 times: a dense, degenerate case.
  constexpr int kN = 9, kIdle = 4;
  std::vector<std::vector<std::pair<int, int>>> rounds;
  for (int a = 0; a < kN; ++a) {
    for (int b = a + 1; b < kN; ++b) rounds.push_back({{a, b}});
  }
  for (int m = 0; m < kIdle; ++m) rounds.push_back({});
  const double pairs = kN * (kN - 1) / 2.0;
  EXPECT_NEAR(RecordSwaps(kN, rounds).SecondLargestEigenvalue(),
              (pairs - kN + kIdle) / (pairs + kIdle), 1e-14);
}

TEST(StatisticsTest, DenseSpectrumIsNotSolvedAboveItsBound) {
  // A swap of the two extreme rungs makes T non-tridiagonal: solved at the
  // bound, not one rung above it (where it would take seconds).
  for (int n :
       {Statistics::kMaxDenseEigenRungs, Statistics::kMaxDenseEigenRungs + 1}) {
    SCOPED_TRACE(n);
    const double lambda2 =
        RecordSwaps(n, {{{0, n - 1}}, {}}).SecondLargestEigenvalue();
    EXPECT_EQ(std::isnan(lambda2), n > Statistics::kMaxDenseEigenRungs);
  }
}

TEST(StatisticsTest, IgnoresAnOutcomeOfAnotherSize) {
  Statistics statistics(3, 2);
  statistics.Record(
      Outcome(0, Permutation::Identity(4), Permutation::Identity(4)));
  EXPECT_EQ(statistics.rounds(), 0);
}

}  // namespace
}  // namespace replex::exchange
