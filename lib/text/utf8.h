// Text that leaves a process (error messages, names in logs and metrics)
// quotes inputs that may hold any bytes; clients that decode it as UTF-8
// (grpcurl, Python, Prometheus) fail on invalid sequences.
#pragma once

#include <string>

#include "absl/strings/string_view.h"

namespace replex::text {

// `text` with each byte of an invalid UTF-8 sequence (overlong forms,
// surrogates, past U+10FFFF, truncated) replaced by '?'.
std::string ValidUtf8(absl::string_view text);

inline bool IsValidUtf8(absl::string_view text) {
  return ValidUtf8(text) == text;
}

// A refused input quoted in an error: its first 40 bytes, each one that is
// not printable ASCII shown as '?', so that no control characters, invalid
// UTF-8 or megabytes are echoed back ("\"abc?d...\"").
std::string Shown(absl::string_view input);

}  // namespace replex::text
