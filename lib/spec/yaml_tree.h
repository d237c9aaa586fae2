// A YAML document as a tree of nodes, parsed by libyaml. Internal to
// replex::spec; callers use spec.h.
//
// libyaml, the reference C parser, reads job files: yaml-cpp 0.7 never
// returns on some malformed YAML and on some valid YAML (a multi-line plain
// value after a tag); fuzz/spec_fuzzer.cc found several such inputs.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace replex::spec::internal {

struct YamlNode {
  enum class Kind { kNull, kScalar, kSequence, kMap };
  struct Entry;

  // A plain "", "~" or "null" (any case YAML allows) is kNull; a quoted one
  // is the string.
  Kind kind = Kind::kNull;
  std::string text;             // a scalar's value
  std::vector<YamlNode> items;  // a sequence's items
  std::vector<Entry> entries;   // a map's entries, in the file's order
  // Where the node starts in the text, from 0; -1 for a node made in code.
  int line = -1;
  int column = -1;

  bool IsNull() const { return kind == Kind::kNull; }
  bool IsScalar() const { return kind == Kind::kScalar; }
  bool IsSequence() const { return kind == Kind::kSequence; }
  bool IsMap() const { return kind == Kind::kMap; }
};

struct YamlNode::Entry {
  YamlNode key;
  YamlNode value;
};

// A scalar made in code (no position).
YamlNode ScalarNode(std::string text);

// The documents of a YAML stream. Line breaks ("\r\n", "\r") are read as
// "\n" (libyaml does), aliases as copies of what they name. INVALID_ARGUMENT
// with the line and column for a syntax error, bytes that are not UTF-8 text,
// an unknown alias, nesting deeper than 64, or more than a million nodes
// (aliases can multiply them).
absl::StatusOr<std::vector<YamlNode>> ParseYamlDocuments(
    const std::string& yaml);

}  // namespace replex::spec::internal
