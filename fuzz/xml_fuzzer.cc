// libFuzzer target: the XML check every System and State passes before
// OpenMM's parser sees it. It must never crash, hang or recurse, whatever
// the bytes.
#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "lib/xml/xml.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  replex::xml::CheckDocument(
      absl::string_view(reinterpret_cast<const char*>(data), size))
      .IgnoreError();
  return 0;
}
