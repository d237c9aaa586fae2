// Statistics for the sampling tests: exact distributions, the
// Kolmogorov-Smirnov test, and correlation-aware error bars for time series
// from Markov chains.
#pragma once

#include <functional>
#include <vector>

namespace replex::testing {

// Regularised lower incomplete gamma function P(a, x); Q = 1 - P.
double RegularizedGammaP(double a, double x);
double RegularizedGammaQ(double a, double x);

// CDF of a Gamma(shape, scale) distribution.
double GammaCdf(double shape, double scale, double x);

// Kolmogorov-Smirnov statistic sup |F_n(x) - F(x)| of `samples` against `cdf`.
double KsStatistic(std::vector<double> samples,
                   const std::function<double(double)>& cdf);
// Asymptotic critical value of the one-sample KS statistic for n independent
// samples at significance alpha: sqrt(-ln(alpha / 2) / 2) / sqrt(n).
double KsCriticalValue(int n, double alpha);

// Statistical inefficiency g = 1 + 2 sum_t (1 - t/N) C(t) of a time series
// (analysis::StatisticalInefficiency; 1 for a constant series). Samples g
// apart are roughly independent.
double StatisticalInefficiency(const std::vector<double>& series);
// Every ceil(g)-th sample, starting from the first.
std::vector<double> Subsample(const std::vector<double>& series, double g);

double Mean(const std::vector<double>& x);
// Standard error of the mean of a correlated series: sqrt(g var / N).
double StandardErrorOfMean(const std::vector<double>& series);

// Expected Metropolis acceptance of a temperature swap between two
// d-dimensional harmonic oscillators equilibrated at beta_cold > beta_hot:
// E[min(1, exp(-(beta_cold - beta_hot)(U_hot - U_cold)))], with U ~ Gamma(d/2,
// 1/beta). Evaluated as a 1-D integral of incomplete gamma functions.
double HarmonicSwapAcceptance(int dof, double beta_cold, double beta_hot);

}  // namespace replex::testing
