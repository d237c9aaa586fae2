// Finding an OpenMM platform by name and checking its properties, for
// Replica::Create. Internal to replex::engine; loading the plugins (Plugins,
// AvailablePlatforms, PluginLoadFailures) is public in engine.h.
#pragma once

#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace OpenMM {
class Platform;
}  // namespace OpenMM

namespace replex::engine {

// The platform called `name`; UNAVAILABLE otherwise, naming the available
// platforms and why the plugins named after `name` did not load (or, if none
// is, every plugin load failure). Never another platform.
absl::StatusOr<OpenMM::Platform*> FindPlatform(const std::string& name);

// INVALID_ARGUMENT naming the first of `properties` that `platform` lacks.
absl::Status CheckPlatformProperties(
    const OpenMM::Platform& platform,
    const std::map<std::string, std::string>& properties);

}  // namespace replex::engine
