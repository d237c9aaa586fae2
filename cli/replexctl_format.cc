#include "cli/replexctl_format.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/util/json_util.h"
#include "lib/results/analysis.h"

namespace replex::cli {
namespace {

// The rounds (events, under asynchronous exchange) a snapshot already
// counts; a coordinator of an earlier release says rounds only.
int64_t EventsCompleted(const v1::Job& job) {
  return job.events_completed() > 0 ? job.events_completed()
                                    : job.rounds_completed();
}

std::optional<absl::Time> TimeOf(const google::protobuf::Timestamp& stamp) {
  if (stamp.seconds() == 0 && stamp.nanos() == 0) return std::nullopt;
  return absl::FromUnixSeconds(stamp.seconds()) +
         absl::Nanoseconds(stamp.nanos());
}

// "2026-05-01 12:00:00 UTC (5m00s ago)"; "-" when unset.
std::string When(const google::protobuf::Timestamp& stamp, absl::Time now) {
  const std::optional<absl::Time> time = TimeOf(stamp);
  if (!time) return "-";
  return absl::StrCat(
      absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", *time, absl::UTCTimeZone()),
      " (", timing::FormatDuration(absl::ToDoubleSeconds(now - *time)),
      " ago)");
}

std::string Age(const v1::Job& job, absl::Time now) {
  const std::optional<absl::Time> created = TimeOf(job.created());
  return created ? timing::FormatDuration(absl::ToDoubleSeconds(now - *created))
                 : "-";
}

std::string Rounds(const v1::Job& job) {
  return absl::StrCat(job.rounds_completed(), "/", job.n_rounds());
}

double Fraction(const v1::Job& job) {
  return job.n_rounds() > 0 ? static_cast<double>(job.rounds_completed()) /
                                  static_cast<double>(job.n_rounds())
                            : 0.0;
}

// Zero before the first measurement: shown as "-", not as a speed.
std::string NsPerDay(const v1::Job& job) {
  return job.ns_per_day() > 0 ? absl::StrFormat("%.1f", job.ns_per_day()) : "-";
}

// With `decimals` digits after the point; "-" before any attempt.
std::string Acceptance(const v1::PairAcceptance& pair, int decimals) {
  return pair.attempts() > 0
             ? absl::StrFormat("%.*f", decimals, pair.acceptance())
             : "-";
}

std::vector<v1::PairAcceptance> SortedPairs(const v1::Job& job) {
  std::vector<v1::PairAcceptance> pairs(job.pairs().begin(), job.pairs().end());
  std::sort(pairs.begin(), pairs.end(), [](const auto& a, const auto& b) {
    return std::make_pair(a.axis(), a.lower_rung()) <
           std::make_pair(b.axis(), b.lower_rung());
  });
  return pairs;
}

// A job recorded before pairs carried their upper rung has (k, k + 1) pairs.
int UpperRung(const v1::PairAcceptance& pair) {
  return pair.upper_rung() > pair.lower_rung() ? pair.upper_rung()
                                               : pair.lower_rung() + 1;
}

std::string RungLabel(const v1::Job& job, int rung) {
  return rung >= 0 && rung < job.temperatures_k_size()
             ? absl::StrFormat("%.1f K", job.temperatures_k(rung))
             : absl::StrCat("rung ", rung);
}

}  // namespace

std::string ProgressBar(double fraction, int width) {
  if (!(fraction >= 0)) fraction = 0;  // also NaN
  fraction = std::min(fraction, 1.0);
  width = std::max(width, 1);
  const int filled = static_cast<int>(std::floor(fraction * width));
  std::string bar(width, ' ');
  std::fill(bar.begin(), bar.begin() + filled, '=');
  // The arrow head marks a bar under way; a full bar is all '='.
  if (filled < width && filled > 0) bar[filled] = '>';
  return absl::StrCat("[", bar, "]");
}

std::optional<double> EtaSeconds(int64_t rounds_done, double seconds,
                                 int64_t rounds_left) {
  if (rounds_left <= 0) return 0.0;
  if (rounds_done <= 0 || !(seconds > 0)) return std::nullopt;
  return seconds / static_cast<double>(rounds_done) *
         static_cast<double>(rounds_left);
}

std::string StateName(int state) {
  if (!v1::JobState_IsValid(state)) return absl::StrCat("UNKNOWN(", state, ")");
  return v1::JobState_Name(static_cast<v1::JobState>(state));
}

bool IsEnded(int state) {
  return state == v1::SUCCEEDED || state == v1::FAILED ||
         state == v1::CANCELLED;
}

std::string AcceptanceRange(const v1::Job& job) {
  std::optional<double> low, high;
  for (const v1::PairAcceptance& pair : job.pairs()) {
    if (pair.attempts() <= 0) continue;
    low = std::min(low.value_or(pair.acceptance()), pair.acceptance());
    high = std::max(high.value_or(pair.acceptance()), pair.acceptance());
  }
  if (!low) return "-";
  const std::string lo = absl::StrFormat("%.2f", *low);
  const std::string hi = absl::StrFormat("%.2f", *high);
  return lo == hi ? lo : absl::StrCat(lo, "-", hi);
}

std::string FormatTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows,
                        const std::vector<bool>& right_aligned) {
  std::vector<const std::vector<std::string>*> lines;
  if (!header.empty()) lines.push_back(&header);
  for (const auto& row : rows) lines.push_back(&row);
  std::vector<size_t> widths;
  for (const auto* line : lines) {
    widths.resize(std::max(widths.size(), line->size()), 0);
    for (size_t i = 0; i < line->size(); ++i) {
      widths[i] = std::max(widths[i], (*line)[i].size());
    }
  }
  std::string out;
  for (const auto* line : lines) {
    std::string text;
    for (size_t i = 0; i < line->size(); ++i) {
      const std::string& cell = (*line)[i];
      const std::string pad(widths[i] - cell.size(), ' ');
      const bool right = i < right_aligned.size() && right_aligned[i];
      absl::StrAppend(&text, i > 0 ? "  " : "", right ? pad : "", cell,
                      right ? "" : pad);
    }
    text.erase(text.find_last_not_of(' ') + 1);
    absl::StrAppend(&out, text, "\n");
  }
  return out;
}

std::string JobsTable(const std::vector<v1::Job>& jobs, absl::Time now) {
  std::vector<std::vector<std::string>> rows;
  for (const v1::Job& job : jobs) {
    rows.push_back({job.job_id(), job.name().empty() ? "-" : job.name(),
                    job.owner().empty() ? "-" : job.owner(),
                    StateName(job.state()), Rounds(job), AcceptanceRange(job),
                    NsPerDay(job), Age(job, now)});
  }
  return FormatTable(
      {"ID", "NAME", "OWNER", "STATE", "ROUNDS", "ACCEPTANCE", "NS/DAY", "AGE"},
      rows, {false, false, false, false, true, false, true, true});
}

std::string JobDetail(const v1::Job& job, absl::Time now) {
  std::vector<std::vector<std::string>> fields = {
      {"job", job.job_id()},
      {"name", job.name().empty() ? "-" : job.name()},
      {"owner", job.owner().empty() ? "-" : job.owner()},
  };
  if (!job.labels().empty()) {
    // Sorted, so the output does not depend on map order.
    std::vector<std::string> labels;
    for (const auto& [key, value] : job.labels()) {
      labels.push_back(absl::StrCat(key, "=", value));
    }
    std::sort(labels.begin(), labels.end());
    fields.push_back({"labels", absl::StrJoin(labels, ", ")});
  }
  const std::vector<std::vector<std::string>> more = {
      {"state", StateName(job.state())},
      {"rounds",
       absl::StrFormat("%s (%.0f%%)", Rounds(job), 100 * Fraction(job))},
      {"replicas",
       absl::StrCat(job.n_replicas(), " (scheme ",
                    job.scheme().empty() ? "-" : job.scheme(), ", platform ",
                    job.platform().empty() ? "-" : job.platform(), ")")},
      {"workers", absl::StrCat(job.workers())},
      {"ns/day", NsPerDay(job)},
      {"round trips", absl::StrCat(job.round_trips())},
      {"created", When(job.created(), now)},
      {"started", When(job.started(), now)},
      {"finished", When(job.finished(), now)},
  };
  fields.insert(fields.end(), more.begin(), more.end());
  if (!job.queue_reason().empty()) {
    fields.push_back({"waiting", job.queue_reason()});
  }
  if (!job.error().empty()) fields.push_back({"error", job.error()});
  std::string out = FormatTable({}, fields, {});

  const std::vector<v1::PairAcceptance> pairs = SortedPairs(job);
  if (!pairs.empty()) {
    // A grid ladder's pairs lie along several axes: say which.
    const bool grid =
        std::any_of(pairs.begin(), pairs.end(),
                    [](const auto& pair) { return pair.axis() > 0; });
    std::vector<std::vector<std::string>> rows;
    for (const v1::PairAcceptance& pair : pairs) {
      const int k = pair.lower_rung();
      const int upper = UpperRung(pair);
      rows.push_back(
          {absl::StrCat(k, "-", upper),
           absl::StrCat(RungLabel(job, k), " <-> ", RungLabel(job, upper)),
           absl::StrCat(pair.attempts()), absl::StrCat(pair.accepts()),
           Acceptance(pair, 3)});
      if (grid) {
        rows.back().insert(rows.back().begin() + 1, absl::StrCat(pair.axis()));
      }
    }
    std::vector<std::string> header = {"PAIR", "RUNGS", "ATTEMPTS", "ACCEPTS",
                                       "ACCEPTANCE"};
    std::vector<bool> right = {false, false, true, true, true};
    if (grid) {
      header.insert(header.begin() + 1, "AXIS");
      right.insert(right.begin() + 1, true);
    }
    absl::StrAppend(&out, "\n", FormatTable(header, rows, right));
  }
  return out;
}

std::string FitWidth(const std::string& line, int width) {
  if (width <= 0 || line.size() <= static_cast<size_t>(width)) return line;
  if (width <= 3) return line.substr(0, width);
  return line.substr(0, width - 3) + "...";
}

void WatchProgress::Apply(const v1::JobEvent& event, absl::Time now) {
  if (event.has_snapshot()) {
    job_ = event.snapshot();
  } else if (event.has_round() &&
             event.round().round() >= EventsCompleted(job_)) {
    // Rounds (events) before those the snapshot counts are in it already.
    const v1::RoundEvent& round = event.round();
    AddRound(round);
    job_.set_events_completed(round.round() + 1);
    job_.set_rounds_completed(round.has_rounds_completed()
                                  ? round.rounds_completed()
                                  : round.round() + 1);
    *job_.mutable_rung_of_replica() = event.round().rung_of_replica();
    job_.set_round_trips(event.round().round_trips());
    job_.set_ns_per_day(event.round().ns_per_day());
  }
  const int64_t done = job_.rounds_completed();
  if (!first_seen_) first_seen_.emplace(done, now);
  if (!last_seen_ || last_seen_->first != done) last_seen_.emplace(done, now);
}

void WatchProgress::AddRound(const v1::RoundEvent& round) {
  // A round's counts follow Job.pairs' order; pairs the snapshot lacked
  // are an ordinary ladder's (k, k + 1).
  for (int k = 0; k < round.pair_attempts_size(); ++k) {
    v1::PairAcceptance* pair;
    if (k < job_.pairs_size()) {
      pair = job_.mutable_pairs(k);
    } else {
      pair = job_.add_pairs();
      pair->set_lower_rung(k);
      pair->set_upper_rung(k + 1);
    }
    pair->set_attempts(pair->attempts() + round.pair_attempts(k));
    if (k < round.pair_accepts_size()) {
      pair->set_accepts(pair->accepts() + round.pair_accepts(k));
    }
    pair->set_acceptance(pair->attempts() > 0
                             ? static_cast<double>(pair->accepts()) /
                                   static_cast<double>(pair->attempts())
                             : 0.0);
  }
}

std::optional<double> WatchProgress::EtaSeconds(absl::Time now) const {
  const int64_t done = job_.rounds_completed();
  const int64_t left = job_.n_rounds() - done;
  if (first_seen_ && last_seen_ && done > first_seen_->first) {
    // The rate this watch has seen, counted down since the latest round.
    const std::optional<double> eta = cli::EtaSeconds(
        done - first_seen_->first,
        absl::ToDoubleSeconds(last_seen_->second - first_seen_->second), left);
    if (eta) {
      return std::max(0.0,
                      *eta - absl::ToDoubleSeconds(now - last_seen_->second));
    }
  }
  // Nothing seen yet: the job's own rate since it started (server clock).
  const std::optional<absl::Time> started = TimeOf(job_.started());
  if (!started) return std::nullopt;
  return cli::EtaSeconds(done, absl::ToDoubleSeconds(now - *started), left);
}

std::string WatchProgress::Line(absl::Time now, int bar_width) const {
  const int64_t done = job_.rounds_completed();
  const int64_t total = job_.n_rounds();
  const double percent = 100 * Fraction(job_);
  std::string line =
      bar_width > 0
          ? absl::StrFormat("%s round %d/%d %.0f%% |",
                            ProgressBar(Fraction(job_), bar_width), done, total,
                            percent)
          : absl::StrFormat("[round %*d/%d %3.0f%%]",
                            static_cast<int>(absl::StrCat(total).size()), done,
                            total, percent);
  std::string state, acceptance, round_trips, speed, eta;
  if (job_.state() != v1::RUNNING) state = StateName(job_.state());
  if (!job_.queue_reason().empty()) {
    absl::StrAppend(&state, " (", job_.queue_reason(), ")");
  }
  const std::vector<v1::PairAcceptance> pairs = SortedPairs(job_);
  if (!pairs.empty()) {
    std::vector<std::string> values;
    for (const v1::PairAcceptance& pair : pairs) {
      values.push_back(Acceptance(pair, 2));
    }
    acceptance = absl::StrCat("acceptance ", absl::StrJoin(values, " "));
  }
  round_trips = absl::StrCat("round trips ", job_.round_trips());
  if (job_.ns_per_day() > 0) speed = absl::StrCat(NsPerDay(job_), " ns/day");
  if (job_.state() == v1::RUNNING) {
    const std::optional<double> left = EtaSeconds(now);
    eta = absl::StrCat("ETA ", left ? timing::FormatDuration(*left) : "-");
  }
  // A redrawn line is cut at the terminal's width, so there the per-pair
  // acceptance, which grows with the ladder, goes last.
  std::vector<std::string> parts =
      bar_width > 0
          ? std::vector<std::string>{state, speed, eta, round_trips, acceptance}
          : std::vector<std::string>{state, acceptance, round_trips, speed,
                                     eta};
  parts.erase(std::remove(parts.begin(), parts.end(), ""), parts.end());
  return absl::StrCat(line, " ", absl::StrJoin(parts, " | "));
}

bool WatchProgress::TakeLogLine() {
  const int64_t step =
      job_.n_rounds() > 0 ? job_.rounds_completed() * 20 / job_.n_rounds() : 0;
  if (step == logged_step_ && job_.state() == logged_state_) return false;
  logged_step_ = step;
  logged_state_ = job_.state();
  return true;
}

absl::StatusOr<std::string> AnalysisTable(const std::string& analysis_json) {
  absl::StatusOr<v1::Analysis> analysis = results::ParseAnalysis(analysis_json);
  if (!analysis.ok()) return analysis.status();
  return results::AnalysisText(*analysis);
}

}  // namespace replex::cli
