// Finding an OpenMM platform by name and checking its properties, for
// Replica::Create. Internal to replex::engine; AvailablePlatforms and
// PluginLoadFailures are public in engine.h.
#pragma once

#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace OpenMM {
class Platform;
}  // namespace OpenMM

namespace replex::engine {

// The platform called `name`; UNAVAILABLE naming the available platforms and
// any plugin load failures otherwise. Never another platform.
absl::StatusOr<OpenMM::Platform*> FindPlatform(const std::string& name);

// INVALID_ARGUMENT naming the first of `properties` that `platform` lacks.
absl::Status CheckPlatformProperties(
    const OpenMM::Platform& platform,
    const std::map<std::string, std::string>& properties);

}  // namespace replex::engine
