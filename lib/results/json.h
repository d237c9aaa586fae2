// The few JSON spellings the results files need (no JSON library in the
// build; the values are numbers, strings and arrays of them).
#pragma once

#include <cmath>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace replex::results::json {

// JSON has no NaN or infinity: unknown values become null.
inline std::string Number(double x) {
  return std::isfinite(x) ? absl::StrFormat("%.17g", x) : "null";
}

inline std::string String(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      absl::StrAppendFormat(&out, "\\u%04x", c);
    } else {
      out += c;
    }
  }
  return out + "\"";
}

template <typename T>
std::string Array(const std::vector<T>& values) {
  std::vector<std::string> parts;
  for (const T& v : values) {
    if constexpr (std::is_floating_point_v<T>) {
      parts.push_back(Number(v));
    } else if constexpr (std::is_same_v<T, std::string>) {
      parts.push_back(String(v));
    } else {
      parts.push_back(absl::StrCat(v));
    }
  }
  return absl::StrCat("[", absl::StrJoin(parts, ","), "]");
}

}  // namespace replex::results::json
