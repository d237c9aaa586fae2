// One self-contained HTML page about a job (inline SVG, no scripts, nothing
// fetched): acceptance per neighbour pair, each replica's walk through the
// ladder, round trips per replica and the energy histograms per rung that
// show their overlap. Built from the results files alone, so `replex run`,
// the coordinator and `replexctl report --html` make the same page.
#pragma once

#include <filesystem>
#include <string>

#include "absl/status/statusor.h"

namespace replex::results {

struct ReportInputs {
  std::string title;     // e.g. the job id or name
  std::string analysis;  // analysis.json, shown as is (may be empty)
  std::string energies;  // energies.tsv
  std::string exchange;  // exchange.tsv
};

// INVALID_ARGUMENT naming the file and line when a TSV is malformed.
absl::StatusOr<std::string> ReportHtml(const ReportInputs& inputs);

// Reads the inputs from a results directory.
absl::StatusOr<std::string> ReportHtmlFromDirectory(
    const std::filesystem::path& dir);

}  // namespace replex::results
