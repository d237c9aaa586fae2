// Writing a file so that a reader (or a crash) sees either the old contents
// or the whole new contents, never a part: write a temporary file beside it,
// then rename it into place. Every whole-file write in replex goes through
// here: checkpoints, port files, the results' JSON files.
#pragma once

#include <filesystem>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace replex::files {

enum class Sync {
  // Atomic against readers and against a crash of this process.
  kNone,
  // Also durable against a power loss once it returns: the file is fsynced
  // before the rename and its directory after it (checkpoints).
  kDurable,
};

// Writes `contents` to `path` through `path`.tmp and a rename. The directory
// must exist. INTERNAL naming the path and the system's reason on failure;
// the temporary file is removed then.
absl::Status WriteFileAtomically(const std::filesystem::path& path,
                                 absl::string_view contents,
                                 Sync sync = Sync::kNone);

// Makes renames and new entries in `dir` durable against a power loss.
absl::Status SyncDirectory(const std::string& dir);

// Makes a file written by another means (a library that owns its writes)
// durable against a power loss.
absl::Status SyncFile(const std::string& path);

// The suffix of the temporary files, so that listings can leave them out.
inline constexpr char kTemporarySuffix[] = ".tmp";

}  // namespace replex::files
