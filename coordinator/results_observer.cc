#include "coordinator/results_observer.h"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "lib/service/process.h"

namespace replex::coordinator {
namespace fs = std::filesystem;
namespace {

// Which directory each job id writes to, so that DownloadResults finds a
// job's files after a coordinator restart: one small file per job.
constexpr char kIndexDir[] = ".jobs";

std::string HostName() {
  char host[256] = "";
  gethostname(host, sizeof host - 1);
  return host;
}

// Bytes of the regular files under `dir`; 0 when it is gone.
uint64_t DirectoryBytes(const fs::path& dir) {
  uint64_t bytes = 0;
  std::error_code error;
  for (fs::recursive_directory_iterator it(dir, error), end;
       !error && it != end; it.increment(error)) {
    if (it->is_regular_file(error)) bytes += it->file_size(error);
  }
  return bytes;
}

}  // namespace

ResultsObserver::ResultsObserver(fs::path root, uint64_t max_bytes_per_owner)
    : root_(std::move(root)),
      host_(HostName()),
      max_bytes_per_owner_(max_bytes_per_owner),
      finisher_([this] { FinishLoop(); }) {}

ResultsObserver::~ResultsObserver() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  finisher_.join();
}

void ResultsObserver::FinishLoop() {
  while (true) {
    Ended ended;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(this, &ResultsObserver::FinisherHasWork));
      if (to_finish_.empty()) return;  // stopping, and nothing is left
      ended = std::move(to_finish_.front());
      to_finish_.pop_front();
    }
    if (absl::Status s = ended.writer->Finish(ended.state); !s.ok()) {
      service::LogLine(absl::StrCat(
          "job ", ended.job_id, ": cannot finish its results: ", s.message()));
    }
    ended.writer.reset();  // closes its files before the job counts as done
    absl::MutexLock lock(&mu_);
    finishing_.erase(ended.job_id);
  }
}

uint64_t ResultsObserver::OwnerBytes(const std::string& owner) {
  uint64_t bytes = 0;
  std::error_code error;
  for (fs::directory_iterator it(root_ / kIndexDir, error), end;
       !error && it != end; it.increment(error)) {
    std::ifstream in(it->path());
    std::string dir, job_owner;
    if (!std::getline(in, dir) || !std::getline(in, job_owner) ||
        job_owner != owner) {
      continue;
    }
    uint64_t job_bytes = DirectoryBytes(dir);
    absl::MutexLock lock(&mu_);
    if (auto e = estimates_.find(it->path().filename().string());
        e != estimates_.end()) {
      job_bytes = std::max(job_bytes, e->second);
    }
    bytes += job_bytes;
  }
  return bytes;
}

absl::StatusOr<fs::path> ResultsObserver::Resolve(
    const std::string& job_id, const v1::JobSpec& spec) const {
  const std::string& directory = spec.output().directory();
  if (directory.empty()) return root_ / job_id;
  if (fs::path(directory).is_absolute()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "output.directory: \"", directory,
        "\" is absolute; on a cluster results go under the coordinator's "
        "--results_root: give a relative path (or none, for the job id)"));
  }
  return root_ / directory;
}

absl::Status ResultsObserver::OnSubmit(const std::string& job_id,
                                       const v1::JobSpec& spec) {
  absl::StatusOr<fs::path> dir = Resolve(job_id, spec);
  if (!dir.ok()) return dir.status();
  const absl::StatusOr<uint64_t> need = results::CheckFreeSpace(*dir, spec);
  if (!need.ok()) return need.status();
  absl::MutexLock quota(&quota_mu_);
  if (max_bytes_per_owner_ > 0) {
    const uint64_t used = OwnerBytes(spec.owner());
    if (used + *need > max_bytes_per_owner_) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "owner \"", spec.owner(), "\" has results of about ",
          results::GibText(used),
          " (unfinished jobs counted at their final size) and this job's "
          "need about ",
          results::GibText(*need), ": more than the ",
          results::GibText(max_bytes_per_owner_),
          " one owner may keep (--max_results_gib_per_owner); delete "
          "results you no longer need, or write fewer frames"));
    }
  }
  if (absl::Status s = results::CreateResultsDirectory(*dir); !s.ok()) return s;
  std::error_code error;
  fs::create_directories(root_ / kIndexDir, error);
  std::ofstream(root_ / kIndexDir / job_id) << dir->string() << '\n'
                                            << spec.owner() << '\n';
  absl::MutexLock lock(&mu_);
  estimates_[job_id] = *need;
  return absl::OkStatus();
}

absl::Status ResultsObserver::OnRunning(const v1::Job& job,
                                        const v1::JobSpec& spec,
                                        int64_t next_round) {
  absl::StatusOr<fs::path> dir = Resolve(job.job_id(), spec);
  if (!dir.ok()) return dir.status();
  const std::string& id = job.job_id();
  {
    absl::MutexLock lock(&mu_);
    opening_[id] = "";
    // An extended job's last run may still be finishing (OnFinished).
    auto finished = [this, &id]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return !finishing_.contains(id);
    };
    mu_.Await(absl::Condition(&finished));
    // A job resumed after a restart (or extended) counts at its size again.
    estimates_[id] = results::EstimatedResultsBytes(spec);
  }
  absl::StatusOr<std::unique_ptr<results::ResultsWriter>> writer =
      results::ResultsWriter::Open(
          *dir, spec,
          {job.job_id(),
           {host_},
           {absl::StrCat(spec.platform(), " platform on replex-worker(s)")}},
          next_round);
  absl::MutexLock lock(&mu_);
  const std::string ended_as = std::move(opening_[id]);
  opening_.erase(id);
  if (!ended_as.empty()) {
    // Ended while it waited or opened: OnFinished has come and gone, so the
    // writer goes to the finishing thread here (nothing else would finish
    // it), and the job does not run.
    estimates_.erase(id);
    if (writer.ok()) {
      finishing_.insert(id);
      to_finish_.push_back({id, ended_as, *std::move(writer)});
    }
    return absl::CancelledError(
        absl::StrCat("job ", id, " ended before its results were opened"));
  }
  if (!writer.ok()) return writer.status();
  if (next_round > 0) {
    service::LogLine(absl::StrCat("job ", id, ": results in ", dir->string(),
                                  " continue from round ", next_round));
  }
  writers_[id] = *std::move(writer);
  return absl::OkStatus();
}

absl::Status ResultsObserver::OnRound(const v1::Job& job,
                                      const runner::RoundReport& report) {
  results::ResultsWriter* writer = nullptr;
  {
    absl::MutexLock lock(&mu_);
    auto it = writers_.find(job.job_id());
    if (it != writers_.end()) writer = it->second.get();
  }
  if (writer == nullptr) {
    return absl::InternalError(
        absl::StrCat("job ", job.job_id(),
                     ": a round arrived before its results were "
                     "opened"));
  }
  return writer->WriteRound(report);
}

void ResultsObserver::OnFinished(const v1::Job& job) {
  absl::MutexLock lock(&mu_);
  estimates_.erase(job.job_id());
  auto it = writers_.find(job.job_id());
  if (it == writers_.end()) {
    // Never ran (cancelled while queued), or ended while OnRunning waited
    // for its previous run's finishing or was opening its files.
    if (auto opening = opening_.find(job.job_id()); opening != opening_.end()) {
      opening->second = v1::JobState_Name(job.state());
    }
    return;
  }
  finishing_.insert(job.job_id());
  to_finish_.push_back(
      {job.job_id(), v1::JobState_Name(job.state()), std::move(it->second)});
  writers_.erase(it);
}

bool ResultsObserver::AwaitFinished(const std::string& job_id,
                                    absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto finished = [this, &job_id]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !writers_.contains(job_id) && !finishing_.contains(job_id);
  };
  return mu_.AwaitWithTimeout(absl::Condition(&finished), timeout);
}

absl::StatusOr<fs::path> ResultsObserver::DirectoryOf(
    const std::string& job_id) const {
  // Job ids are generated ("j" and hex digits); anything else cannot name
  // an index file, and must not walk out of it.
  if (job_id.empty() || job_id.find('/') != std::string::npos ||
      job_id[0] == '.') {
    return absl::NotFoundError(absl::StrCat("no job ", job_id));
  }
  // The directory, then (since the owner quota) the owner, a line each.
  std::ifstream in(root_ / kIndexDir / job_id);
  std::string dir;
  if (!std::getline(in, dir) || dir.empty()) {
    return absl::NotFoundError(
        absl::StrCat("job ", job_id, " has no results on this coordinator"));
  }
  return fs::path(dir);
}

}  // namespace replex::coordinator
