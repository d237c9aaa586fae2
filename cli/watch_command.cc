// replexctl watch and wait: follow one job live until it ends (watch
// redrawing its progress) and turn its final state into the exit code.
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cli/replexctl_commands.h"
#include "cli/replexctl_format.h"
#include "lib/client/jobs_client.h"
#include "replex/v1/job_service.pb.h"

namespace replex::cli {
namespace {

// Where the watch's progress goes: redrawn in place on a terminal, a line
// every ~5% in a log, or JSON events. Not thread-safe.
class WatchDisplay {
 public:
  explicit WatchDisplay(bool quiet)
      : quiet_(quiet),
        json_(absl::GetFlag(FLAGS_json)),
        terminal_(!json_ && isatty(STDOUT_FILENO)) {}

  void Show(const v1::JobEvent& event, const WatchProgress& progress,
            bool log_line_due) {
    const absl::Time now = absl::Now();
    if (quiet_) return;
    if (json_) {
      PrintJson(event).IgnoreError();
    } else if (terminal_) {
      // Redraws are cheap but not free; fast toy jobs emit thousands of
      // rounds a second.
      if (event.has_snapshot() || progress.ended() ||
          now - last_draw_ >= absl::Milliseconds(100)) {
        std::printf(
            "\r\033[K%s",
            FitWidth(progress.Line(now, kBarWidth), Columns() - 1).c_str());
        std::fflush(stdout);
        last_draw_ = now;
        drawn_ = true;
      }
    } else if (log_line_due) {
      std::printf("%s\n", progress.Line(now).c_str());
      std::fflush(stdout);
    }
  }

  // Ends a redrawn line, before anything else is printed.
  void EndLine() {
    if (drawn_) std::printf("\n");
    std::fflush(stdout);
    drawn_ = false;
  }

  bool json() const { return json_; }

 private:
  static constexpr int kBarWidth = 24;

  static int Columns() {
    winsize size{};
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) {
      return size.ws_col;
    }
    return 80;
  }

  const bool quiet_;
  const bool json_;
  const bool terminal_;
  absl::Time last_draw_ = absl::InfinitePast();
  bool drawn_ = false;
};

// WatchJobRequest.batch_ms: a person reads progress a few times a second,
// and a watch of a fast job then costs the coordinator four messages a
// second rather than one a round.
constexpr int kBatchMs = 250;

// Follows one job until it ends: displays its watch stream, watches again
// when a gateway goes away, and refreshes the totals that round events do not
// carry. Not thread-safe.
class JobWatcher {
 public:
  JobWatcher(client::JobsClient& client, const std::string& id, bool quiet)
      : client_(client), id_(id), display_(quiet) {}

  // OK once the job has ended (its final state is in progress()).
  absl::Status Follow() {
    // A gateway going away (restart, rollout) ends the stream with
    // UNAVAILABLE, and a watcher that fell far behind with
    // RESOURCE_EXHAUSTED. Any gateway resumes a watch with a fresh snapshot,
    // so retry a few times; but fail at once if the very first attempt gets
    // nowhere (wrong address, no such job).
    constexpr int kMaxRetriesWithoutEvents = 5;
    v1::WatchJobRequest request;
    request.set_job_id(id_);
    request.set_batch_ms(kBatchMs);
    int retries = 0;
    absl::Duration backoff = absl::Seconds(1);
    client::StopSignal never_stopped;  // Ctrl-C simply ends the process
    while (true) {
      bool got_event = false;
      const absl::Status status = client_.WatchJob(
          request, never_stopped, [&](const v1::JobEvent& event) {
            got_event = ever_got_event_ = true;
            OnEvent(event);
            return true;
          });
      if (status.ok() || progress_.ended()) break;
      if (got_event) {
        retries = 0;
        backoff = absl::Seconds(1);
      }
      display_.EndLine();
      const bool retriable =
          status.code() == absl::StatusCode::kUnavailable ||
          status.code() == absl::StatusCode::kResourceExhausted;
      if (!retriable || !ever_got_event_ ||
          ++retries > kMaxRetriesWithoutEvents) {
        return status;
      }
      std::fprintf(stderr, "replexctl: lost the watch (%s); retrying in %s\n",
                   std::string(status.message()).c_str(),
                   absl::FormatDuration(backoff).c_str());
      absl::SleepFor(backoff);
      backoff = std::min(backoff * 2, absl::Seconds(8));
    }
    display_.EndLine();
    // The stream ended OK before the job did: the contract says it cannot,
    // but the final state is one call away.
    if (!progress_.ended()) return Refresh(absl::Now());
    return absl::OkStatus();
  }

  const WatchProgress& progress() const { return progress_; }
  bool json() const { return display_.json(); }

 private:
  void OnEvent(const v1::JobEvent& event) {
    // Batched rounds are shown, and printed with --json, one at a time.
    if (event.has_rounds()) {
      for (const v1::RoundEvent& round : event.rounds().rounds()) {
        v1::JobEvent one;
        one.set_job_id(event.job_id());
        *one.mutable_round() = round;
        OnEvent(one);
      }
      return;
    }
    progress_.Apply(event, absl::Now());
    display_.Show(event, progress_, progress_.TakeLogLine());
  }

  absl::Status Refresh(absl::Time now) {
    v1::GetJobRequest get;
    get.set_job_id(id_);
    absl::StatusOr<v1::Job> job = client_.GetJob(get);
    if (!job.ok()) return job.status();
    // A snapshot at least as new as the stream: its later round events for
    // rounds the snapshot counts are skipped by Apply.
    v1::JobEvent snapshot;
    *snapshot.mutable_snapshot() = *std::move(job);
    progress_.Apply(snapshot, now);
    return absl::OkStatus();
  }

  client::JobsClient& client_;
  const std::string id_;
  WatchProgress progress_;
  WatchDisplay display_;
  bool ever_got_event_ = false;
};

}  // namespace

absl::StatusOr<int> Watch(client::JobsClient& client, const std::string& id,
                          bool quiet) {
  JobWatcher watcher(client, id, quiet);
  if (absl::Status status = watcher.Follow(); !status.ok()) return status;
  const v1::Job& job = watcher.progress().job();
  switch (job.state()) {
    case v1::SUCCEEDED:
      if (!watcher.json()) {
        std::printf("job %s SUCCEEDED after %lld rounds\n", id.c_str(),
                    static_cast<long long>(job.rounds_completed()));
      }
      return 0;
    case v1::FAILED:
      std::fprintf(
          stderr, "replexctl: error: job %s FAILED: %s\n", id.c_str(),
          job.error().empty() ? "(no error given)" : job.error().c_str());
      return kExitFailed;
    case v1::CANCELLED:
      if (!watcher.json()) std::printf("job %s was CANCELLED\n", id.c_str());
      return kExitCancelled;
    default:
      return absl::InternalError(absl::StrCat("the watch of job ", id,
                                              " ended while it is ",
                                              StateName(job.state())));
  }
}

}  // namespace replex::cli
