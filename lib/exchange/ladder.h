// The ladder of thermodynamic states ("rungs") a replica-exchange job samples:
// each rung is a temperature plus values for named global parameters.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace replex::exchange {

// Molar gas constant in kJ/(mol K), the value OpenMM uses (CODATA 2018).
inline constexpr double kMolarGasConstantKJPerMolK = 8.31446261815324e-3;

struct Rung {
  double temperature_k = 0;
  // Values of the ladder's parameters, in Ladder::parameter_names() order.
  std::vector<double> parameters;
};

// Immutable after Create; thread-safe.
class Ladder {
 public:
  // Checks: at least one rung; temperatures finite, > 0 and non-decreasing;
  // every rung has one finite value per parameter name; parameter names are
  // unique and non-empty; no two consecutive rungs are identical. Errors say
  // which rung and which value is wrong.
  static absl::StatusOr<Ladder> Create(std::vector<std::string> parameter_names,
                                       std::vector<Rung> rungs);

  // n values from first to last: geometric (first, last > 0) or linear.
  // n == 1 gives {first}.
  static std::vector<double> Geometric(double first, double last, int n);
  static std::vector<double> Linear(double first, double last, int n);

  int size() const { return static_cast<int>(rungs_.size()); }
  const Rung& rung(int k) const { return rungs_[k]; }
  const std::vector<Rung>& rungs() const { return rungs_; }
  const std::vector<std::string>& parameter_names() const { return names_; }
  // 1 / (R T) in mol/kJ.
  double beta(int k) const { return betas_[k]; }
  // True when no parameter differs between rungs, so u_k(x) = beta_k U(x) and
  // a replica only needs to report its potential energy.
  bool temperature_only() const { return temperature_only_; }

 private:
  Ladder() = default;
  std::vector<std::string> names_;
  std::vector<Rung> rungs_;
  std::vector<double> betas_;
  bool temperature_only_ = true;
};

}  // namespace replex::exchange
