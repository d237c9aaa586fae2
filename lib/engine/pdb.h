// The PDB reader for a replica's starting coordinates: ATOM/HETATM positions
// and the CRYST1 box. Plain C++ with no OpenMM, so it can be tested and
// fuzzed without it.
#pragma once

#include <array>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "lib/engine/portable_state.h"

namespace replex::engine {

struct PdbCoordinates {
  std::vector<Vec3> positions_nm;
  std::optional<std::array<Vec3, 3>> box_nm;
};

// ATOM/HETATM coordinates of the first model (up to ENDMDL or END), Å
// converted to nm, and the box of an orthorhombic CRYST1 record if there is
// one. INVALID_ARGUMENT naming the line for a missing or non-finite number, a
// box length that is not positive or an angle that is not 90 degrees, and
// when there are no ATOM or HETATM records.
absl::StatusOr<PdbCoordinates> ParsePdb(absl::string_view pdb);

}  // namespace replex::engine
