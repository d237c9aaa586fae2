// Small helpers shared by the benchmark programs.
#pragma once

#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace replex::bench {

// The integers of a comma-separated flag value such as "16,256,1024";
// entries that are not integers are skipped.
inline std::vector<int> Ints(const std::string& list) {
  std::vector<int> values;
  for (absl::string_view part : absl::StrSplit(list, ',', absl::SkipEmpty())) {
    int value;
    if (absl::SimpleAtoi(part, &value)) values.push_back(value);
  }
  return values;
}

}  // namespace replex::bench
