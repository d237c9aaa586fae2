// The exchange decision alone (ExchangeRound plus Statistics::Record, what
// the coordinator does between a round's last result and its next orders),
// for T-REMD ladders of 16..4096 rungs under both schemes. Energies come from
// the same analytic model as the coordinator benchmark: Gamma(n_dof / 2,
// k_B T) at each replica's rung.
//
//   replex-bench-exchange [--benchmark_filter=...]
#include <cmath>
#include <random>
#include <vector>

#include "benchmark/benchmark.h"
#include "lib/exchange/ladder.h"
#include "lib/exchange/permutation.h"
#include "lib/exchange/scheme.h"
#include "lib/exchange/statistics.h"

namespace replex::exchange {
namespace {

void Decide(benchmark::State& state, Scheme scheme) {
  const int n = static_cast<int>(state.range(0));
  std::vector<Rung> rungs;
  for (double t : Ladder::Geometric(300, 600, n)) {
    Rung rung;
    rung.temperature_k = t;
    rungs.push_back(rung);
  }
  const Ladder ladder = *Ladder::Create({}, rungs);
  Permutation permutation = Permutation::Identity(n);
  Statistics statistics(n, n - 1);
  std::mt19937_64 rng(11);
  int64_t round = 0;
  for (auto _ : state) {
    state.PauseTiming();
    std::vector<double> potentials(n);
    for (int i = 0; i < n; ++i) {
      const double kt =
          0.0083144626 *
          ladder.rungs()[permutation.rung_of_replica(i)].temperature_k;
      potentials[i] = std::gamma_distribution<double>(1500, kt)(rng);
    }
    const ReducedPotentials reduced =
        ReducedPotentials::FromPotentialEnergies(ladder, potentials);
    state.ResumeTiming();
    RoundOutcome outcome =
        *ExchangeRound(scheme, ladder, permutation, reduced, 5, round++);
    statistics.Record(outcome);
    permutation = outcome.after;
  }
  state.counters["accept"] =
      statistics.pair_attempts().empty()
          ? 0
          : static_cast<double>(statistics.pair_accepts()[0]) /
                std::max<int64_t>(1, statistics.pair_attempts()[0]);
}

void BM_Neighbors(benchmark::State& state) {
  Decide(state, Scheme::kNeighbors);
}
void BM_Gibbs(benchmark::State& state) { Decide(state, Scheme::kGibbs); }

BENCHMARK(BM_Neighbors)
    ->RangeMultiplier(4)
    ->Range(16, 4096)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Gibbs)->RangeMultiplier(4)->Range(16, 4096)->Unit(
    benchmark::kMicrosecond);

}  // namespace
}  // namespace replex::exchange

BENCHMARK_MAIN();
