// Helpers shared by the engine's OpenMM adapter files (platforms, model,
// replica): exceptions to Status, OpenMM vectors to engine vectors, and
// finiteness checks. Internal to replex::engine.
#pragma once

#include <OpenMM.h>

#include <array>
#include <exception>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "lib/engine/portable_state.h"

namespace replex::engine {

// Runs `body` (returning absl::Status or absl::StatusOr) and turns anything
// OpenMM throws into a Status with `code`, prefixed by `what`.
template <typename Body>
auto Guarded(absl::StatusCode code, absl::string_view what, Body&& body)
    -> decltype(body()) {
  try {
    return body();
  } catch (const std::exception& e) {
    return absl::Status(code, absl::StrCat(what, ": ", e.what()));
  } catch (...) {
    return absl::Status(code, absl::StrCat(what, ": unknown exception"));
  }
}

Vec3 FromOpenMM(const OpenMM::Vec3& v);
OpenMM::Vec3 ToOpenMM(const Vec3& v);
std::vector<Vec3> FromOpenMM(const std::vector<OpenMM::Vec3>& vs);
std::vector<OpenMM::Vec3> ToOpenMM(const std::vector<Vec3>& vs);
std::array<Vec3, 3> BoxOf(const OpenMM::State& state);

bool IsFinite(const Vec3& v);
// Index of the first non-finite vector, or -1.
int FirstNonFinite(const std::vector<Vec3>& vs);

}  // namespace replex::engine
