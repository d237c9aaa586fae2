// The YAML reader's shared pieces and the input files a spec names
// (yaml_inputs.h).
#include "lib/spec/yaml_inputs.h"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <system_error>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "lib/spec/field_errors.h"

namespace replex::spec::internal {

std::string Position(const YamlNode& node) {
  if (node.line < 0) return "";
  return absl::StrCat(" (line ", node.line + 1, ", column ", node.column + 1,
                      ")");
}

absl::Status YamlError(const YamlNode& node, absl::string_view path,
                       absl::string_view problem) {
  return FieldError(path, absl::StrCat(problem, Position(node)));
}

// Adds where in the YAML text a value came from to a shared check's error.
absl::Status WithPosition(const absl::Status& status, const YamlNode& node) {
  if (status.ok()) return status;
  return absl::Status(status.code(),
                      absl::StrCat(status.message(), Position(node)));
}

// What a node is, for "expected X, got Y".
std::string Describe(const YamlNode& node) {
  switch (node.kind) {
    case YamlNode::Kind::kMap:
      return "a map";
    case YamlNode::Kind::kSequence:
      return "a list";
    case YamlNode::Kind::kScalar:
      return Quote(node.text);
    case YamlNode::Kind::kNull:
      break;
  }
  return "nothing";
}

absl::StatusOr<std::string> ReadString(const YamlNode& node,
                                       const std::string& path) {
  if (!node.IsScalar()) {
    return YamlError(node, path,
                     absl::StrCat("expected a string, got ", Describe(node)));
  }
  return node.text;
}

absl::StatusOr<std::string> ReadFileContents(const std::filesystem::path& file,
                                             absl::string_view what) {
  std::error_code error;
  std::filesystem::path shown = std::filesystem::absolute(file, error);
  if (error) shown = file;
  shown = shown.lexically_normal();
  if (std::filesystem::is_directory(file, error)) {
    return absl::NotFoundError(absl::StrCat(what, ": ", shown.string(),
                                            " is a directory, not a file"));
  }
  // A device or a pipe (/dev/zero, /dev/stdin) would be read forever.
  if (std::filesystem::exists(file, error) &&
      !std::filesystem::is_regular_file(file, error)) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": ", shown.string(),
                     " is not a regular file (a device or a pipe?)"));
  }
  // Nothing larger fits in a gRPC message (2 GiB), so none is read whole.
  constexpr uintmax_t kMaxInputBytes = (uintmax_t{1} << 31) - 1;
  if (const uintmax_t size = std::filesystem::file_size(file, error);
      !error && size > kMaxInputBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": ", shown.string(), " is ", size,
                     " bytes, more than a job can carry (2 GiB)"));
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat(what, ": cannot read ",
                                            shown.string(), " (",
                                            std::strerror(errno), ")"));
  }
  std::string contents{std::istreambuf_iterator<char>(in),
                       std::istreambuf_iterator<char>()};
  if (in.bad()) {
    return absl::NotFoundError(
        absl::StrCat(what, ": error reading ", shown.string()));
  }
  return contents;
}

// The contents of the non-empty file a key names, relative to base_dir. Sets
// `name` to the name as written.
absl::StatusOr<std::string> ReadInputFile(const YamlNode& node,
                                          const std::string& path,
                                          const std::filesystem::path& base_dir,
                                          std::string& name) {
  absl::StatusOr<std::string> text = ReadString(node, path);
  if (!text.ok()) return text.status();
  if (text->empty()) return YamlError(node, path, "empty file name");
  name = *text;
  const std::filesystem::path file = base_dir / name;
  absl::StatusOr<std::string> contents = ReadFileContents(file, path);
  if (!contents.ok()) {
    return absl::Status(
        contents.status().code(),
        absl::StrCat(contents.status().message(), Position(node),
                     std::filesystem::path(name).is_relative()
                         ? "; relative names are resolved against the YAML "
                           "file's directory"
                         : ""));
  }
  if (contents->empty()) {
    return YamlError(node, path, absl::StrCat(file.string(), " is empty"));
  }
  return contents;
}

// A State XML or .pdb file (by its extension).
absl::StatusOr<v1::Coordinates> ReadCoordinates(
    const YamlNode& node, const std::string& path,
    const std::filesystem::path& base_dir) {
  std::string name;
  absl::StatusOr<std::string> text = ReadInputFile(node, path, base_dir, name);
  if (!text.ok()) return text.status();
  v1::Coordinates coordinates;
  if (absl::AsciiStrToLower(std::filesystem::path(name).extension().string()) ==
      ".pdb") {
    coordinates.set_pdb(*std::move(text));
  } else {
    coordinates.set_state_xml(*std::move(text));
  }
  return coordinates;
}

// A list of coordinate files, or one string naming a directory whose .xml and
// .pdb files, in name order, are the starts of replicas 0, 1, ...
absl::Status ReadReplicaStarts(const YamlNode& node, const std::string& path,
                               const std::filesystem::path& base_dir,
                               v1::JobSpec& spec) {
  if (node.IsSequence()) {
    for (size_t i = 0; i < node.items.size(); ++i) {
      absl::StatusOr<v1::Coordinates> start = ReadCoordinates(
          node.items[i], absl::StrCat(path, "[", i, "]"), base_dir);
      if (!start.ok()) return start.status();
      *spec.add_replica_starts() = *std::move(start);
    }
    return absl::OkStatus();
  }
  absl::StatusOr<std::string> name = ReadString(node, path);
  if (!name.ok()) return name.status();
  const std::filesystem::path dir = base_dir / *name;
  std::error_code error;
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
    const std::string extension =
        absl::AsciiStrToLower(entry.path().extension().string());
    if (extension == ".pdb" || extension == ".xml") {
      files.push_back(entry.path().filename().string());
    }
  }
  if (error || files.empty()) {
    return YamlError(
        node, path,
        absl::StrCat(dir.string(),
                     error ? absl::StrCat(": ", error.message())
                           : " holds no .xml or .pdb files",
                     "; give a directory of one State XML or .pdb per "
                     "replica, or a list of files"));
  }
  std::sort(files.begin(), files.end());
  for (const std::string& file : files) {
    absl::StatusOr<v1::Coordinates> start = ReadCoordinates(
        ScalarNode((std::filesystem::path(*name) / file).string()),
        absl::StrCat(path, "/", file), base_dir);
    if (!start.ok()) return start.status();
    *spec.add_replica_starts() = *std::move(start);
  }
  return absl::OkStatus();
}

}  // namespace replex::spec::internal
