// OpenMM's plugins and platforms: loading the plugins once per process, from
// OpenMM's directory and replex's, and finding a platform by name without
// ever falling back to another.
#include "lib/engine/platforms.h"

#include <OpenMM.h>

#include <algorithm>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "lib/engine/engine.h"

namespace replex::engine {
namespace {

// OpenMM's "Error loading library FILE: REASON" as "FILE: REASON", saying
// what a missing libcuda means: the CUDA toolkit's stub stands in for it at
// link time only, the real one comes with the NVIDIA driver.
std::string DescribeFailure(absl::string_view message) {
  absl::ConsumePrefix(&message, "Error loading library ");
  std::string failure(message);
  if (absl::StrContains(message, "libcuda.so") &&
      absl::StrContains(message, "cannot open shared object file")) {
    absl::StrAppend(&failure, " (no NVIDIA driver on this machine)");
  }
  return failure;
}

// The failures of plugin files named after `platform` (libOpenMMCUDA.so and
// libOpenMMCudaCompiler.so for CUDA), which say why it is missing.
std::vector<std::string> FailuresNaming(
    absl::string_view platform, const std::vector<std::string>& failures) {
  const std::string wanted = absl::AsciiStrToLower(platform);
  std::vector<std::string> named;
  for (const std::string& failure : failures) {
    absl::string_view file(failure);
    file = file.substr(0, file.find(": "));
    file = file.substr(file.rfind('/') + 1);
    if (absl::StrContains(absl::AsciiStrToLower(file), wanted)) {
      named.push_back(failure);
    }
  }
  return named;
}

void LoadFrom(const std::string& directory, PluginReport& report) {
  report.directories.push_back(directory);
  try {
    for (const std::string& file :
         OpenMM::Platform::loadPluginsFromDirectory(directory)) {
      report.loaded_files.push_back(file);
    }
    // OpenMM keeps the failures of its latest load only.
    for (const std::string& failure :
         OpenMM::Platform::getPluginLoadFailures()) {
      report.failures.push_back(DescribeFailure(failure));
    }
  } catch (const std::exception& e) {
    report.failures.push_back(absl::StrCat(directory, ": ", e.what()));
  }
}

PluginReport LoadPlugins() {
  PluginReport report;
  const std::string openmm_directory =
      OpenMM::Platform::getDefaultPluginsDirectory();
  LoadFrom(openmm_directory, report);
  // Loading one directory twice would register its platforms twice.
  const std::string replex_directory = ReplexPluginDirectory();
  std::error_code error;
  if (!std::filesystem::equivalent(openmm_directory, replex_directory, error)) {
    LoadFrom(replex_directory, report);
  }
  for (int i = 0; i < OpenMM::Platform::getNumPlatforms(); ++i) {
    report.platforms.push_back(OpenMM::Platform::getPlatform(i).getName());
  }
  return report;
}

}  // namespace

std::string ReplexPluginDirectory() {
  const char* directory = std::getenv("REPLEX_OPENMM_PLUGIN_DIR");
  return directory != nullptr && *directory != '\0'
             ? directory
             : kDefaultReplexPluginDirectory;
}

const PluginReport& Plugins() {
  // Built once, under the guard of a function-local static; never destroyed,
  // as OpenMM's plugins stay loaded until the process ends.
  static const PluginReport* const report = new PluginReport(LoadPlugins());
  return *report;
}

std::vector<std::string> AvailablePlatforms() { return Plugins().platforms; }

std::vector<std::string> PluginLoadFailures() { return Plugins().failures; }

std::string PluginSummary() {
  const PluginReport& report = Plugins();
  const std::string directory = ReplexPluginDirectory();
  std::vector<std::string> loaded, failed;
  for (const std::string& file : report.loaded_files) {
    if (absl::StartsWith(file, directory)) {
      loaded.push_back(std::filesystem::path(file).filename().string());
    }
  }
  // Failures read "FILE: why"; OpenMM's own directory's (Debian's Drude and
  // AMOEBA plugins, say) are left to Plugins().
  for (const std::string& failure : report.failures) {
    if (!absl::StartsWith(failure, directory)) continue;
    const size_t colon = failure.find(": ");
    const std::string file = failure.substr(0, colon);
    failed.push_back(absl::StrCat(
        std::filesystem::path(file).filename().string(), " (",
        colon == std::string::npos ? "" : failure.substr(colon + 2), ")"));
  }
  return absl::StrCat(
      "OpenMM platforms ", absl::StrJoin(report.platforms, ", "), "; ",
      directory, ": loaded ", loaded.empty() ? "nothing" : absl::StrJoin(loaded, ", "),
      failed.empty() ? "" : absl::StrCat("; failed ", absl::StrJoin(failed, "; ")));
}

absl::StatusOr<OpenMM::Platform*> FindPlatform(const std::string& name) {
  const std::vector<std::string> available = AvailablePlatforms();
  for (const std::string& candidate : available) {
    if (candidate == name) return &OpenMM::Platform::getPlatformByName(name);
  }
  std::string message = absl::StrCat(
      "OpenMM platform '", name, "' is not available here (available: ",
      available.empty() ? "none" : absl::StrJoin(available, ", "),
      "); the engine never falls back to another platform");
  const std::vector<std::string>& failures = Plugins().failures;
  const std::vector<std::string> reasons = FailuresNaming(name, failures);
  if (!reasons.empty()) {
    absl::StrAppend(
        &message, ". Its plugins did not load: ", absl::StrJoin(reasons, "; "));
  } else if (!failures.empty()) {
    absl::StrAppend(&message,
                    ". Plugin load failures: ", absl::StrJoin(failures, "; "));
  }
  return absl::UnavailableError(message);
}

absl::Status CheckPlatformProperties(
    const OpenMM::Platform& platform,
    const std::map<std::string, std::string>& properties) {
  const std::vector<std::string>& known = platform.getPropertyNames();
  for (const auto& [name, value] : properties) {
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "platform property '", name, "' is not a property of the ",
          platform.getName(), " platform (it has ",
          known.empty() ? "none" : absl::StrJoin(known, ", "), ")"));
    }
  }
  return absl::OkStatus();
}

}  // namespace replex::engine
