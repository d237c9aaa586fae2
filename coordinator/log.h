// The coordinator's operational log: one line per job state change and per
// worker join or leave, on stderr, where a container runtime collects it.
#pragma once

#include "absl/strings/string_view.h"

namespace replex::coordinator {

// Writes "<UTC time> <line>\n" to stderr. Thread-safe; lines never interleave.
void LogLine(absl::string_view line);

}  // namespace replex::coordinator
