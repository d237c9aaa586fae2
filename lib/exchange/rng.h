// Deterministic random numbers: every stream is a pure function of
// (job seed, round, stream id), so a job's decisions can be replayed exactly
// on any machine, whatever ran before.
#pragma once

#include <cstdint>

namespace replex::exchange {

// Mixes its arguments into a well-distributed 64-bit value (SplitMix64
// finaliser chained over the inputs). Used for OpenMM seeds too.
uint64_t DeriveSeed(uint64_t seed, uint64_t a, uint64_t b = 0);

// xoshiro256** seeded from DeriveSeed(seed, round, stream). Not thread-safe.
class Rng {
 public:
  Rng(uint64_t seed, uint64_t round, uint64_t stream = 0);
  uint64_t Next();
  // Uniform in [0, 1), 53 random bits.
  double Uniform();
  // Uniform integer in [0, n), unbiased; n > 0.
  uint64_t Below(uint64_t n);

 private:
  uint64_t s_[4];
};

}  // namespace replex::exchange
