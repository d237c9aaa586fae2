// The YAML tree (yaml_tree.h), built from libyaml's events.
#include "lib/spec/yaml_tree.h"

#include <cstddef>
#include <map>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "yaml.h"

namespace replex::spec::internal {
namespace {

constexpr size_t kMaxDepth = 64;
constexpr size_t kMaxNodes = 1000000;

std::string At(const yaml_mark_t& mark) {
  return absl::StrCat("line ", mark.line + 1, ", column ", mark.column + 1);
}

absl::Status ParserError(const yaml_parser_t& parser) {
  const std::string problem = parser.problem ? parser.problem : "unknown";
  switch (parser.error) {
    case YAML_READER_ERROR:
      return absl::InvalidArgumentError(
          absl::StrCat("byte ", parser.problem_offset, ": ", problem,
                       "; YAML is text in UTF-8"));
    case YAML_SCANNER_ERROR:
    case YAML_PARSER_ERROR:
      return absl::InvalidArgumentError(absl::StrCat(
          "YAML syntax error at ", At(parser.problem_mark), ": ", problem,
          parser.context ? absl::StrCat(" (", parser.context, " at ",
                                        At(parser.context_mark), ")")
                         : ""));
    default:
      return absl::ResourceExhaustedError(
          absl::StrCat("reading YAML: ", problem));
  }
}

bool IsNullText(const std::string& text) {
  return text.empty() || text == "~" || text == "null" || text == "Null" ||
         text == "NULL";
}

size_t CountNodes(const YamlNode& node) {
  size_t count = 1;
  for (const YamlNode& item : node.items) count += CountNodes(item);
  for (const YamlNode::Entry& entry : node.entries) {
    count += CountNodes(entry.key) + CountNodes(entry.value);
  }
  return count;
}

// Builds the tree from the events: collections being read are on a stack,
// map keys and values alternate in `items` until the map ends.
class TreeBuilder {
 public:
  absl::Status Take(const yaml_event_t& event) {
    const yaml_mark_t& mark = event.start_mark;
    switch (event.type) {
      case YAML_SCALAR_EVENT: {
        YamlNode node = Positioned(mark);
        node.text.assign(reinterpret_cast<const char*>(event.data.scalar.value),
                         event.data.scalar.length);
        const bool plain = event.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        node.kind = plain && IsNullText(node.text) ? YamlNode::Kind::kNull
                                                   : YamlNode::Kind::kScalar;
        return Add(std::move(node), event.data.scalar.anchor, mark);
      }
      case YAML_SEQUENCE_START_EVENT:
      case YAML_MAPPING_START_EVENT: {
        if (open_.size() >= kMaxDepth) {
          return absl::InvalidArgumentError(absl::StrCat(
              "YAML nested more than ", kMaxDepth, " deep at ", At(mark)));
        }
        YamlNode node = Positioned(mark);
        const bool map = event.type == YAML_MAPPING_START_EVENT;
        node.kind = map ? YamlNode::Kind::kMap : YamlNode::Kind::kSequence;
        const yaml_char_t* anchor = map ? event.data.mapping_start.anchor
                                        : event.data.sequence_start.anchor;
        open_.push_back({std::move(node), anchor ? AsString(anchor) : ""});
        return CountNew(1, mark);
      }
      case YAML_SEQUENCE_END_EVENT:
      case YAML_MAPPING_END_EVENT: {
        Open done = std::move(open_.back());
        open_.pop_back();
        if (done.node.IsMap()) {
          std::vector<YamlNode>& items = done.node.items;
          for (size_t i = 0; i + 1 < items.size(); i += 2) {
            done.node.entries.push_back(
                {std::move(items[i]), std::move(items[i + 1])});
          }
          items.clear();
        }
        if (!done.anchor.empty()) anchors_[done.anchor] = done.node;
        Place(std::move(done.node));
        return absl::OkStatus();
      }
      case YAML_ALIAS_EVENT: {
        const std::string name = AsString(event.data.alias.anchor);
        const auto it = anchors_.find(name);
        if (it == anchors_.end()) {
          return absl::InvalidArgumentError(
              absl::StrCat("*", name, " at ", At(mark), " names no anchor (&",
                           name, ") before it"));
        }
        if (absl::Status status = CountNew(CountNodes(it->second), mark);
            !status.ok()) {
          return status;
        }
        Place(it->second);
        return absl::OkStatus();
      }
      default:  // stream and document starts and ends
        return absl::OkStatus();
    }
  }

  std::vector<YamlNode> TakeDocuments() { return std::move(documents_); }

 private:
  struct Open {
    YamlNode node;
    std::string anchor;  // "" for none
  };

  static std::string AsString(const yaml_char_t* text) {
    return reinterpret_cast<const char*>(text);
  }

  static YamlNode Positioned(const yaml_mark_t& mark) {
    YamlNode node;
    node.line = static_cast<int>(mark.line);
    node.column = static_cast<int>(mark.column);
    return node;
  }

  absl::Status CountNew(size_t count, const yaml_mark_t& mark) {
    nodes_ += count;
    if (nodes_ > kMaxNodes) {
      return absl::InvalidArgumentError(
          absl::StrCat("more than ", kMaxNodes,
                       " YAML nodes (aliases included) by ", At(mark)));
    }
    return absl::OkStatus();
  }

  absl::Status Add(YamlNode node, const yaml_char_t* anchor,
                   const yaml_mark_t& mark) {
    if (absl::Status status = CountNew(1, mark); !status.ok()) return status;
    if (anchor != nullptr) anchors_[AsString(anchor)] = node;
    Place(std::move(node));
    return absl::OkStatus();
  }

  void Place(YamlNode node) {
    if (open_.empty()) {
      documents_.push_back(std::move(node));
    } else {
      open_.back().node.items.push_back(std::move(node));
    }
  }

  std::vector<Open> open_;
  std::map<std::string, YamlNode> anchors_;
  std::vector<YamlNode> documents_;
  size_t nodes_ = 0;
};

}  // namespace

YamlNode ScalarNode(std::string text) {
  YamlNode node;
  node.kind = YamlNode::Kind::kScalar;
  node.text = std::move(text);
  return node;
}

absl::StatusOr<std::vector<YamlNode>> ParseYamlDocuments(
    const std::string& yaml) {
  yaml_parser_t parser;
  if (!yaml_parser_initialize(&parser)) {
    return absl::ResourceExhaustedError("out of memory");
  }
  yaml_parser_set_input_string(
      &parser, reinterpret_cast<const unsigned char*>(yaml.data()),
      yaml.size());
  TreeBuilder builder;
  absl::Status status;
  for (bool end = false; !end && status.ok();) {
    yaml_event_t event;
    if (!yaml_parser_parse(&parser, &event)) {
      status = ParserError(parser);
      break;
    }
    end = event.type == YAML_STREAM_END_EVENT;
    status = builder.Take(event);
    yaml_event_delete(&event);
  }
  yaml_parser_delete(&parser);
  if (!status.ok()) return status;
  return builder.TakeDocuments();
}

}  // namespace replex::spec::internal
