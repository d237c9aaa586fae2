#include "lib/xml/xml.h"

#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace replex::xml {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Characters that end a name: irrXML stops element names at whitespace or
// '>', attribute names at whitespace or '='.
bool EndsName(char c) {
  return IsSpace(c) || c == '>' || c == '/' || c == '=' || c == '<' ||
         c == '"' || c == '\'';
}

class Checker {
 public:
  explicit Checker(absl::string_view text) : text_(text) {}

  absl::StatusOr<Root> Run() {
    if (absl::StartsWith(text_, "\xEF\xBB\xBF")) pos_ = 3;  // UTF-8 mark
    while (true) {
      const size_t open = text_.find('<', pos_);
      if (open == absl::string_view::npos) break;
      pos_ = open;
      absl::Status status = Markup();
      if (!status.ok()) return status;
    }
    if (!open_.empty()) {
      return Error(absl::StrCat(
          "the document ends inside <", open_.back().name, "> opened on line ",
          LineOf(open_.back().offset), " (is it truncated?)"));
    }
    if (!root_seen_) return Error("there is no root element");
    return std::move(root_);
  }

 private:
  struct Open {
    std::string name;
    size_t offset;  // of its '<'; the line is counted only for errors
  };

  // One construct starting at the '<' at pos_; leaves pos_ just past it.
  absl::Status Markup() {
    const absl::string_view rest = text_.substr(pos_);
    if (absl::StartsWith(rest, "<?"))
      return Skip("?>", "a <?...?> declaration");
    if (absl::StartsWith(rest, "<!--")) {
      const size_t start = pos_;
      if (absl::Status status = Skip("-->", "a comment"); !status.ok()) {
        return status;
      }
      // irrXML ends a comment by counting '<' and '>'.
      const absl::string_view body = text_.substr(start + 4, pos_ - start - 7);
      if (body.find_first_of("<>") != absl::string_view::npos) {
        return ErrorAt(start, "a comment holds '<' or '>'; remove them");
      }
      return absl::OkStatus();
    }
    if (absl::StartsWith(rest, "<!")) {
      return ErrorAt(pos_, "DOCTYPE and CDATA sections are not supported");
    }
    if (absl::StartsWith(rest, "</")) return ClosingTag();
    return OpeningTag();
  }

  absl::Status Skip(absl::string_view end, absl::string_view what) {
    const size_t found = text_.find(end, pos_);
    if (found == absl::string_view::npos) {
      return ErrorAt(pos_, absl::StrCat(what, " is never closed with '", end,
                                        "' (is the document truncated?)"));
    }
    pos_ = found + end.size();
    return absl::OkStatus();
  }

  std::string Name() {
    const size_t start = pos_;
    while (pos_ < text_.size() && !EndsName(text_[pos_])) ++pos_;
    return std::string(text_.substr(start, pos_ - start));
  }

  void SkipSpace() {
    while (pos_ < text_.size() && IsSpace(text_[pos_])) ++pos_;
  }

  bool At(char c) const { return pos_ < text_.size() && text_[pos_] == c; }

  absl::Status ClosingTag() {
    const size_t start = pos_;
    pos_ += 2;
    const std::string name = Name();
    SkipSpace();
    if (name.empty() || !At('>')) {
      return ErrorAt(start, "a closing tag is malformed or unterminated");
    }
    ++pos_;
    if (open_.empty() || open_.back().name != name) {
      return ErrorAt(start,
                     open_.empty()
                         ? absl::StrCat("</", name, "> closes nothing")
                         : absl::StrCat("</", name, "> does not close <",
                                        open_.back().name, "> opened on line ",
                                        LineOf(open_.back().offset)));
    }
    open_.pop_back();
    return absl::OkStatus();
  }

  absl::Status OpeningTag() {
    const size_t start = pos_;
    ++pos_;
    Open element{Name(), start};
    if (element.name.empty()) {
      return ErrorAt(start, "'<' is not followed by an element name");
    }
    if (open_.empty() && root_seen_) {
      return ErrorAt(
          start, absl::StrCat("<", element.name, "> follows the root element"));
    }
    if (++elements_ > kMaxElements) {
      return ErrorAt(start,
                     absl::StrCat("the document has more than ", kMaxElements,
                                  " elements, more than any System "
                                  "replex runs; is it what you meant?"));
    }
    if (open_.size() >= static_cast<size_t>(kMaxDepth)) {
      return ErrorAt(start,
                     absl::StrCat("elements are nested more than ", kMaxDepth,
                                  " deep; OpenMM's documents nest a few "
                                  "levels (System, Forces, Force, ...)"));
    }
    std::map<std::string, std::string> attributes;
    while (true) {
      SkipSpace();
      if (pos_ >= text_.size()) {
        return ErrorAt(start, absl::StrCat("<", element.name,
                                           " is never closed with '>' (is "
                                           "the document truncated?)"));
      }
      if (At('>') ||
          (At('/') && pos_ + 1 < text_.size() && text_[pos_ + 1] == '>')) {
        break;
      }
      if (absl::Status status = Attribute(element.name, attributes);
          !status.ok()) {
        return status;
      }
    }
    const bool empty = At('/');
    pos_ += empty ? 2 : 1;
    if (open_.empty()) {
      root_seen_ = true;
      root_ = Root{element.name, std::move(attributes)};
    }
    if (!empty) open_.push_back(std::move(element));
    return absl::OkStatus();
  }

  // name = "value" (or 'value'), inside the tag of `element`.
  absl::Status Attribute(const std::string& element,
                         std::map<std::string, std::string>& attributes) {
    const size_t start = pos_;
    const std::string name = Name();
    SkipSpace();
    if (name.empty() || !At('=')) {
      return ErrorAt(start, absl::StrCat("<", element,
                                         "> has a malformed attribute; write "
                                         "name=\"value\""));
    }
    ++pos_;
    SkipSpace();
    if (!At('"') && !At('\'')) {
      return ErrorAt(start, absl::StrCat("attribute ", name, " of <", element,
                                         "> has no quoted value"));
    }
    const char quote = text_[pos_++];
    const size_t close = text_.find(quote, pos_);
    if (close == absl::string_view::npos) {
      return ErrorAt(
          start, absl::StrCat("the value of attribute ", name, " of <", element,
                              "> is never closed (is the "
                              "document truncated?)"));
    }
    const absl::string_view value = text_.substr(pos_, close - pos_);
    if (value.find('<') != absl::string_view::npos) {
      return ErrorAt(
          start, absl::StrCat("the value of attribute ", name, " of <", element,
                              "> holds '<'; write &lt;"));
    }
    attributes[name] = std::string(value);
    pos_ = close + 1;
    return absl::OkStatus();
  }

  int LineOf(size_t offset) const {
    int line = 1;
    for (size_t i = 0; i < offset && i < text_.size(); ++i) {
      if (text_[i] == '\n') ++line;
    }
    return line;
  }

  absl::Status ErrorAt(size_t offset, absl::string_view what) const {
    return absl::InvalidArgumentError(
        absl::StrCat("line ", LineOf(offset), ": ", what));
  }

  absl::Status Error(absl::string_view what) const {
    return absl::InvalidArgumentError(std::string(what));
  }

  absl::string_view text_;
  size_t pos_ = 0;
  std::vector<Open> open_;
  int64_t elements_ = 0;
  bool root_seen_ = false;
  Root root_;
};

}  // namespace

absl::StatusOr<Root> CheckDocument(absl::string_view document) {
  return Checker(document).Run();
}

}  // namespace replex::xml
