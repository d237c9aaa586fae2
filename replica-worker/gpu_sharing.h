// Whether a worker's slots can share a GPU at all: OpenMM 7.7 gives every
// Context its own CUDA context, and a GPU time-slices contexts unless CUDA
// MPS (the Multi-Process Service) merges them, so without MPS a second slot
// on a device adds no throughput (docs/benchmarks.md, "GPUs").
#pragma once

#include <optional>
#include <string>

namespace replex::worker {

// The MPS control pipe a CUDA client would use: $CUDA_MPS_PIPE_DIRECTORY,
// else CUDA's default /tmp/nvidia-mps, plus "/control".
std::string MpsControlPipe();

// A warning for the log when `platform` is CUDA, more than one slot shares a
// device (slot s drives device s mod `devices`; 0 devices count as one) and
// `mps_running` is false; none otherwise.
std::optional<std::string> GpuSharingWarning(const std::string& platform,
                                             int slots, int devices,
                                             bool mps_running);

}  // namespace replex::worker
