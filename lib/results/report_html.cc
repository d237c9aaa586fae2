#include "lib/results/report_html.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "lib/exchange/statistics.h"
#include "lib/results/analysis.h"
#include "lib/results/results.h"

namespace replex::results {
namespace {

struct Series {
  std::string name;
  std::vector<std::pair<double, double>> points;
  bool bars = false;
};

std::string Escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string Color(size_t i, size_t n) {
  return absl::StrFormat("hsl(%d,70%%,42%%)",
                         static_cast<int>(300.0 * i / std::max<size_t>(1, n)));
}

// A line (or bar) chart as an inline SVG, with axes, ticks and a legend.
std::string SvgPlot(const std::string& title, const std::string& x_label,
                    const std::string& y_label,
                    const std::vector<Series>& series, double y_min = NAN,
                    double y_max = NAN) {
  constexpr double kW = 1000, kH = 360, kLeft = 70, kRight = 160, kTop = 30,
                   kBottom = 50;
  double x0 = std::numeric_limits<double>::infinity(), x1 = -x0, y0 = x0,
         y1 = -x0;
  for (const Series& s : series) {
    for (const auto& [x, y] : s.points) {
      x0 = std::min(x0, x), x1 = std::max(x1, x);
      y0 = std::min(y0, y), y1 = std::max(y1, y);
    }
  }
  if (!std::isfinite(x0)) x0 = 0, x1 = 1, y0 = 0, y1 = 1;
  const bool bars = !series.empty() && series[0].bars;
  if (bars) y0 = std::min(0.0, y0), x0 -= 0.5, x1 += 0.5;  // whole bars
  if (std::isfinite(y_min)) y0 = y_min;
  if (std::isfinite(y_max)) y1 = y_max;
  if (x1 == x0) x1 = x0 + 1;
  if (y1 == y0) y1 = y0 + 1;
  const double pw = kW - kLeft - kRight, ph = kH - kTop - kBottom;
  auto X = [&](double x) { return kLeft + (x - x0) / (x1 - x0) * pw; };
  auto Y = [&](double y) { return kTop + ph - (y - y0) / (y1 - y0) * ph; };
  std::string svg = absl::StrFormat(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%g\" height=\"%g\" "
      "viewBox=\"0 0 %g %g\" font-family=\"sans-serif\" font-size=\"12\">\n"
      "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
      "<text x=\"%g\" y=\"18\" font-size=\"15\" "
      "font-weight=\"bold\">%s</text>\n"
      "<rect x=\"%g\" y=\"%g\" width=\"%g\" height=\"%g\" fill=\"none\" "
      "stroke=\"#444\"/>\n",
      kW, kH, kW, kH, kLeft, Escape(title), kLeft, kTop, pw, ph);
  for (int t = 0; t <= 4; ++t) {
    const double xv = x0 + (x1 - x0) * t / 4, yv = y0 + (y1 - y0) * t / 4;
    absl::StrAppendFormat(
        &svg,
        "<text x=\"%g\" y=\"%g\" text-anchor=\"middle\">%.4g</text>\n"
        "<text x=\"%g\" y=\"%g\" text-anchor=\"end\">%.4g</text>\n"
        "<line x1=\"%g\" x2=\"%g\" y1=\"%g\" y2=\"%g\" stroke=\"#ddd\"/>\n",
        X(xv), kTop + ph + 16, xv, kLeft - 6, Y(yv) + 4, yv, kLeft, kLeft + pw,
        Y(yv), Y(yv));
  }
  absl::StrAppendFormat(
      &svg,
      "<text x=\"%g\" y=\"%g\" text-anchor=\"middle\">%s</text>\n"
      "<text transform=\"translate(16,%g) rotate(-90)\" "
      "text-anchor=\"middle\">%s</text>\n",
      kLeft + pw / 2, kH - 12, Escape(x_label), kTop + ph / 2, Escape(y_label));
  for (size_t i = 0; i < series.size(); ++i) {
    const Series& s = series[i];
    const std::string color = Color(i, series.size());
    if (s.bars) {
      const double width = pw / (x1 - x0) * 0.6;
      for (const auto& [x, y] : s.points) {
        absl::StrAppendFormat(
            &svg,
            "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
            "fill=\"%s\"/>\n",
            X(x) - width / 2, std::min(Y(y), Y(0)), width,
            std::abs(Y(0) - Y(y)), color);
      }
    } else {
      std::string path;
      for (const auto& [x, y] : s.points) {
        absl::StrAppendFormat(&path, "%s%.1f,%.1f ", path.empty() ? "M" : "L",
                              X(x), Y(y));
      }
      absl::StrAppendFormat(&svg,
                            "<path d=\"%s\" fill=\"none\" stroke=\"%s\" "
                            "stroke-width=\"1.5\" opacity=\"0.85\"/>\n",
                            path, color);
    }
    if (series.size() > 1 && i < 24) {
      absl::StrAppendFormat(
          &svg,
          "<rect x=\"%g\" y=\"%g\" width=\"12\" height=\"12\" fill=\"%s\"/>"
          "<text x=\"%g\" y=\"%g\">%s</text>\n",
          kLeft + pw + 12, kTop + 16.0 * i, color, kLeft + pw + 30,
          kTop + 16.0 * i + 10, Escape(s.name));
    }
  }
  return svg + "</svg>\n";
}

// The rows of a TSV file after its header, split into fields.
std::vector<std::vector<std::string>> Rows(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  bool header = true;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (line.empty()) continue;
    if (header) {
      header = false;
      continue;
    }
    rows.push_back(absl::StrSplit(line, '\t'));
  }
  return rows;
}

absl::Status Malformed(const char* file, size_t row) {
  return absl::InvalidArgumentError(
      absl::StrCat(file, ": row ", row + 1, " is malformed"));
}

template <typename T>
bool ParseList(const std::string& text, std::vector<T>& out) {
  out.clear();
  if (text.empty()) return true;
  for (absl::string_view part : absl::StrSplit(text, ',')) {
    T value;
    if (!absl::SimpleAtoi(part, &value)) return false;
    out.push_back(value);
  }
  return true;
}

// MBAR's free energies from analysis.json as a table (or why there are
// none); nothing while the job runs.
std::string FreeEnergiesTable(const absl::StatusOr<v1::Analysis>& analysis) {
  if (!analysis.ok() || !analysis->has_free_energies()) return "";
  const v1::FreeEnergies& fe = analysis->free_energies();
  if (!fe.unavailable().empty()) {
    return absl::StrCat("<h2>Free energies (MBAR)</h2>\n<p>None: ",
                        Escape(fe.unavailable()), "</p>\n");
  }
  std::string rows;
  const int n = fe.f_size();
  for (int k = 0; k < n && k < fe.df_size() && k < fe.overlap_size(); ++k) {
    const auto& overlap = fe.overlap(k).values();
    absl::StrAppendFormat(
        &rows,
        "<tr><td>%d</td><td>%.4f &plusmn; %.4f</td><td>%s</td><td>%s</td>"
        "</tr>\n",
        k, fe.f(k), fe.df(k),
        k > 0 && k - 1 < fe.df_neighbors_size()
            ? absl::StrFormat("%.4f &plusmn; %.4f", fe.f(k) - fe.f(k - 1),
                              fe.df_neighbors(k - 1))
            : "",
        k + 1 < overlap.size()
            ? absl::StrFormat("%.3f", overlap[k + 1].number_value())
            : "");
  }
  // Asynchronous exchange: each rung's series on its own
  // (FreeEnergiesByRung), so the fewest samples and the largest g.
  const bool by_rung = analysis->exchange_events() > 0;
  return absl::StrFormat(
      "<h2>Free energies (MBAR)</h2>\n<p>Reduced (k<sub>B</sub>T units), "
      "from %s %d on, %s%d samples per rung (statistical inefficiency %s%.1f "
      "%s); overlap gap %.3f.</p>\n<table border=\"1\" "
      "cellpadding=\"4\"><tr><th>rung</th><th>f &minus; f<sub>0</sub></th>"
      "<th>f &minus; f<sub>previous</sub></th><th>overlap with next</th></tr>"
      "\n%s</table>\n",
      by_rung ? "exchange event" : "round", fe.equilibration_rounds(),
      by_rung ? "at least " : "", fe.samples_per_rung(),
      by_rung ? "up to " : "", fe.statistical_inefficiency(),
      by_rung ? "samples" : "rounds", fe.overlap_gap(), rows);
}

}  // namespace

absl::StatusOr<std::string> ReportHtml(const ReportInputs& inputs) {
  const std::vector<std::vector<std::string>> exchange_rows =
      Rows(inputs.exchange);
  // Replays the exchange log through the same statistics the job keeps.
  std::vector<exchange::RoundOutcome> outcomes;
  for (size_t r = 0; r < exchange_rows.size(); ++r) {
    const std::vector<std::string>& row = exchange_rows[r];
    exchange::RoundOutcome outcome;
    std::vector<int> before, after;
    if (row.size() < 5 || !absl::SimpleAtoi(row[0], &outcome.round) ||
        !ParseList(row[1], before) || !ParseList(row[2], after) ||
        !ParseList(row[3], outcome.pair_attempts) ||
        !ParseList(row[4], outcome.pair_accepts)) {
      return Malformed(kExchangeFile, r);
    }
    absl::StatusOr<exchange::Permutation> b =
        exchange::Permutation::FromRungOfReplica(before);
    absl::StatusOr<exchange::Permutation> a =
        exchange::Permutation::FromRungOfReplica(after);
    if (!a.ok() || !b.ok() || a->size() != b->size() ||
        (!outcomes.empty() &&
         (a->size() != outcomes[0].after.size() ||
          outcome.pair_attempts.size() != outcomes[0].pair_attempts.size())) ||
        outcome.pair_accepts.size() != outcome.pair_attempts.size()) {
      return Malformed(kExchangeFile, r);
    }
    outcome.before = *std::move(b);
    outcome.after = *std::move(a);
    outcomes.push_back(std::move(outcome));
  }
  const int n = outcomes.empty() ? 0 : outcomes[0].after.size();
  // An adaptive ladder's figures are its last version's rounds only, as in
  // analysis.json: earlier rounds ran at other temperatures.
  const absl::StatusOr<v1::Analysis> analysis = ParseAnalysis(inputs.analysis);
  int64_t first_round = 0;
  std::string from_text;
  if (analysis.ok() && analysis->ladder_versions_size() > 0) {
    first_round = analysis->ladder_versions().rbegin()->from_round();
    from_text = absl::StrCat(" (rounds from ", first_round,
                             ", on the adaptive ladder's last version)");
  }
  // A grid ladder has more neighbour pairs than n - 1: as many as the log's
  // rows count.
  exchange::Statistics statistics(
      std::max(1, n), outcomes.empty()
                          ? 0
                          : static_cast<int>(outcomes[0].pair_attempts.size()));
  for (const exchange::RoundOutcome& outcome : outcomes) {
    if (outcome.round >= first_round) statistics.Record(outcome);
  }

  std::string body;
  if (n > 1) {
    Series acceptance{"acceptance", {}, true};
    const std::vector<double> pair = statistics.PairAcceptance();
    for (size_t k = 0; k < pair.size(); ++k) {
      if (std::isfinite(pair[k])) {
        acceptance.points.push_back({static_cast<double>(k), pair[k]});
      }
    }
    // Pair k is rungs (k, k+1) on an ordinary ladder; a grid's pairs are
    // numbered as in analysis.json's pairs.
    body += SvgPlot(absl::StrCat("Acceptance per neighbour pair", from_text),
                    "pair k", "acceptance", {acceptance}, 0, 1);
  }
  // Each replica's rung over the first rounds (more would be a solid
  // block of lines).
  constexpr size_t kWalkRounds = 300;
  std::vector<Series> walks(n);
  for (int i = 0; i < n; ++i) walks[i].name = absl::StrCat("replica ", i);
  for (size_t r = 0; r < std::min(outcomes.size(), kWalkRounds); ++r) {
    for (int i = 0; i < n; ++i) {
      walks[i].points.push_back({static_cast<double>(outcomes[r].round),
                                 outcomes[r].after.rung_of_replica(i)});
    }
  }
  body +=
      SvgPlot(absl::StrCat("Replica trajectories through the ladder (first ",
                           std::min(outcomes.size(), kWalkRounds), " rounds)"),
              "round", "rung", walks);
  Series trips{"round trips", {}, true};
  for (int i = 0; i < n && n > 0; ++i) {
    trips.points.push_back(
        {i, static_cast<double>(statistics.round_trips_per_replica()[i])});
  }
  body += SvgPlot(absl::StrCat("Round trips per replica (total ",
                               statistics.RoundTrips(), ")", from_text),
                  "replica", "round trips", {trips});

  // Energy histograms per rung: the energy of the replica at rung k during
  // round r's segment, matched to the exchange log by round.
  const std::vector<std::vector<std::string>> energy_rows =
      Rows(inputs.energies);
  std::vector<std::vector<double>> by_rung(n);
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (size_t r = 0; r < energy_rows.size() && r < outcomes.size(); ++r) {
    const std::vector<std::string>& row = energy_rows[r];
    int64_t round = 0;
    if (row.size() != static_cast<size_t>(n) + 2 ||
        !absl::SimpleAtoi(row[0], &round) || round != outcomes[r].round) {
      return Malformed(kEnergiesFile, r);
    }
    for (int i = 0; i < n; ++i) {
      double u = 0;
      if (!absl::SimpleAtod(row[i + 2], &u)) return Malformed(kEnergiesFile, r);
      if (!std::isfinite(u) || round < first_round) continue;
      by_rung[outcomes[r].before.rung_of_replica(i)].push_back(u);
      lo = std::min(lo, u), hi = std::max(hi, u);
    }
  }
  if (std::isfinite(lo)) {
    constexpr int kBins = 50;
    const double width = hi > lo ? (hi - lo) / kBins : 1;
    std::vector<Series> histograms(n);
    for (int k = 0; k < n; ++k) {
      std::vector<double> counts(kBins, 0);
      for (double u : by_rung[k]) {
        counts[std::min(kBins - 1, static_cast<int>((u - lo) / width))] += 1;
      }
      histograms[k].name = absl::StrCat("rung ", k);
      for (int b = 0; b < kBins; ++b) {
        histograms[k].points.push_back(
            {lo + (b + 0.5) * width, counts[b] / (by_rung[k].size() * width)});
      }
    }
    body += SvgPlot(
        absl::StrCat("Potential energy per rung (overlap lets swaps succeed)",
                     from_text),
        "potential energy (kJ/mol)", "probability density", histograms);
  }
  body += FreeEnergiesTable(analysis);
  return absl::StrCat(
      "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
      "<title>replex: ",
      Escape(inputs.title),
      "</title>\n<style>body{font-family:sans-serif;margin:20px}"
      "svg{display:block;margin:12px 0}pre{background:#f4f4f4;padding:8px;"
      "overflow:auto;max-height:400px}</style></head>\n<body>\n<h1>replex "
      "results: ",
      Escape(inputs.title), "</h1>\n<p>", outcomes.size(), " rounds, ", n,
      " rungs.</p>\n", body, "<h2>analysis.json</h2>\n<pre>",
      Escape(inputs.analysis), "</pre>\n</body></html>\n");
}

absl::StatusOr<std::string> ReportHtmlFromDirectory(
    const std::filesystem::path& dir) {
  auto read = [&](const char* name) {
    std::ifstream in(dir / name, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  };
  return ReportHtml({dir.filename().string(), read(kAnalysisFile),
                     read(kEnergiesFile), read(kExchangeFile)});
}

}  // namespace replex::results
