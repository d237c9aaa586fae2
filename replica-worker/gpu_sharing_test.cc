#include "replica-worker/gpu_sharing.h"

#include <cstdlib>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace replex::worker {
namespace {

using ::testing::HasSubstr;
using ::testing::Optional;

TEST(GpuSharingTest, WarnsWhenCudaSlotsShareADeviceWithoutMps) {
  EXPECT_THAT(GpuSharingWarning("CUDA", 4, 2, false),
              Optional(HasSubstr("2 slots share each GPU")));
  EXPECT_THAT(GpuSharingWarning("CUDA", 2, 0, false),
              Optional(HasSubstr("nvidia-cuda-mps-control")));
  // Three slots on two devices: device 0 has slots 0 and 2.
  EXPECT_THAT(GpuSharingWarning("CUDA", 3, 2, false),
              Optional(HasSubstr("2 slots share each GPU")));
}

TEST(GpuSharingTest, IsQuietWithMpsOneSlotPerDeviceOrAnotherPlatform) {
  EXPECT_EQ(GpuSharingWarning("CUDA", 4, 2, true), std::nullopt);
  EXPECT_EQ(GpuSharingWarning("CUDA", 2, 2, false), std::nullopt);
  EXPECT_EQ(GpuSharingWarning("CUDA", 1, 0, false), std::nullopt);
  // OpenCL and CPU Contexts are not CUDA contexts; MPS does not apply.
  EXPECT_EQ(GpuSharingWarning("OpenCL", 4, 1, false), std::nullopt);
  EXPECT_EQ(GpuSharingWarning("CPU", 4, 0, false), std::nullopt);
}

TEST(GpuSharingTest, ThePipeFollowsCudasVariable) {
  ASSERT_EQ(setenv("CUDA_MPS_PIPE_DIRECTORY", "/run/mps", 1), 0);
  EXPECT_EQ(MpsControlPipe(), "/run/mps/control");
  ASSERT_EQ(unsetenv("CUDA_MPS_PIPE_DIRECTORY"), 0);
  EXPECT_EQ(MpsControlPipe(), "/tmp/nvidia-mps/control");
}

}  // namespace
}  // namespace replex::worker
