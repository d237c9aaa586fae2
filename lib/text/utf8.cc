#include "lib/text/utf8.h"

#include <cstdint>

#include "absl/strings/ascii.h"

namespace replex::text {

std::string ValidUtf8(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    const unsigned char c = text[i];
    // The length of the sequence c starts and the smallest code point it
    // may encode (longer forms of smaller ones are invalid).
    int length = 1;
    uint32_t code = c, min = 0;
    if (c >= 0xC2 && c <= 0xDF) {
      length = 2, code = c & 0x1F, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
      length = 3, code = c & 0x0F, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
      length = 4, code = c & 0x07, min = 0x10000;
    } else if (c >= 0x80) {
      length = 0;  // a continuation byte or a byte UTF-8 never uses
    }
    bool valid = length > 0 && i + length <= text.size();
    for (int k = 1; valid && k < length; ++k) {
      const unsigned char next = text[i + k];
      valid = (next & 0xC0) == 0x80;
      code = (code << 6) | (next & 0x3F);
    }
    valid = valid && code >= min && code <= 0x10FFFF &&
            !(code >= 0xD800 && code <= 0xDFFF);
    if (valid) {
      out.append(text.data() + i, length);
      i += length;
    } else {
      out += '?';
      ++i;
    }
  }
  return out;
}

std::string Shown(absl::string_view input) {
  std::string shown = "\"";
  for (char c : input.substr(0, 40)) {
    shown += absl::ascii_isprint(static_cast<unsigned char>(c)) ? c : '?';
  }
  shown += input.size() > 40 ? "...\"" : "\"";
  return shown;
}

}  // namespace replex::text
