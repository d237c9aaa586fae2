// MBAR free energies of a finished job's rungs from its u_kln (.tsv, or .npy
// above kMaxMatrixRungs rungs), as the
// analysis's FreeEnergies (docs/results.md): rounds after equilibration,
// subsampled by their statistical inefficiency, with pymbar's estimators.
#pragma once

#include <cstdint>
#include <filesystem>

#include "replex/v1/analysis.pb.h"

namespace replex::results {

// MBAR's data, states x samples, is n_rungs^2 x kept rounds values (twice,
// with the weights); past this many the rounds are spaced further apart than
// the statistical inefficiency asks, to bound memory (64 MiB) and time.
inline constexpr int64_t kMaxMbarValues = int64_t{1} << 23;

// Reads `u_kln` (kUklnFile's layout, `n_rungs` rows a round; or, for a
// .npy, kUklnNpyFile's: a matrix a round) and returns
// the free energies over the rounds with every entry known, or a
// FreeEnergies whose `unavailable` says why there are none: no file, a
// damaged one, fewer than 4 such rounds, no overlap.
v1::FreeEnergies FreeEnergiesFromUkln(const std::filesystem::path& u_kln,
                                      int n_rungs, int64_t first_round);

// FreeEnergiesFromUkln for asynchronous exchange, whose u_kln has a matrix
// per event with only the rows of the event's rungs whole: each rung's
// whole rows are its samples, in order, a series of its own. Each series'
// own reduced potential chooses where its equilibrium starts and its
// statistical inefficiency, and is subsampled by it; MBAR then takes the
// rungs' unequal sample counts. The result's equilibration_rounds is the
// latest event at which a rung's kept samples start,
// statistical_inefficiency and stride the largest of the rungs', and
// samples_per_rung the fewest.
v1::FreeEnergies FreeEnergiesByRung(const std::filesystem::path& u_kln,
                                    int n_rungs);

}  // namespace replex::results
