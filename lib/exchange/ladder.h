// The ladder of thermodynamic states ("rungs") a replica-exchange job samples:
// each rung is a temperature, optionally a pressure (NPT), plus values for
// named global parameters. A grid ladder (e.g. temperature x lambda) lists
// its rungs row-major, the last axis varying fastest, and its neighbour
// pairs run along every axis.
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
  // Two rungs that differ by one step along one axis: the pairs `neighbors`
  // exchanges and the statistics count.
  struct Pair {
    int lower = 0;  // rung index; upper = lower + stride of `axis`
    int upper = 0;
    int axis = 0;
  };

  // Checks: at least one rung; temperatures finite, > 0 and non-decreasing
  // along every axis; pressures on every rung or on none, finite and > 0;
  // every rung has one finite value per parameter name; parameter names are
  // unique and non-empty; no two neighbouring rungs are identical. `shape`
  // gives the grid's extent per axis (empty: one axis of all rungs); its
  // product must be the rung count. Errors say which rung and which value
  // is wrong.
  static absl::StatusOr<Ladder> Create(std::vector<std::string> parameter_names,
                                       std::vector<Rung> rungs,
                                       std::vector<int> shape = {});

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

  // Rungs per axis; {size()} for an ordinary ladder.
  const std::vector<int>& shape() const { return shape_; }
  int axes() const { return static_cast<int>(shape_.size()); }
  // Rungs between neighbours along `axis` (1 on the last axis).
  int Stride(int axis) const { return strides_[axis]; }
  // Rung k's position along `axis`, 0 .. shape()[axis] - 1.
  int Coordinate(int k, int axis) const {
    return k / strides_[axis] % shape_[axis];
  }
  // Every neighbour pair: axis 0's first, then axis 1's, ..., each axis's by
  // lower rung. For an ordinary ladder pair k is (k, k + 1).
  const std::vector<Pair>& pairs() const { return pairs_; }
  // Index into pairs() of the pair {a, b} in either order; -1 when the two
  // rungs are not neighbours.
  int PairIndex(int a, int b) const;

 private:
  Ladder() = default;
  // Sets shape_, strides_ and the pairs, checking that neighbours along
  // every axis increase in temperature and differ.
  absl::Status SetShape(std::vector<int> shape, const std::vector<Rung>& rungs);
  std::vector<std::string> names_;
  std::vector<Rung> rungs_;
  std::vector<double> betas_;
  bool temperature_only_ = true;
  std::vector<int> shape_, strides_;
  std::vector<Pair> pairs_;
  // pair index of (lower, axis) at lower * axes() + axis; -1 at an edge.
  std::vector<int> pair_of_;
};

}  // namespace replex::exchange
