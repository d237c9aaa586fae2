// Conversions between OpenMM and engine types, and finiteness checks.
#include "lib/engine/openmm_util.h"

#include <cmath>

namespace replex::engine {

Vec3 FromOpenMM(const OpenMM::Vec3& v) { return {v[0], v[1], v[2]}; }
OpenMM::Vec3 ToOpenMM(const Vec3& v) { return OpenMM::Vec3(v[0], v[1], v[2]); }

std::vector<Vec3> FromOpenMM(const std::vector<OpenMM::Vec3>& vs) {
  std::vector<Vec3> out;
  out.reserve(vs.size());
  for (const OpenMM::Vec3& v : vs) out.push_back(FromOpenMM(v));
  return out;
}

std::vector<OpenMM::Vec3> ToOpenMM(const std::vector<Vec3>& vs) {
  std::vector<OpenMM::Vec3> out;
  out.reserve(vs.size());
  for (const Vec3& v : vs) out.push_back(ToOpenMM(v));
  return out;
}

std::array<Vec3, 3> BoxOf(const OpenMM::State& state) {
  OpenMM::Vec3 a, b, c;
  state.getPeriodicBoxVectors(a, b, c);
  return {FromOpenMM(a), FromOpenMM(b), FromOpenMM(c)};
}

bool IsFinite(const Vec3& v) {
  return std::isfinite(v[0]) && std::isfinite(v[1]) && std::isfinite(v[2]);
}

int FirstNonFinite(const std::vector<Vec3>& vs) {
  for (size_t i = 0; i < vs.size(); ++i) {
    if (!IsFinite(vs[i])) return static_cast<int>(i);
  }
  return -1;
}

}  // namespace replex::engine
