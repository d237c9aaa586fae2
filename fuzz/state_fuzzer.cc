// libFuzzer target: the portable-state decoder (checkpoints, states moving
// between workers). A state it accepts encodes back to the same bytes'
// meaning (decode, encode, decode gives the same state) and writes a State
// XML that the XML check accepts.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "absl/strings/string_view.h"
#include "lib/engine/portable_state.h"
#include "lib/xml/xml.h"

namespace {

bool SameBits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

bool Same(const replex::engine::PortableState& a,
          const replex::engine::PortableState& b) {
  if (a.positions_nm.size() != b.positions_nm.size() ||
      a.velocities_nm_per_ps.size() != b.velocities_nm_per_ps.size() ||
      a.parameters.size() != b.parameters.size() ||
      !SameBits(a.time_ps, b.time_ps)) {
    return false;
  }
  auto same_vectors = [](const auto& x, const auto& y) {
    for (size_t i = 0; i < x.size(); ++i) {
      for (int k = 0; k < 3; ++k) {
        if (!SameBits(x[i][k], y[i][k])) return false;
      }
    }
    return true;
  };
  if (!same_vectors(a.positions_nm, b.positions_nm) ||
      !same_vectors(a.velocities_nm_per_ps, b.velocities_nm_per_ps) ||
      !same_vectors(a.box_vectors_nm, b.box_vectors_nm)) {
    return false;
  }
  for (auto i = a.parameters.begin(), j = b.parameters.begin();
       i != a.parameters.end(); ++i, ++j) {
    if (i->first != j->first || !SameBits(i->second, j->second)) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using replex::engine::PortableState;
  absl::StatusOr<PortableState> state = PortableState::Deserialize(
      absl::string_view(reinterpret_cast<const char*>(data), size));
  if (!state.ok()) return 0;
  absl::StatusOr<PortableState> again =
      PortableState::Deserialize(state->Serialize());
  if (!again.ok() || !Same(*state, *again)) __builtin_trap();
  if (!replex::xml::CheckDocument(state->ToStateXml()).ok()) __builtin_trap();
  return 0;
}
