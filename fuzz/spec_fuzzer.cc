// libFuzzer target: the YAML job spec reader (replexctl submit, replex run).
// Files the YAML names are looked up in a directory holding only the
// harmonic-oscillator example's system.xml and state.xml and a start.pdb, so
// inputs naming them get past the files to the rest of the spec. A spec it
// accepts passes validation again unchanged.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>

#include "lib/spec/spec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::filesystem::path* const inputs = [] {
    namespace fs = std::filesystem;
    auto* dir = new fs::path(fs::temp_directory_path() / "replex-spec-fuzzer");
    fs::create_directories(*dir);
    const fs::path examples = fs::path(REPLEX_SOURCE_DIR) / "examples";
    for (const auto& [from, to] :
         {std::pair{"harmonic-oscillator/system.xml", "system.xml"},
          std::pair{"harmonic-oscillator/state.xml", "state.xml"},
          std::pair{"alanine-dipeptide/input.pdb", "start.pdb"}}) {
      fs::copy_file(examples / from, *dir / to,
                    fs::copy_options::overwrite_existing);
    }
    return dir;
  }();
  absl::StatusOr<replex::v1::JobSpec> spec = replex::spec::ParseYaml(
      std::string(reinterpret_cast<const char*>(data), size), *inputs);
  if (spec.ok() && !replex::spec::Validate(*spec).ok()) __builtin_trap();
  return 0;
}
