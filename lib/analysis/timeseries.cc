#include "lib/analysis/timeseries.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace replex::analysis {

std::optional<double> StatisticalInefficiency(absl::Span<const double> series,
                                              bool fast) {
  const int64_t n = static_cast<int64_t>(series.size());
  if (n < 2) return std::nullopt;
  double mean = 0;
  for (double x : series) mean += x;
  mean /= n;
  std::vector<double> d(series.begin(), series.end());
  double variance = 0;
  for (double& x : d) {
    x -= mean;
    variance += x * x;
  }
  variance /= n;
  if (variance == 0) return std::nullopt;
  constexpr int64_t kMinTime = 3;  // pymbar's mintime
  double g = 1;
  int64_t increment = 1;
  for (int64_t t = 1; t < n - 1;) {
    double sum = 0;
    for (int64_t i = 0; i + t < n; ++i) sum += d[i] * d[i + t];
    const double c = sum / (static_cast<double>(n - t) * variance);
    if (c <= 0 && t > kMinTime) break;
    // C(t) stands for the `increment` lags from t on.
    g += 2 * c * (1 - static_cast<double>(t) / n) * increment;
    t += increment;
    if (fast) ++increment;
  }
  return g < 1 ? 1.0 : g;
}

namespace {

// `x` rounded to float32 and back. Through a volatile: GCC 12 at -O2 was
// seen to use the unrounded double for a `const float` initialised from one.
double Float32(double x) {
  volatile float rounded = static_cast<float>(x);
  return rounded;
}

}  // namespace

Equilibration DetectEquilibration(absl::Span<const double> series,
                                  int64_t stride) {
  const int64_t n = static_cast<int64_t>(series.size());
  Equilibration best;
  if (n < 2) return best;
  double least = series[0], most = series[0];
  for (double x : series) least = std::min(least, x), most = std::max(most, x);
  if (least == most) return best;  // constant: pymbar's (0, 1, 1)
  if (stride < 1) stride = 1;
  best.effective_samples = -1;
  for (int64_t t = 0; t < n - 1; t += stride) {
    // A constant tail gets g = its length (pymbar's choice), so it never wins.
    // pymbar keeps g and the effective counts in float32 arrays; rounding
    // them the same way keeps its choice of start and its subsampling.
    const double g =
        Float32(StatisticalInefficiency(series.subspan(t), /*fast=*/true)
                    .value_or(static_cast<double>(n - t + 1)));
    const double effective = Float32((n - t + 1) / g);
    if (effective > best.effective_samples) best = {t, g, effective};
  }
  return best;
}

std::vector<int64_t> SubsampleIndices(int64_t size, double g) {
  std::vector<int64_t> indices;
  if (!(g >= 1)) g = 1;
  for (int64_t n = 0;; ++n) {
    // nearbyint rounds ties to even in the default mode, as Python does.
    const int64_t t = static_cast<int64_t>(std::nearbyint(n * g));
    if (t >= size) break;
    if (indices.empty() || indices.back() != t) indices.push_back(t);
  }
  return indices;
}

}  // namespace replex::analysis
