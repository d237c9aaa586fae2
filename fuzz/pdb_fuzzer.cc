// libFuzzer target: the PDB reader of starting coordinates. Whatever it
// accepts has finite positions and, with a box, positive lengths.
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "lib/engine/pdb.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::StatusOr<replex::engine::PdbCoordinates> pdb = replex::engine::ParsePdb(
      absl::string_view(reinterpret_cast<const char*>(data), size));
  if (!pdb.ok()) return 0;
  if (pdb->positions_nm.empty()) __builtin_trap();
  for (const replex::engine::Vec3& p : pdb->positions_nm) {
    for (double x : p) {
      if (!std::isfinite(x)) __builtin_trap();
    }
  }
  if (pdb->box_nm.has_value()) {
    for (int i = 0; i < 3; ++i) {
      if (!((*pdb->box_nm)[i][i] > 0)) __builtin_trap();
    }
  }
  return 0;
}
