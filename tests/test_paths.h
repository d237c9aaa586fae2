// Where the tests find the source tree (examples/) and the built binaries;
// CMake passes both as compile definitions.
#pragma once

#include <string>

namespace replex::testing {

inline std::string SourcePath(const std::string& relative) {
  return std::string(REPLEX_SOURCE_DIR) + "/" + relative;
}

}  // namespace replex::testing
