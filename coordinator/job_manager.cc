// The job manager's API and queue: submission, queries, cancellation,
// watches, recovery from the journal, and the state changes whose disk work
// (journal, observers) runs after the lock is released. Each job's own
// thread is in job_runner.cc.
#include "coordinator/job_manager.h"

#include <algorithm>
#include <limits>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "coordinator/job_progress.h"
#include "lib/exchange/scheme.h"
#include "lib/service/process.h"
#include "lib/spec/spec.h"
#include "lib/store/in_memory_journal.h"

namespace replex::coordinator {

// ---- JobManager ----

JobManager::JobManager(ReplicaPool* pool, timing::Clock* clock,
                       uint64_t id_seed, std::vector<JobObserver*> observers,
                       Durability durability, JobScheduling scheduling)
    : pool_(pool),
      clock_(clock),
      observers_(std::move(observers)),
      own_journal_(durability.journal != nullptr
                       ? nullptr
                       : std::make_unique<store::InMemoryJournal>()),
      journal_(durability.journal != nullptr ? durability.journal
                                             : own_journal_.get()),
      checkpoints_(durability.checkpoints),
      max_replica_restarts_(durability.max_replica_restarts),
      max_worker_losses_(durability.max_worker_losses),
      scheduling_(scheduling),
      id_rng_(id_seed) {
  pool_->SetCapacityListener([this] { StartQueued(); });
}

JobManager::~JobManager() {
  Shutdown();
  pool_->SetCapacityListener(nullptr);
}

JobManager::Locked::Locked(JobManager* manager) : manager_(manager) {
  manager_->mu_.Lock();
}

JobManager::Locked::~Locked() {
  manager_->mu_.Unlock();
  manager_->ApplyEffects();
}

void JobManager::ApplyEffects() {
  absl::MutexLock order(&effects_mu_);
  std::vector<Effect> effects;
  {
    absl::MutexLock lock(&mu_);
    effects.swap(effects_);
  }
  for (const Effect& effect : effects) {
    if (absl::Status journaled = journal_->UpdateJob(effect.job);
        !journaled.ok()) {
      // The state still changed here; after a restart the job shows its
      // previous journaled state (and resumes if that was unfinished).
      service::LogLine(
          absl::StrCat("job ", effect.job.job_id(), ": ", journaled.message()));
    }
    if (effect.finished) {
      for (JobObserver* observer : observers_) observer->OnFinished(effect.job);
    }
  }
}

std::string JobManager::NewJobId() {
  while (true) {
    std::string id =
        absl::StrFormat("j%012x", id_rng_() & ((uint64_t{1} << 48) - 1));
    if (jobs_.count(id) == 0 && reserved_ids_.insert(id).second) return id;
  }
}

absl::StatusOr<JobManager::Record*> JobManager::Find(
    absl::string_view job_id) const {
  auto it = jobs_.find(std::string(job_id));
  if (it == jobs_.end()) {
    return absl::NotFoundError(
        absl::StrCat("no job '", job_id, "': list jobs with `replexctl list`"));
  }
  return it->second.get();
}

absl::StatusOr<std::string> JobManager::Submit(v1::JobSpec spec) {
  spec::ApplyDefaults(spec);
  if (absl::Status valid = spec::Validate(spec); !valid.ok()) return valid;
  absl::StatusOr<runner::RoundDriver> driver =
      runner::RoundDriver::Create(spec);
  if (!driver.ok()) return driver.status();

  auto record = std::make_unique<Record>();
  v1::Job& job = record->job;
  job.set_state(v1::QUEUED);
  job.set_name(spec.name());
  job.set_owner(spec.owner());
  job.mutable_labels()->insert(spec.labels().begin(), spec.labels().end());
  const exchange::Ladder& ladder = driver->ladder();
  job.set_n_replicas(ladder.size());
  job.set_n_rounds(spec.exchange().n_rounds());
  for (const exchange::Rung& rung : ladder.rungs()) {
    job.add_temperatures_k(rung.temperature_k);
  }
  job.set_scheme(exchange::SchemeName(driver->scheme()));
  job.set_platform(spec.platform());
  SetProgress(*driver, /*ns_per_day=*/0, job);
  SetTimestamp(clock_->Now(), job.mutable_created());
  record->driver = std::make_unique<runner::RoundDriver>(*std::move(driver));
  record->spec = std::make_shared<const v1::JobSpec>(std::move(spec));

  std::string id;
  {
    absl::MutexLock lock(&mu_);
    if (shutting_down_) {
      return absl::UnavailableError(
          "the coordinator is shutting down; submit the job again later");
    }
    if (const int limit = scheduling_.max_running_replicas_per_owner;
        limit > 0 && job.n_replicas() > limit) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "the job has ", job.n_replicas(), " replicas, more than the ", limit,
          " one owner may run at once (--max_running_replicas_per_owner); "
          "use fewer rungs"));
    }
    if (const int limit = scheduling_.max_queued_jobs_per_owner; limit > 0) {
      int queued = 0;
      for (const auto& [other_id, other] : jobs_) {
        queued += other->job.state() == v1::QUEUED &&
                  other->job.owner() == job.owner();
      }
      if (queued >= limit) {
        return absl::ResourceExhaustedError(absl::StrCat(
            "owner \"", job.owner(), "\" already has ", queued,
            " jobs queued, the most one owner may have "
            "(--max_queued_jobs_per_owner); wait for some to start or "
            "cancel some"));
      }
    }
    id = NewJobId();
    record->seq = next_seq_++;
    record->queued_at = clock_->Now();
  }
  job.set_job_id(id);
  record->id = id;
  // The observers (a results directory to create) and the journal touch the
  // disk: with the id reserved, they run unlocked.
  absl::Status accepted = absl::OkStatus();
  for (JobObserver* observer : observers_) {
    accepted = observer->OnSubmit(id, *record->spec);
    if (!accepted.ok()) break;
  }
  if (accepted.ok())
    accepted = journal_->AddJob(job, *record->spec, record->seq);
  Locked lock(this);
  reserved_ids_.erase(id);
  if (!accepted.ok()) return accepted;
  service::LogLine(absl::StrCat(
      "job ", id, " QUEUED: ", job.n_replicas(), " replicas, ", job.n_rounds(),
      " rounds on ", job.platform(),
      job.name().empty() ? "" : absl::StrCat(" (", job.name(), ")")));
  jobs_.emplace(id, std::move(record));
  StartQueuedLocked();
  return id;
}

absl::Status JobManager::Recover() {
  absl::StatusOr<std::vector<store::JournaledJob>> journaled = journal_->Jobs();
  if (!journaled.ok()) return journaled.status();
  Locked lock(this);
  for (store::JournaledJob& entry : *journaled) {
    auto record = std::make_unique<Record>();
    record->id = entry.job.job_id();
    record->seq = entry.seq;
    record->queued_at = clock_->Now();
    record->job = std::move(entry.job);
    next_seq_ = std::max(next_seq_, entry.seq + 1);
    v1::Job& job = record->job;
    if (!store::IsFinal(job.state())) {
      // An extended job's total is in its snapshot, not its spec.
      if (entry.spec.has_value()) {
        entry.spec->mutable_exchange()->set_n_rounds(
            static_cast<int32_t>(job.n_rounds()));
      }
      absl::StatusOr<runner::RoundDriver> driver =
          entry.spec.has_value()
              ? runner::RoundDriver::Create(*entry.spec)
              : absl::DataLossError("the journal holds no spec for it");
      if (!driver.ok()) {
        SetState(*record, v1::FAILED,
                 absl::StrCat("cannot resume after a restart: ",
                              driver.status().message()));
      } else {
        record->driver =
            std::make_unique<runner::RoundDriver>(*std::move(driver));
        record->spec =
            std::make_shared<const v1::JobSpec>(*std::move(entry.spec));
        record->resume = true;
        job.set_state(v1::QUEUED);
        job.set_workers(0);
        service::LogLine(
            absl::StrCat("job ", record->id,
                         " recovered from the journal: it resumes from "
                         "its last checkpoint"));
      }
    }
    jobs_.emplace(record->id, std::move(record));
  }
  StartQueuedLocked();
  return absl::OkStatus();
}

absl::StatusOr<v1::Job> JobManager::Get(absl::string_view job_id) const {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<Record*> record = Find(job_id);
  if (!record.ok()) return record.status();
  return (*record)->job;
}

std::vector<v1::Job> JobManager::List(
    const std::vector<v1::JobState>& states) const {
  absl::MutexLock lock(&mu_);
  std::vector<const Record*> records;
  for (const auto& [id, record] : jobs_) {
    if (states.empty() || std::find(states.begin(), states.end(),
                                    record->job.state()) != states.end()) {
      records.push_back(record.get());
    }
  }
  std::sort(records.begin(), records.end(),
            [](const Record* a, const Record* b) { return a->seq < b->seq; });
  std::vector<v1::Job> jobs;
  jobs.reserve(records.size());
  for (const Record* record : records) jobs.push_back(record->job);
  return jobs;
}

absl::StatusOr<v1::Job> JobManager::Cancel(absl::string_view job_id) {
  Locked lock(this);
  absl::StatusOr<Record*> found = Find(job_id);
  if (!found.ok()) return found.status();
  Record& record = **found;
  if (store::IsFinal(record.job.state())) return record.job;
  if (record.executor != nullptr) {
    // Frees the places now; the job's thread sees CANCELLED from RunSegments
    // and leaves the state alone.
    record.executor->Release(absl::CancelledError("the job was cancelled"));
  }
  if (!record.thread.joinable()) {
    // Never started: no thread will free the spec (which carries the whole
    // System) and the driver's statistics, so free them here.
    record.driver.reset();
    record.spec.reset();
  }
  SetState(record, v1::CANCELLED, "");
  StartQueuedLocked();
  return record.job;
}

absl::StatusOr<v1::Job> JobManager::Extend(absl::string_view job_id,
                                           int64_t rounds) {
  absl::MutexLock serial(&extend_mu_);
  std::thread ended;
  int64_t n_rounds;
  {
    absl::MutexLock lock(&mu_);
    absl::StatusOr<Record*> found = Find(job_id);
    if (!found.ok()) return found.status();
    const v1::Job& job = (*found)->job;
    if (!store::IsFinal(job.state())) {
      return absl::FailedPreconditionError(absl::StrCat(
          "job ", job_id, " is ", v1::JobState_Name(job.state()),
          ": only an ended job (SUCCEEDED, CANCELLED or FAILED) can be "
          "extended; wait for it with `replexctl watch ",
          job_id, "`"));
    }
    if (rounds < 0 ||
        (rounds == 0 && job.rounds_completed() >= job.n_rounds())) {
      return absl::InvalidArgumentError(absl::StrCat(
          "rounds: ", rounds, " is not a number of rounds to add to job ",
          job_id, ", which has completed ", job.rounds_completed(), " of ",
          job.n_rounds(), "; give 1 or more"));
    }
    n_rounds = job.n_rounds() + rounds;
    // Its thread has nothing left to do but return: joined unlocked below,
    // as it may still be applying its last effects.
    ended = std::move((*found)->thread);
  }
  if (ended.joinable()) ended.join();
  // Read unlocked: it can be large (the System) and is on disk.
  absl::StatusOr<v1::JobSpec> spec = journal_->Spec(std::string(job_id));
  if (!spec.ok()) return spec.status();
  // n_rounds is an int32 in the spec.
  if (n_rounds > std::numeric_limits<int32_t>::max()) {
    return absl::InvalidArgumentError(
        absl::StrCat("rounds: ", n_rounds, " rounds in all is more than ",
                     std::numeric_limits<int32_t>::max()));
  }
  spec->mutable_exchange()->set_n_rounds(static_cast<int32_t>(n_rounds));
  if (absl::Status valid = spec::Validate(*spec); !valid.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("job ", job_id, " with ", n_rounds,
                     " rounds in all: ", valid.message()));
  }
  absl::StatusOr<runner::RoundDriver> driver =
      runner::RoundDriver::Create(*spec);
  if (!driver.ok()) return driver.status();

  Locked lock(this);
  if (shutting_down_) {
    return absl::UnavailableError(
        "the coordinator is shutting down; extend the job again later");
  }
  Record& record = *jobs_.at(std::string(job_id));
  v1::Job& job = record.job;
  job.set_n_rounds(n_rounds);
  job.clear_error();
  job.clear_finished();
  job.set_workers(0);
  record.driver = std::make_unique<runner::RoundDriver>(*std::move(driver));
  record.spec = std::make_shared<const v1::JobSpec>(*std::move(spec));
  record.resume = true;
  record.replica_restarts = 0;
  service::LogLine(absl::StrCat("job ", job.job_id(), " extended to ", n_rounds,
                                " rounds: it resumes from its last "
                                "checkpoint"));
  record.queued_at = clock_->Now();
  SetState(record, v1::QUEUED, "");
  StartQueuedLocked();
  return record.job;
}

absl::StatusOr<std::shared_ptr<JobWatch>> JobManager::Watch(
    absl::string_view job_id) {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<Record*> found = Find(job_id);
  if (!found.ok()) return found.status();
  Record& record = **found;
  auto watch = std::make_shared<JobWatch>();
  v1::JobEvent snapshot;
  snapshot.set_job_id(record.job.job_id());
  *snapshot.mutable_snapshot() = record.job;
  watch->Push(JobWatch::Event::Of(std::move(snapshot)), record.job);
  if (store::IsFinal(record.job.state())) {
    watch->End(absl::OkStatus());
  } else if (shutting_down_) {
    watch->End(absl::UnavailableError("the coordinator is shutting down"));
  } else {
    record.watchers.push_back(watch);
  }
  return watch;
}

void JobManager::Shutdown() {
  std::vector<std::thread*> threads;
  {
    absl::MutexLock lock(&mu_);
    shutting_down_ = true;
    const absl::Status why =
        absl::UnavailableError("the coordinator is shutting down");
    for (auto& [id, record] : jobs_) {
      if (record->executor != nullptr) record->executor->Release(why);
      for (const std::shared_ptr<JobWatch>& watch : record->watchers) {
        watch->End(why);
      }
      record->watchers.clear();
      if (record->thread.joinable()) threads.push_back(&record->thread);
    }
  }
  // Outside the lock: the threads take it to finish.
  for (std::thread* thread : threads) thread->join();
}

void JobManager::StartQueued() {
  Locked lock(this);
  StartQueuedLocked();
}

void JobManager::StartQueuedLocked() {
  if (shutting_down_) return;
  std::vector<Record*> queued;
  for (auto& [id, record] : jobs_) {
    if (record->job.state() == v1::QUEUED) queued.push_back(record.get());
  }
  // Fair share: owners running the fewest replicas first, then submission
  // order.
  std::map<std::string, int> running;
  for (auto& [id, record] : jobs_) {
    if (record->job.state() == v1::RUNNING) {
      running[record->job.owner()] += record->job.n_replicas();
    }
  }
  std::sort(queued.begin(), queued.end(),
            [&running](const Record* a, const Record* b) {
              const int ra = running[a->job.owner()];
              const int rb = running[b->job.owner()];
              return ra != rb ? ra < rb : a->seq < b->seq;
            });
  // Per platform, the first job that has waited past the backfill window
  // without room: the later ones wait behind it. Jobs that do not fit but
  // have waited less hold no one back.
  const absl::Time now = clock_->Now();
  std::map<std::string, std::string> reserved_for;
  for (Record* record : queued) {
    v1::Job& job = record->job;
    if (auto it = reserved_for.find(job.platform()); it != reserved_for.end()) {
      SetQueueReason(
          *record,
          absl::StrCat("behind job ", it->second, ", queued first for the ",
                       job.platform(), " workers, which has waited over ",
                       absl::FormatDuration(scheduling_.backfill_window),
                       " (--backfill_window): room goes to it first"));
      continue;
    }
    int& owner_running = running[job.owner()];
    if (const int limit = scheduling_.max_running_replicas_per_owner;
        limit > 0 && owner_running + job.n_replicas() > limit) {
      SetQueueReason(
          *record,
          absl::StrCat("owner \"", job.owner(), "\" runs ", owner_running,
                       " replicas; with this job's ", job.n_replicas(),
                       " that would pass the ", limit,
                       " one owner may run at once "
                       "(--max_running_replicas_per_owner)"));
      continue;
    }
    absl::StatusOr<std::unique_ptr<JobExecutor>> executor =
        pool_->Admit(job.job_id(), record->spec, job.n_replicas());
    if (!executor.ok()) {
      if (now - record->queued_at >= scheduling_.backfill_window) {
        reserved_for.emplace(job.platform(), job.job_id());
      }
      SetQueueReason(*record, std::string(executor.status().message()));
      continue;
    }
    owner_running += job.n_replicas();
    record->executor = *std::move(executor);
    record->started_at = clock_->Now();
    record->rounds_at_start = -1;  // set by its first NotifyRunning
    job.set_workers(record->executor->workers());
    SetState(*record, v1::RUNNING, "");
    record->thread = std::thread(&JobManager::Run, this, record);
  }
}

void JobManager::SetQueueReason(Record& record, const std::string& reason) {
  if (reason == record.waiting_for) return;
  service::LogLine(
      absl::StrCat("job ", record.job.job_id(), " waits: ", reason));
  record.waiting_for = reason;
  record.job.set_queue_reason(reason);
  // Watchers (`replexctl watch`) see why the job does not start.
  v1::JobEvent event;
  event.set_job_id(record.job.job_id());
  *event.mutable_snapshot() = record.job;
  Publish(record, std::move(event));
}

void JobManager::SetState(Record& record, v1::JobState state,
                          const std::string& error) {
  v1::Job& job = record.job;
  job.set_state(state);
  if (!error.empty()) job.set_error(error);
  if (state != v1::QUEUED) {
    job.clear_queue_reason();
    record.waiting_for.clear();
  }
  const bool final = store::IsFinal(state);
  if (state == v1::RUNNING) SetTimestamp(clock_->Now(), job.mutable_started());
  if (final) SetTimestamp(clock_->Now(), job.mutable_finished());
  service::LogLine(
      absl::StrCat("job ", job.job_id(), " ", v1::JobState_Name(state),
                   error.empty() ? "" : absl::StrCat(": ", error)));
  effects_.push_back({job, final});
  v1::JobEvent event;
  event.set_job_id(job.job_id());
  *event.mutable_snapshot() = job;
  Publish(record, std::move(event));
  if (final) {
    for (const std::shared_ptr<JobWatch>& watch : record.watchers) {
      watch->End(absl::OkStatus());
    }
    record.watchers.clear();
  }
}

void JobManager::Publish(Record& record, v1::JobEvent event) {
  // Watchers that went away or fell behind are dropped here.
  std::vector<std::shared_ptr<JobWatch>>& watchers = record.watchers;
  watchers.erase(std::remove_if(watchers.begin(), watchers.end(),
                                [](const std::shared_ptr<JobWatch>& watch) {
                                  return watch->ended();
                                }),
                 watchers.end());
  if (watchers.empty()) return;
  // One event for every watcher: they share it.
  const JobWatch::Event shared = JobWatch::Event::Of(std::move(event));
  for (const std::shared_ptr<JobWatch>& watch : watchers) {
    watch->Push(shared, record.job);
  }
}

}  // namespace replex::coordinator
