// Helpers shared by the engine's tests: Status assertions, Systems and PDB
// text written the way Model::Load reads them, and engine options.
#pragma once

#include <OpenMM.h>

#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "absl/base/const_init.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "lib/engine/engine.h"
#include "lib/engine/portable_state.h"

#define REPLEX_CONCAT_INNER(a, b) a##b
#define REPLEX_CONCAT(a, b) REPLEX_CONCAT_INNER(a, b)
#define ASSERT_OK(expr)                   \
  do {                                    \
    const absl::Status status_ = (expr);  \
    ASSERT_TRUE(status_.ok()) << status_; \
  } while (false)
#define ASSERT_OK_AND_ASSIGN(lhs, expr) \
  ASSERT_OK_AND_ASSIGN_IMPL(REPLEX_CONCAT(status_or_, __LINE__), lhs, expr)
#define ASSERT_OK_AND_ASSIGN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  ASSERT_TRUE(tmp.ok()) << tmp.status();          \
  lhs = *std::move(tmp)

namespace replex::engine::test_util {

// OpenMM 7.7 writes doubles with David Gay's g_fmt/dtoa, built without its
// locks: its big-number free list is process-wide, and two serializations at
// once corrupt the heap (tests that build models on several threads crashed
// with "free(): invalid pointer"). Reading XML does not use it; the engine
// never writes XML.
inline std::string ToXml(const OpenMM::System& system) {
  static absl::Mutex dtoa_mutex(absl::kConstInit);
  absl::MutexLock lock(&dtoa_mutex);
  std::ostringstream out;
  OpenMM::XmlSerializer::serialize<OpenMM::System>(&system, "System", out);
  return out.str();
}

inline std::string AtomLine(int serial, const Vec3& angstrom) {
  return absl::StrFormat(
      "ATOM  %5d  C   UNK A%4d    %8.3f%8.3f%8.3f  1.00  0.00           C\n",
      serial, serial, angstrom[0], angstrom[1], angstrom[2]);
}

// A PDB of `angstrom` after `header` (a CRYST1 record, say).
inline std::string Pdb(const std::vector<Vec3>& angstrom,
                       std::string header = "") {
  for (size_t i = 0; i < angstrom.size(); ++i) {
    header += AtomLine(static_cast<int>(i + 1), angstrom[i]);
  }
  return header + "END\n";
}

// Options for `platform`; one thread keeps the CPU tests light on a shared
// machine.
inline EngineOptions Options(const std::string& platform) {
  EngineOptions options;
  options.platform = platform;
  if (platform == "CPU") options.platform_properties["Threads"] = "1";
  return options;
}

// gmock's string matchers take std::string, not Debian absl's string_view.
inline std::string MessageOf(const absl::Status& status) {
  return std::string(status.message());
}

}  // namespace replex::engine::test_util
