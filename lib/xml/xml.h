// A strict well-formedness check for the XML documents replex hands to
// OpenMM's XmlSerializer. OpenMM 7.7 parses with irrXML, which scans for '>',
// whitespace or '=' without checking for the end of its buffer, so a
// truncated or malformed document (an unclosed tag, an attribute without a
// value) makes it read past the end and crash the process. Every document is
// checked here first; one that passes only ever makes irrXML stop at a
// character it is looking for.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace replex::xml {

// The root element of a well-formed document.
struct Root {
  std::string name;
  std::map<std::string, std::string> attributes;
};

// OpenMM builds its whole node tree in memory and walks it recursively, so a
// document nested too deep would overflow a worker's stack and one with too
// many elements exhaust its memory. Real ones nest a few levels (a
// CustomCVForce's inner forces a few more) and a million-atom System has
// about ten million elements.
inline constexpr int kMaxDepth = 64;
inline constexpr int64_t kMaxElements = 50'000'000;

// Checks `document` is well-formed in the XML subset OpenMM writes and reads:
// elements with quoted attributes, text, <?...?> declarations and comments
// that hold no '<' or '>'; exactly one root element; at most kMaxDepth
// deep and kMaxElements elements. DOCTYPE and CDATA are refused. Errors are
// INVALID_ARGUMENT naming the line and what is wrong.
absl::StatusOr<Root> CheckDocument(absl::string_view document);

}  // namespace replex::xml
