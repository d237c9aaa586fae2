#include "replica-worker/gpu_sharing.h"

#include <algorithm>
#include <cstdlib>

#include "absl/strings/str_format.h"

namespace replex::worker {

std::string MpsControlPipe() {
  const char* directory = std::getenv("CUDA_MPS_PIPE_DIRECTORY");
  return absl::StrFormat("%s/control", directory != nullptr && *directory != 0
                                           ? directory
                                           : "/tmp/nvidia-mps");
}

std::optional<std::string> GpuSharingWarning(const std::string& platform,
                                             int slots, int devices,
                                             bool mps_running) {
  // Slot s drives device s mod devices, so the busiest device has this many.
  const int per_device =
      (slots + std::max(devices, 1) - 1) / std::max(devices, 1);
  if (platform != "CUDA" || per_device <= 1 || mps_running) return std::nullopt;
  return absl::StrFormat(
      "%d slots share each GPU, but no CUDA MPS control pipe is at %s: "
      "without MPS a GPU runs one Context's kernels at a time, so slots "
      "beyond one per device add no throughput (on an H200 they cost "
      "14-16%%). Start nvidia-cuda-mps-control "
      "-d before the worker (see docs/worker.md, \"Sizing: replicas per "
      "GPU\"), or give --slots one per device",
      per_device, MpsControlPipe());
}

}  // namespace replex::worker
