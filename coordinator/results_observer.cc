#include "coordinator/results_observer.h"

#include <unistd.h>

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

}  // namespace

ResultsObserver::ResultsObserver(fs::path root)
    : root_(std::move(root)), host_(HostName()) {}

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
  if (absl::Status s = results::CheckFreeSpace(*dir, spec); !s.ok()) return s;
  if (absl::Status s = results::CreateResultsDirectory(*dir); !s.ok()) return s;
  std::error_code error;
  fs::create_directories(root_ / kIndexDir, error);
  std::ofstream(root_ / kIndexDir / job_id) << dir->string();
  return absl::OkStatus();
}

absl::Status ResultsObserver::OnRunning(const v1::Job& job,
                                        const v1::JobSpec& spec,
                                        int64_t next_round) {
  absl::StatusOr<fs::path> dir = Resolve(job.job_id(), spec);
  if (!dir.ok()) return dir.status();
  absl::StatusOr<std::unique_ptr<results::ResultsWriter>> writer =
      results::ResultsWriter::Open(
          *dir, spec,
          {job.job_id(),
           {host_},
           {absl::StrCat(spec.platform(), " platform on replex-worker(s)")}},
          next_round);
  if (!writer.ok()) return writer.status();
  if (next_round > 0) {
    service::LogLine(absl::StrCat("job ", job.job_id(), ": results in ",
                                  dir->string(), " continue from round ",
                                  next_round));
  }
  absl::MutexLock lock(&mu_);
  writers_[job.job_id()] = *std::move(writer);
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
  std::unique_ptr<results::ResultsWriter> writer;
  {
    absl::MutexLock lock(&mu_);
    auto it = writers_.find(job.job_id());
    if (it == writers_.end()) return;  // never ran (cancelled while queued)
    writer = std::move(it->second);
    writers_.erase(it);
  }
  if (absl::Status s = writer->Finish(v1::JobState_Name(job.state()));
      !s.ok()) {
    service::LogLine(absl::StrCat(
        "job ", job.job_id(), ": cannot finish its results: ", s.message()));
  }
}

absl::StatusOr<fs::path> ResultsObserver::DirectoryOf(
    const std::string& job_id) const {
  // Job ids are generated ("j" and hex digits); anything else cannot name
  // an index file, and must not walk out of it.
  if (job_id.empty() || job_id.find('/') != std::string::npos ||
      job_id[0] == '.') {
    return absl::NotFoundError(absl::StrCat("no job ", job_id));
  }
  std::ifstream in(root_ / kIndexDir / job_id);
  std::stringstream dir;
  dir << in.rdbuf();
  if (!in || dir.str().empty()) {
    return absl::NotFoundError(
        absl::StrCat("job ", job_id, " has no results on this coordinator"));
  }
  return fs::path(dir.str());
}

}  // namespace replex::coordinator
