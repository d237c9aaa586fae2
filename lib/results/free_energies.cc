#include "lib/results/free_energies.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "lib/analysis/mbar.h"
#include "lib/analysis/timeseries.h"
#include "lib/results/npy_stack.h"

namespace replex::results {
namespace {

// At most this many equilibration start points are tried: each costs a pass
// over the rest of the series (pymbar tries every one, O(rounds^2)).
constexpr int64_t kMaxEquilibrationCandidates = 500;
constexpr int64_t kMinRounds = 4;

v1::FreeEnergies Unavailable(std::string why) {
  v1::FreeEnergies result;
  result.set_unavailable(std::move(why));
  return result;
}

// Reads u_kln.tsv a round (n rows) at a time, calling on_round(round, as
// its rows give it, row-major n x n values) for each; an error names the
// line.
absl::Status ReadTsvRounds(
    const std::filesystem::path& path, int n,
    absl::FunctionRef<void(int64_t, const std::vector<double>&)> on_round) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("no ", path.string()));
  std::string line;
  std::getline(in, line);  // the header
  std::vector<double> values(static_cast<size_t>(n) * n);
  int64_t line_number = 1, round = 0;
  int state = 0;
  while (std::getline(in, line)) {
    ++line_number;
    const std::vector<absl::string_view> fields = absl::StrSplit(line, '\t');
    int row_state = -1;
    int64_t row_round = -1;
    if (fields.size() != static_cast<size_t>(n) + 2 ||
        !absl::SimpleAtoi(fields[0], &row_round) ||
        (state > 0 && row_round != round) ||
        !absl::SimpleAtoi(fields[1], &row_state) || row_state != state) {
      return absl::DataLossError(
          absl::StrCat(path.string(), " line ", line_number, " is not state ",
                       state, "'s row of ", n + 2, " columns"));
    }
    round = row_round;
    for (int l = 0; l < n; ++l) {
      double& value = values[static_cast<size_t>(state) * n + l];
      if (!absl::SimpleAtod(fields[l + 2], &value)) {
        return absl::DataLossError(absl::StrCat(path.string(), " line ",
                                                line_number, " column ", l + 3,
                                                " is not a number"));
      }
    }
    if (++state == n) {
      on_round(round, values);
      state = 0;
    }
  }
  return absl::OkStatus();
}

// u_kln.tsv or u_kln.npy, by the file's extension.
absl::Status ReadRounds(
    const std::filesystem::path& path, int n,
    absl::FunctionRef<void(int64_t, const std::vector<double>&)> on_round) {
  if (path.extension() == ".npy") return ReadNpyStack(path, n, on_round);
  return ReadTsvRounds(path, n, on_round);
}

// MBAR on u_kn (states x samples; samples_per_state as SolveMbar takes
// them): the free energies, their errors and the overlap; the caller sets
// how the samples were chosen.
absl::StatusOr<v1::FreeEnergies> Solve(
    const std::vector<double>& u_kn,
    const std::vector<int64_t>& samples_per_state) {
  const int n = static_cast<int>(samples_per_state.size());
  const absl::StatusOr<analysis::MbarResult> mbar =
      analysis::SolveMbar(u_kn, samples_per_state);
  if (!mbar.ok()) return mbar.status();
  v1::FreeEnergies result;
  for (int k = 0; k < n; ++k) {
    result.add_f(mbar->f[k]);
    result.add_df(mbar->Error(0, k));
    if (k + 1 < n) result.add_df_neighbors(mbar->Error(k, k + 1));
    google::protobuf::ListValue& row = *result.add_overlap();
    for (int l = 0; l < n; ++l) {
      row.add_values()->set_number_value(mbar->overlap[k * n + l]);
    }
  }
  result.set_overlap_gap(mbar->overlap_gap);
  return result;
}

}  // namespace

v1::FreeEnergies FreeEnergiesFromUkln(const std::filesystem::path& u_kln,
                                      int n_rungs, int64_t first_round) {
  const int n = n_rungs;
  if (n < 2) return Unavailable("one rung has no free energy differences");
  // Pass 1: the rounds whose every entry is known (all of them for
  // temperature ladders and gibbs, every energies_every-th otherwise) and,
  // over those, the series for equilibration.
  std::vector<int64_t> complete;
  std::vector<double> own_sum;
  int64_t all_rounds = 0;
  absl::Status read =
      ReadRounds(u_kln, n, [&](int64_t round, const std::vector<double>& u) {
        if (round < first_round) return;
        ++all_rounds;
        for (double x : u) {
          if (!std::isfinite(x)) return;
        }
        double sum = 0;
        for (int k = 0; k < n; ++k) sum += u[static_cast<size_t>(k) * n + k];
        complete.push_back(round);
        own_sum.push_back(sum);
      });
  if (!read.ok()) return Unavailable(std::string(read.message()));
  const int64_t rounds = static_cast<int64_t>(own_sum.size());
  if (rounds < kMinRounds) {
    return Unavailable(absl::StrCat(
        "MBAR needs at least ", kMinRounds,
        " rounds with every rung's energy; the job has ", rounds, " of ",
        all_rounds,
        rounds < all_rounds
            ? " (with Hamiltonian parameters the neighbors and none schemes "
              "evaluate only the energies they need: set "
              "exchange.energies_every, e.g. 10, or scheme: gibbs)"
            : ""));
  }
  const int64_t candidates_stride =
      (rounds + kMaxEquilibrationCandidates - 1) / kMaxEquilibrationCandidates;
  const analysis::Equilibration equilibration =
      analysis::DetectEquilibration(own_sum, candidates_stride);
  const int64_t production = rounds - equilibration.start;
  // The stride: g, or wider where the kept rounds would exceed the bound.
  const double per_round = static_cast<double>(n) * n;
  const double stride =
      std::max(equilibration.inefficiency,
               production * per_round / static_cast<double>(kMaxMbarValues));
  std::vector<int64_t> kept = analysis::SubsampleIndices(production, stride);
  for (int64_t& t : kept) t = complete[t + equilibration.start];

  // Pass 2: the kept rounds into MBAR's layout: sample (k, j) is state k's
  // configuration in the j-th kept round.
  const int64_t per_state = static_cast<int64_t>(kept.size());
  const int64_t samples = per_state * n;
  std::vector<double> u_kn(static_cast<size_t>(samples) * n);
  size_t next = 0;
  read = ReadRounds(u_kln, n, [&](int64_t round, const std::vector<double>& u) {
    if (next >= kept.size() || kept[next] != round) return;
    for (int k = 0; k < n; ++k) {
      const int64_t sample = k * per_state + static_cast<int64_t>(next);
      for (int l = 0; l < n; ++l) {
        u_kn[static_cast<size_t>(l) * samples + sample] =
            u[static_cast<size_t>(k) * n + l];
      }
    }
    ++next;
  });
  if (!read.ok()) return Unavailable(std::string(read.message()));
  if (next != kept.size()) {
    return Unavailable(
        absl::StrCat(u_kln.string(), " changed while it was read"));
  }
  absl::StatusOr<v1::FreeEnergies> result =
      Solve(u_kn, std::vector<int64_t>(n, per_state));
  if (!result.ok()) return Unavailable(std::string(result.status().message()));
  result->set_equilibration_rounds(
      static_cast<int32_t>(complete[equilibration.start]));
  result->set_statistical_inefficiency(equilibration.inefficiency);
  result->set_stride(stride);
  result->set_samples_per_rung(static_cast<int32_t>(per_state));
  return *std::move(result);
}

v1::FreeEnergies FreeEnergiesByRung(const std::filesystem::path& u_kln,
                                    int n_rungs) {
  const int n = n_rungs;
  if (n < 2) return Unavailable("one rung has no free energy differences");
  // Pass 1: per rung, the rounds (events) whose row for it is whole, and
  // its own reduced potential in each: the rung's series.
  std::vector<std::vector<int64_t>> rounds(n);
  std::vector<std::vector<double>> own(n);
  absl::Status read =
      ReadRounds(u_kln, n, [&](int64_t round, const std::vector<double>& u) {
        for (int k = 0; k < n; ++k) {
          const double* row = &u[static_cast<size_t>(k) * n];
          if (!std::all_of(row, row + n,
                           [](double x) { return std::isfinite(x); })) {
            continue;
          }
          rounds[k].push_back(round);
          own[k].push_back(row[k]);
        }
      });
  if (!read.ok()) return Unavailable(std::string(read.message()));
  // Each rung's own equilibration and stride; the kept rounds per rung.
  std::vector<std::vector<int64_t>> kept(n);
  int64_t total_series = 0;
  for (int k = 0; k < n; ++k) total_series += own[k].size();
  int64_t latest_start = 0, fewest = -1;
  double largest_g = 1, largest_stride = 1;
  for (int k = 0; k < n; ++k) {
    const int64_t size = static_cast<int64_t>(own[k].size());
    if (size < kMinRounds) {
      return Unavailable(absl::StrCat(
          "MBAR needs at least ", kMinRounds,
          " samples of each rung with every rung's energy; rung ", k, " has ",
          size,
          " (under asynchronous exchange a rung's sample is a segment "
          "at it that evaluated every rung: a temperature ladder, or "
          "scheme: gibbs)"));
    }
    const analysis::Equilibration equilibration = analysis::DetectEquilibration(
        own[k],
        (size + kMaxEquilibrationCandidates - 1) / kMaxEquilibrationCandidates);
    const int64_t production = size - equilibration.start;
    // The stride: g, or wider where all rungs' kept samples would exceed
    // the bound.
    const double stride = std::max(equilibration.inefficiency,
                                   static_cast<double>(total_series) * n /
                                       static_cast<double>(kMaxMbarValues));
    for (int64_t t : analysis::SubsampleIndices(production, stride)) {
      kept[k].push_back(rounds[k][t + equilibration.start]);
    }
    latest_start = std::max(latest_start, rounds[k][equilibration.start]);
    largest_g = std::max(largest_g, equilibration.inefficiency);
    largest_stride = std::max(largest_stride, stride);
    const int64_t samples = static_cast<int64_t>(kept[k].size());
    fewest = fewest < 0 ? samples : std::min(fewest, samples);
  }
  // Pass 2: state k's kept samples, in order, after those of states < k.
  std::vector<int64_t> per_state(n), offset(n, 0), next(n, 0);
  int64_t samples = 0;
  for (int k = 0; k < n; ++k) {
    per_state[k] = static_cast<int64_t>(kept[k].size());
    offset[k] = samples;
    samples += per_state[k];
  }
  std::vector<double> u_kn(static_cast<size_t>(samples) * n);
  read = ReadRounds(u_kln, n, [&](int64_t round, const std::vector<double>& u) {
    for (int k = 0; k < n; ++k) {
      if (next[k] >= per_state[k] || kept[k][next[k]] != round) continue;
      const int64_t sample = offset[k] + next[k]++;
      for (int l = 0; l < n; ++l) {
        u_kn[static_cast<size_t>(l) * samples + sample] =
            u[static_cast<size_t>(k) * n + l];
      }
    }
  });
  if (!read.ok()) return Unavailable(std::string(read.message()));
  if (next != per_state) {
    return Unavailable(
        absl::StrCat(u_kln.string(), " changed while it was read"));
  }
  absl::StatusOr<v1::FreeEnergies> result = Solve(u_kn, per_state);
  if (!result.ok()) return Unavailable(std::string(result.status().message()));
  result->set_equilibration_rounds(static_cast<int32_t>(latest_start));
  result->set_statistical_inefficiency(largest_g);
  result->set_stride(largest_stride);
  result->set_samples_per_rung(static_cast<int32_t>(fewest));
  return *std::move(result);
}

}  // namespace replex::results
