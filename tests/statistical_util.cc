#include "tests/statistical_util.h"

#include <algorithm>
#include <cmath>

#include "lib/analysis/timeseries.h"

namespace replex::testing {
namespace {

// Series for x < a + 1, continued fraction (modified Lentz) otherwise: the
// standard pair, each convergent where the other is slow.
double GammaPSeries(double a, double x) {
  double term = 1.0 / a, sum = term;
  for (int n = 1; n < 10000 && std::abs(term) > std::abs(sum) * 1e-16; ++n) {
    term *= x / (a + n);
    sum += term;
  }
  return sum * std::exp(-x + a * std::log(x) - std::lgamma(a));
}

double GammaQContinuedFraction(double a, double x) {
  constexpr double kTiny = 1e-300;
  double b = x + 1 - a, c = 1 / kTiny, d = 1 / b, h = d;
  for (int i = 1; i < 10000; ++i) {
    const double an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (std::abs(d) < kTiny) d = kTiny;
    c = b + an / c;
    if (std::abs(c) < kTiny) c = kTiny;
    d = 1 / d;
    const double delta = d * c;
    h *= delta;
    if (std::abs(delta - 1) < 1e-16) break;
  }
  return std::exp(-x + a * std::log(x) - std::lgamma(a)) * h;
}

}  // namespace

double RegularizedGammaP(double a, double x) {
  if (x <= 0) return 0;
  return x < a + 1 ? GammaPSeries(a, x) : 1 - GammaQContinuedFraction(a, x);
}

double RegularizedGammaQ(double a, double x) {
  if (x <= 0) return 1;
  return x < a + 1 ? 1 - GammaPSeries(a, x) : GammaQContinuedFraction(a, x);
}

double GammaCdf(double shape, double scale, double x) {
  return RegularizedGammaP(shape, x / scale);
}

double KsStatistic(std::vector<double> samples,
                   const std::function<double(double)>& cdf) {
  std::sort(samples.begin(), samples.end());
  const double n = static_cast<double>(samples.size());
  double d = 0;
  for (size_t i = 0; i < samples.size(); ++i) {
    const double f = cdf(samples[i]);
    d = std::max({d, (i + 1) / n - f, f - i / n});
  }
  return d;
}

double KsCriticalValue(int n, double alpha) {
  return std::sqrt(-std::log(alpha / 2) / 2) / std::sqrt(n);
}

double Mean(const std::vector<double>& x) {
  double sum = 0;
  for (double v : x) sum += v;
  return x.empty() ? NAN : sum / x.size();
}

double StatisticalInefficiency(const std::vector<double>& series) {
  return analysis::StatisticalInefficiency(series).value_or(1.0);
}

std::vector<double> Subsample(const std::vector<double>& series, double g) {
  const size_t stride = static_cast<size_t>(std::ceil(g));
  std::vector<double> out;
  for (size_t i = 0; i < series.size(); i += stride) out.push_back(series[i]);
  return out;
}

double StandardErrorOfMean(const std::vector<double>& series) {
  const double mean = Mean(series);
  double variance = 0;
  for (double v : series) variance += (v - mean) * (v - mean);
  variance /= series.size() - 1;
  return std::sqrt(StatisticalInefficiency(series) * variance / series.size());
}

double HarmonicSwapAcceptance(int dof, double beta_cold, double beta_hot) {
  // With x = beta_cold U_cold and y = beta_hot U_hot, both Gamma(k, 1), and
  // r = beta_cold / beta_hot: accept surely when y <= x / r, else with
  // exp((1 - 1/r) x - (r - 1) y), whose integral over y is r^-k Q(k, x).
  const double k = dof / 2.0;
  const double r = beta_cold / beta_hot;
  const double upper = k + 40 * std::sqrt(k) + 40;
  const int steps = 200000;  // Simpson's rule; smooth integrand
  const double h = upper / steps;
  auto integrand = [&](double x) {
    if (x <= 0) return 0.0;
    const double density =
        std::exp((k - 1) * std::log(x) - x - std::lgamma(k));
    return density * (RegularizedGammaP(k, x / r) +
                      std::exp((1 - 1 / r) * x - k * std::log(r)) *
                          RegularizedGammaQ(k, x));
  };
  double sum = integrand(0) + integrand(upper);
  for (int i = 1; i < steps; ++i) sum += integrand(i * h) * (i % 2 ? 4 : 2);
  return sum * h / 3;
}

}  // namespace replex::testing
