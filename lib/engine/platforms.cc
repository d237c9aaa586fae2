// OpenMM's plugins and platforms: loading the plugins once per process, and
// finding a platform by name without ever falling back to another.
#include "lib/engine/platforms.h"

#include <OpenMM.h>

#include <algorithm>
#include <exception>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "lib/engine/engine.h"

namespace replex::engine {
namespace {

std::once_flag plugins_once;
// Written once under plugins_once, read-only afterwards.
std::vector<std::string>* plugin_failures = nullptr;

void LoadPluginsOnce() {
  std::call_once(plugins_once, [] {
    plugin_failures = new std::vector<std::string>();
    try {
      OpenMM::Platform::loadPluginsFromDirectory(
          OpenMM::Platform::getDefaultPluginsDirectory());
      *plugin_failures = OpenMM::Platform::getPluginLoadFailures();
    } catch (const std::exception& e) {
      plugin_failures->push_back(e.what());
    }
  });
}

}  // namespace

std::vector<std::string> AvailablePlatforms() {
  LoadPluginsOnce();
  std::vector<std::string> names;
  for (int i = 0; i < OpenMM::Platform::getNumPlatforms(); ++i) {
    names.push_back(OpenMM::Platform::getPlatform(i).getName());
  }
  return names;
}

std::vector<std::string> PluginLoadFailures() {
  LoadPluginsOnce();
  return *plugin_failures;
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
  const std::vector<std::string> failures = PluginLoadFailures();
  if (!failures.empty()) {
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
