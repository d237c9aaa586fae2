// The engine's portable replica state and its byte encoding. Plain C++ with no
// OpenMM, so checkpoints can be read, tested and fuzzed without it.
#pragma once

#include <array>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace replex::engine {

using Vec3 = std::array<double, 3>;

using Box = std::array<Vec3, 3>;

// The volume of a periodic box in OpenMM's reduced form (a along x, b in the
// xy plane): a_x b_y c_z, nm^3.
inline double BoxVolume(const Box& box) {
  return box[0][0] * box[1][1] * box[2][2];
}

// Everything needed to continue a replica anywhere: independent of platform
// and device (unlike Context::createCheckpoint).
struct PortableState {
  std::vector<Vec3> positions_nm;
  std::vector<Vec3> velocities_nm_per_ps;
  std::array<Vec3, 3> box_vectors_nm{};
  std::map<std::string, double> parameters;  // context global parameters
  double time_ps = 0;

  // Compact, versioned little-endian encoding (doubles bit-exact).
  std::string Serialize() const;
  static absl::StatusOr<PortableState> Deserialize(absl::string_view bytes);

  // The state as OpenMM's XmlSerializer writes a State (positions,
  // velocities when there are any, box, parameters, time), with every double
  // in 17 significant digits so that OpenMM reads back the same bits: any
  // OpenMM user can continue from it (Context.setState), and a job can start
  // from it (coordinates, replica_starts). Written here, not by OpenMM,
  // because OpenMM 7.7's number formatting is not thread-safe.
  std::string ToStateXml() const;
};

}  // namespace replex::engine
