#include "lib/exchange/seeds.h"

#include "lib/exchange/rng.h"

namespace replex::exchange {
namespace {

constexpr uint64_t kSegmentSeedDomain = 0x5e9e47;
constexpr uint64_t kVelocitySeedDomain = 0x7e10c1;
constexpr uint64_t kRestartSeedDomain = 0x2e57a2;

// splitmix64's finaliser.
uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

uint64_t SegmentSeed(uint64_t job_seed, int replica, int64_t round) {
  return DeriveSeed(DeriveSeed(job_seed, kSegmentSeedDomain), replica, round);
}

uint64_t VelocitySeed(uint64_t job_seed, int replica) {
  return DeriveSeed(job_seed, kVelocitySeedDomain, replica);
}

uint64_t RestartVelocitySeed(uint64_t job_seed, int replica, int restarts) {
  return DeriveSeed(VelocitySeed(job_seed, replica), kRestartSeedDomain,
                    restarts);
}

uint64_t MovedVelocitySeed(uint64_t job_seed, int replica, int64_t epoch) {
  return DeriveSeed(VelocitySeed(job_seed, replica), epoch);
}

int OpenMMSeed(uint64_t seed) {
  const int value = static_cast<int>(Mix(seed) & 0x7fffffffULL);
  return value == 0 ? 1 : value;
}

}  // namespace replex::exchange
