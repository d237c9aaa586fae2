// The ladder of thermodynamic states ("rungs") a replica-exchange job samples:
// each rung is a temperature, optionally a pressure (NPT), plus values for
// named global parameters.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace replex::exchange {

// Molar gas constant in kJ/(mol K), the value OpenMM uses (CODATA 2018).
inline constexpr double kMolarGasConstantKJPerMolK = 8.31446261815324e-3;
// 1 bar * 1 nm^3 in kJ/mol (Avogadro's number * 1e-25 kJ), as OpenMM's
// barostats convert.
inline constexpr double kKJPerMolPerBarNm3 = 6.02214076e-2;

struct Rung {
  double temperature_k = 0;
  // Values of the ladder's parameters, in Ladder::parameter_names() order.
  std::vector<double> parameters;
  // NPT with a pressure per rung: the barostat's pressure there. Unset on
  // every rung (the usual case) when all run at the System's own pressure.
  std::optional<double> pressure_bar = std::nullopt;
};

// Immutable after Create; thread-safe.
class Ladder {
 public:
  // Checks: at least one rung; temperatures finite, > 0 and non-decreasing;
  // pressures on every rung or on none, finite and > 0; every rung has one
  // finite value per parameter name; parameter names are unique and
  // non-empty; no two consecutive rungs are identical. Errors say which rung
  // and which value is wrong.
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
  // True when no Hamiltonian parameter differs between rungs, so a
  // replica's reduced potential at every rung follows from its own energy
  // terms (u_k = beta_k (U + p_k V)), with no evaluation at other rungs.
  bool temperature_only() const { return temperature_only_; }
  // True when the rungs set their own pressures (Rung::pressure_bar).
  bool has_pressures() const {
    return !rungs_.empty() && rungs_[0].pressure_bar.has_value();
  }

 private:
  Ladder() = default;
  std::vector<std::string> names_;
  std::vector<Rung> rungs_;
  std::vector<double> betas_;
  bool temperature_only_ = true;
};

}  // namespace replex::exchange
