// Correlation analysis of time series from Markov chains: the statistical
// inefficiency, the start of equilibrated data and the subsampling to roughly
// independent samples. The same estimators as pymbar's timeseries module
// (Chodera, JCTC 12:1799, 2016; Chodera et al., JCTC 3:26, 2007), so that
// replex's numbers and a notebook's agree on the same data.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/types/span.h"

namespace replex::analysis {

// Statistical inefficiency g = 1 + 2 sum_t (1 - t/N) C(t) >= 1 of `series`:
// samples about g apart are independent. The normalised autocorrelation C(t)
// is summed until it first drops to zero after t = 3. `fast` takes lags
// 1, 2, 4, 7, 11, ... (each gap one longer, weighted by it) instead of every
// lag. nullopt when the series has zero variance or fewer than two samples.
// pymbar's statisticalInefficiency(series, fast=fast).
std::optional<double> StatisticalInefficiency(absl::Span<const double> series,
                                              bool fast = false);

struct Equilibration {
  int64_t start = 0;             // the samples before it are discarded
  double inefficiency = 1;       // g of series[start:]
  double effective_samples = 1;  // (N - start + 1) / g, the most of any start
};

// The start t0 that maximises the number of effectively independent samples
// left, (N - t0 + 1) / g(series[t0:]) with the fast g, trying every
// `stride`-th start (pymbar's detectEquilibration(series, nskip=stride),
// with its float32 rounding of g and of the counts).
// Trying every start costs O(N^2); callers bound the number of candidates.
Equilibration DetectEquilibration(absl::Span<const double> series,
                                  int64_t stride = 1);

// Indices round(n g), n = 0, 1, ... below `size`, without repeats (ties to
// even, as Python's round): pymbar's subsampleCorrelatedData(series, g).
std::vector<int64_t> SubsampleIndices(int64_t size, double g);

}  // namespace replex::analysis
