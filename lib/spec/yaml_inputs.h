// The YAML reader's shared pieces: where a node is, errors that say so,
// strings, and the input files a job spec names (its System, coordinates,
// topology and per-replica starts), read relative to the YAML file.
// Internal to replex::spec; callers use spec.h.
#pragma once

#include <filesystem>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "lib/spec/yaml_tree.h"
#include "replex/v1/job.pb.h"

namespace replex::spec::internal {

// " (line L, column C)", or "" for a node that has no position.
std::string Position(const YamlNode& node);

// INVALID_ARGUMENT naming the YAML path, the problem and the position.
absl::Status YamlError(const YamlNode& node, absl::string_view path,
                       absl::string_view problem);

// Adds where in the YAML text a value came from to a shared check's error.
absl::Status WithPosition(const absl::Status& status, const YamlNode& node);

// What a node is, for "expected X, got Y".
std::string Describe(const YamlNode& node);

absl::StatusOr<std::string> ReadString(const YamlNode& node,
                                       const std::string& path);

// A whole file; NOT_FOUND naming it (absolute) for a missing file or a
// directory. `what` names the input in the error.
absl::StatusOr<std::string> ReadFileContents(const std::filesystem::path& file,
                                             absl::string_view what);

// The contents of the non-empty file a key names, relative to base_dir. Sets
// `name` to the name as written.
absl::StatusOr<std::string> ReadInputFile(const YamlNode& node,
                                          const std::string& path,
                                          const std::filesystem::path& base_dir,
                                          std::string& name);

// A State XML or .pdb file (by its extension).
absl::StatusOr<v1::Coordinates> ReadCoordinates(
    const YamlNode& node, const std::string& path,
    const std::filesystem::path& base_dir);

// A list of coordinate files, or one string naming a directory whose .xml and
// .pdb files, in name order, are the starts of replicas 0, 1, ...
absl::Status ReadReplicaStarts(const YamlNode& node, const std::string& path,
                               const std::filesystem::path& base_dir,
                               v1::JobSpec& spec);

}  // namespace replex::spec::internal
