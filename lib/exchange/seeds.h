// Every seed a job uses, derived from its spec's seed in this one place: a
// job's result depends only on its spec and seed (docs/exchange.md), and
// here is the whole of how the seed spreads. Domain separators keep the
// streams independent of each other and of the exchange decisions, which
// draw from Rng(job seed, round) (rng.h).
#pragma once

#include <cstdint>

namespace replex::exchange {

// A replica's segment in a round: the Reference platform's random forces.
uint64_t SegmentSeed(uint64_t job_seed, int replica, int64_t round);

// A replica's first velocities (drawn at its rung), and its Context's
// per-Context noise stream on platforms that have one.
uint64_t VelocitySeed(uint64_t job_seed, int replica);

// A replica restarted after it failed (NaN energy): fresh velocities, new
// for each of the job's `restarts`, so it does not replay the trajectory
// that failed.
uint64_t RestartVelocitySeed(uint64_t job_seed, int replica, int restarts);

// A replica restored from its state on a new host at `epoch`: a fresh
// per-Context noise stream, so it does not replay its first Context's.
uint64_t MovedVelocitySeed(uint64_t job_seed, int replica, int64_t epoch);

// OpenMM takes int seeds, and 0 means "pick one from the clock": a seed
// mixed down to 1..2^31-1. Nearby seeds map to unrelated OpenMM streams.
int OpenMMSeed(uint64_t seed);

}  // namespace replex::exchange
