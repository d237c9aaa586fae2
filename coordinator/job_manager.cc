#include "coordinator/job_manager.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "coordinator/checkpoint_recovery.h"
#include "coordinator/log.h"
#include "lib/exchange/rng.h"
#include "lib/exchange/scheme.h"
#include "lib/runner/runner.h"
#include "lib/spec/spec.h"

namespace replex::coordinator {
namespace {

void SetTimestamp(absl::Time time, google::protobuf::Timestamp* timestamp) {
  const int64_t nanos = absl::ToUnixNanos(time);
  timestamp->set_seconds(nanos / 1000000000);
  timestamp->set_nanos(static_cast<int32_t>(nanos % 1000000000));
}

bool Final(v1::JobState state) {
  return state == v1::SUCCEEDED || state == v1::FAILED ||
         state == v1::CANCELLED;
}

// The figures a Job shows for a job's exchange so far. Runs every round, so
// only O(n) work: no end-of-job summary (its eigen-solve is O(n^3)).
void SetProgress(const runner::RoundDriver& driver, double ns_per_day,
                 v1::Job& job) {
  const exchange::Statistics& statistics = driver.statistics();
  job.set_rounds_completed(driver.round());
  job.clear_pairs();
  const std::vector<double> acceptance = statistics.PairAcceptance();
  for (size_t k = 0; k < acceptance.size(); ++k) {
    v1::PairAcceptance& pair = *job.add_pairs();
    pair.set_lower_rung(static_cast<int32_t>(k));
    pair.set_attempts(statistics.pair_attempts()[k]);
    pair.set_accepts(statistics.pair_accepts()[k]);
    // Statistics says NaN before any attempt; the API promises 0.
    pair.set_acceptance(std::isnan(acceptance[k]) ? 0 : acceptance[k]);
  }
  job.set_round_trips(statistics.RoundTrips());
  job.set_ns_per_day(ns_per_day);
  const std::vector<int>& rungs = driver.permutation().rung_of_replica();
  job.mutable_rung_of_replica()->Assign(rungs.begin(), rungs.end());
}

// A replica whose energy is not finite has blown up: its round cannot be
// trusted, and the exchange would fail on it or accept nonsense.
absl::Status CheckEnergies(const std::vector<runner::SegmentResult>& results,
                           int64_t round) {
  for (size_t r = 0; r < results.size(); ++r) {
    const runner::SegmentResult& result = results[r];
    const bool nan_reduced =
        std::any_of(result.reduced.begin(), result.reduced.end(),
                    [](double u) { return std::isnan(u); });
    if (!std::isfinite(result.potential_kj_mol) || nan_reduced) {
      return ReplicaFaultError(
          static_cast<int>(r),
          absl::StrCat("replica ", r, " reported a non-finite energy in round ",
                       round, " (potential ", result.potential_kj_mol,
                       " kJ/mol)"));
    }
  }
  return absl::OkStatus();
}

// Separates a restarted replica's velocity seeds from every other seed.
constexpr uint64_t kRestartSeedDomain = 0x2e57a2;

}  // namespace

// ---- JobWatch ----

JobWatch::Next JobWatch::Take(v1::JobEvent* event, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(this, &JobWatch::ReadyLocked), timeout);
  if (!events_.empty()) {
    *event = std::move(events_.front());
    events_.pop_front();
    return Next::kEvent;
  }
  return end_.has_value() ? Next::kEnded : Next::kTimeout;
}

absl::Status JobWatch::end_status() const {
  absl::MutexLock lock(&mu_);
  return end_.value_or(absl::OkStatus());
}

void JobWatch::Cancel() { End(absl::CancelledError("the watcher went away")); }

void JobWatch::Push(v1::JobEvent event) {
  absl::MutexLock lock(&mu_);
  if (end_.has_value()) return;
  if (events_.size() >= kMaxQueuedEvents) {
    end_ = absl::ResourceExhaustedError(absl::StrCat(
        "this watcher fell ", kMaxQueuedEvents,
        " events behind; watch the job again to resume from a snapshot"));
    return;
  }
  events_.push_back(std::move(event));
}

void JobWatch::End(absl::Status status) {
  absl::MutexLock lock(&mu_);
  if (!end_.has_value()) end_ = std::move(status);
}

bool JobWatch::ended() const {
  absl::MutexLock lock(&mu_);
  return end_.has_value();
}

// ---- JobManager ----

JobManager::JobManager(ReplicaPool* pool, Clock* clock, uint64_t id_seed,
                       std::vector<JobObserver*> observers,
                       Durability durability)
    : pool_(pool),
      clock_(clock),
      observers_(std::move(observers)),
      own_journal_(durability.journal != nullptr
                       ? nullptr
                       : Journal::Open(":memory:").value()),
      journal_(durability.journal != nullptr ? durability.journal
                                             : own_journal_.get()),
      checkpoints_(durability.checkpoints),
      max_replica_restarts_(durability.max_replica_restarts),
      id_rng_(id_seed) {
  pool_->SetCapacityListener([this] { StartQueued(); });
}

JobManager::~JobManager() {
  Shutdown();
  pool_->SetCapacityListener(nullptr);
}

std::string JobManager::NewJobId() {
  while (true) {
    std::string id =
        absl::StrFormat("j%012x", id_rng_() & ((uint64_t{1} << 48) - 1));
    if (jobs_.count(id) == 0) return id;
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

  absl::MutexLock lock(&mu_);
  if (shutting_down_) {
    return absl::UnavailableError(
        "the coordinator is shutting down; submit the job again later");
  }
  const std::string id = NewJobId();
  for (JobObserver* observer : observers_) {
    if (absl::Status status = observer->OnSubmit(id, *record->spec);
        !status.ok()) {
      return status;
    }
  }
  job.set_job_id(id);
  record->id = id;
  record->seq = next_seq_;
  if (absl::Status journaled =
          journal_->AddJob(job, *record->spec, record->seq);
      !journaled.ok()) {
    return journaled;
  }
  ++next_seq_;
  LogLine(absl::StrCat(
      "job ", id, " QUEUED: ", job.n_replicas(), " replicas, ", job.n_rounds(),
      " rounds on ", job.platform(),
      job.name().empty() ? "" : absl::StrCat(" (", job.name(), ")")));
  jobs_.emplace(id, std::move(record));
  StartQueuedLocked();
  return id;
}

absl::Status JobManager::Recover() {
  absl::StatusOr<std::vector<JournaledJob>> journaled = journal_->Jobs();
  if (!journaled.ok()) return journaled.status();
  absl::MutexLock lock(&mu_);
  for (JournaledJob& entry : *journaled) {
    auto record = std::make_unique<Record>();
    record->id = entry.job.job_id();
    record->seq = entry.seq;
    record->job = std::move(entry.job);
    next_seq_ = std::max(next_seq_, entry.seq + 1);
    v1::Job& job = record->job;
    if (!Final(job.state())) {
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
        LogLine(absl::StrCat("job ", record->id,
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
  absl::MutexLock lock(&mu_);
  absl::StatusOr<Record*> found = Find(job_id);
  if (!found.ok()) return found.status();
  Record& record = **found;
  if (Final(record.job.state())) return record.job;
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
  watch->Push(std::move(snapshot));
  if (Final(record.job.state())) {
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
  absl::MutexLock lock(&mu_);
  StartQueuedLocked();
}

void JobManager::StartQueuedLocked() {
  if (shutting_down_) return;
  std::vector<Record*> queued;
  for (auto& [id, record] : jobs_) {
    if (record->job.state() == v1::QUEUED) queued.push_back(record.get());
  }
  std::sort(queued.begin(), queued.end(),
            [](const Record* a, const Record* b) { return a->seq < b->seq; });
  std::set<std::string> blocked_platforms;
  for (Record* record : queued) {
    v1::Job& job = record->job;
    if (blocked_platforms.count(job.platform()) > 0) continue;
    absl::StatusOr<std::unique_ptr<JobExecutor>> executor =
        pool_->Admit(job.job_id(), record->spec, job.n_replicas());
    if (!executor.ok()) {
      blocked_platforms.insert(job.platform());
      const std::string reason(executor.status().message());
      if (reason != record->waiting_for) {
        LogLine(absl::StrCat("job ", job.job_id(), " waits: ", reason));
        record->waiting_for = reason;
      }
      continue;
    }
    record->executor = *std::move(executor);
    record->started_at = clock_->Now();
    job.set_workers(record->executor->workers());
    SetState(*record, v1::RUNNING, "");
    record->thread = std::thread(&JobManager::Run, this, record);
  }
}

void JobManager::Run(Record* record) {
  runner::RoundDriver* driver;
  JobExecutor* executor;
  std::shared_ptr<const v1::JobSpec> spec;
  bool resume;
  {
    absl::MutexLock lock(&mu_);
    driver = record->driver.get();
    executor = record->executor.get();
    spec = record->spec;
    resume = std::exchange(record->resume, false);
  }
  absl::Status status =
      resume ? Rollback(*record, *driver, *executor, *spec, std::nullopt)
             : NotifyRunning(*record, *spec, driver->round());
  const int frame_interval = spec->output().frame_interval();
  // The last journaled round's observers, watchers and checkpoint run while
  // the workers compute the next round, off the path from its last result
  // to the next orders; or before anything else when no orders go out.
  std::optional<FinishedRound> finishing;
  absl::Status finished = absl::OkStatus();
  auto finish = [&] {
    if (!finishing.has_value()) return;
    finished.Update(FinishRound(*record, *driver, *finishing));
    finishing.reset();
  };
  while (status.ok() && !driver->done()) {
    const bool with_positions =
        frame_interval > 0 && driver->round() % frame_interval == 0;
    const bool with_state = CheckpointDue(*spec, driver->round() + 1);
    absl::StatusOr<std::vector<runner::SegmentResult>> results =
        executor->RunSegmentsOverlapping(
            driver->Orders(with_positions, with_state), finish);
    finish();
    status = std::exchange(finished, absl::OkStatus());
    if (status.ok()) status = results.status();
    if (status.ok()) status = CheckEnergies(*results, driver->round());
    absl::StatusOr<const runner::RoundDriver::Completed*> completed =
        absl::InternalError("no round completed");
    if (status.ok()) {
      completed = driver->Complete(*results);
      status = completed.status();
    }
    if (status.ok()) {
      double elapsed_seconds = 0;
      absl::StatusOr<v1::Job> job =
          JournalRound(*record, *driver, **completed, elapsed_seconds);
      status = job.status();
      if (job.ok()) {
        finishing = FinishedRound{*completed,       *std::move(results),
                                  *std::move(job),  elapsed_seconds,
                                  with_positions,   with_state};
      }
    }
    if (!status.ok())
      status = HandleFailedRound(*record, *driver, *executor, *spec, status);
  }
  finish();
  if (status.ok()) status = finished;

  absl::MutexLock lock(&mu_);
  if (record->job.state() == v1::RUNNING) {
    if (shutting_down_) {
      LogLine(absl::StrCat("job ", record->job.job_id(),
                           " interrupted: ", status.message()));
    } else {
      SetState(*record, status.ok() ? v1::SUCCEEDED : v1::FAILED,
               std::string(status.message()));
    }
  }
  // Frees the job's places (if Cancel has not already) and its memory: the
  // spec carries the whole System.
  record->executor.reset();
  record->driver.reset();
  record->spec.reset();
  StartQueuedLocked();
}

absl::Status JobManager::NotifyRunning(Record& record, const v1::JobSpec& spec,
                                       int64_t next_round) {
  v1::Job job;
  {
    absl::MutexLock lock(&mu_);
    job = record.job;
  }
  for (JobObserver* observer : observers_) {
    if (absl::Status status = observer->OnRunning(job, spec, next_round);
        !status.ok()) {
      return status;
    }
  }
  return absl::OkStatus();
}

absl::Status JobManager::HandleFailedRound(Record& record,
                                           runner::RoundDriver& driver,
                                           JobExecutor& executor,
                                           const v1::JobSpec& spec,
                                           const absl::Status& why) {
  if (!CallsForRollback(why)) return why;
  const std::optional<int> faulty = FaultyReplica(why);
  {
    absl::MutexLock lock(&mu_);
    if (shutting_down_ || record.job.state() != v1::RUNNING) return why;
    if (faulty.has_value() &&
        ++record.replica_restarts > max_replica_restarts_) {
      return absl::AbortedError(absl::StrCat(
          why.message(),
          "; no restart is left (the job's replicas may "
          "restart from a checkpoint at most ",
          max_replica_restarts_, " times, --max_replica_restarts)"));
    }
  }
  if (faulty.has_value()) {
    for (JobObserver* observer : observers_) {
      observer->OnReplicaRestart(record.id);
    }
  }
  LogLine(absl::StrCat("job ", record.id,
                       " rolls back to its last checkpoint: ", why.message()));
  return Rollback(record, driver, executor, spec, faulty);
}

absl::Status JobManager::Rollback(Record& record, runner::RoundDriver& driver,
                                  JobExecutor& executor,
                                  const v1::JobSpec& spec,
                                  std::optional<int> faulty) {
  const std::string& job_id = record.id;
  // The newest checkpoint that reads back; an unreadable one is skipped.
  absl::StatusOr<std::vector<CheckpointRecord>> recorded =
      journal_->Checkpoints(job_id);
  if (!recorded.ok()) return recorded.status();
  std::optional<v1::Checkpoint> checkpoint;
  for (auto it = recorded->rbegin(); it != recorded->rend(); ++it) {
    absl::StatusOr<v1::Checkpoint> read = CheckpointStore::Read(it->path);
    if (read.ok() && read->round() == it->round &&
        read->states_size() == driver.ladder().size() &&
        read->state_rung_size() == driver.ladder().size()) {
      checkpoint = *std::move(read);
      break;
    }
    LogLine(absl::StrCat(
        "job ", job_id, ": skipping checkpoint ", it->path, ": ",
        read.ok() ? "it does not fit the job" : read.status().message()));
  }
  const int64_t round = checkpoint.has_value() ? checkpoint->round() : 0;

  // The exchange state at the cut, from the journaled rounds before it.
  absl::StatusOr<std::vector<JournaledRound>> rounds =
      journal_->Rounds(job_id, round);
  if (!rounds.ok()) return rounds.status();
  absl::StatusOr<runner::RoundDriver> restored =
      runner::RoundDriver::Create(spec);
  if (!restored.ok()) return restored.status();
  std::vector<exchange::RoundOutcome> outcomes;
  for (JournaledRound& journaled : *rounds) {
    outcomes.push_back(std::move(journaled.outcome));
  }
  if (absl::Status replayed = restored->Replay(outcomes); !replayed.ok()) {
    return replayed;
  }
  if (restored->round() != round ||
      (checkpoint.has_value() &&
       !std::equal(checkpoint->rung_of_replica().begin(),
                   checkpoint->rung_of_replica().end(),
                   restored->permutation().rung_of_replica().begin(),
                   restored->permutation().rung_of_replica().end()))) {
    return absl::DataLossError(absl::StrCat(
        "job ", job_id, ": the journal's exchange log reaches round ",
        restored->round(), " and does not match the checkpoint at round ",
        round));
  }
  if (absl::Status truncated = journal_->Truncate(job_id, round);
      !truncated.ok()) {
    return truncated;
  }

  const int n = restored->ladder().size();
  std::vector<JobExecutor::ReplicaStart> starts(n);
  for (int r = 0; r < n; ++r) {
    JobExecutor::ReplicaStart& start = starts[r];
    start.rung = checkpoint.has_value() ? checkpoint->state_rung(r) : r;
    if (checkpoint.has_value()) start.state = checkpoint->states(r);
    if (faulty == r) {
      start.velocity_seed =
          exchange::DeriveSeed(runner::VelocitySeed(spec.seed(), r),
                               kRestartSeedDomain, record.replica_restarts);
      start.redraw_velocities = !start.state.empty();
    }
  }
  if (absl::Status reloaded = executor.Reload(starts); !reloaded.ok()) {
    return reloaded;
  }
  driver = *std::move(restored);
  {
    absl::MutexLock lock(&mu_);
    SetProgress(driver, /*ns_per_day=*/0, record.job);
    v1::JobEvent event;
    event.set_job_id(job_id);
    *event.mutable_snapshot() = record.job;
    Publish(record, event);
  }
  LogLine(absl::StrCat("job ", job_id, " resumes at round ", round,
                       checkpoint.has_value() ? " (its last checkpoint)"
                                              : " (no checkpoint yet)",
                       faulty.has_value()
                           ? absl::StrCat("; replica ", *faulty,
                                          " restarts with fresh velocities")
                           : ""));
  return NotifyRunning(record, spec, round);
}

bool JobManager::CheckpointDue(const v1::JobSpec& spec,
                               int64_t rounds_done) const {
  if (checkpoints_ == nullptr) return false;
  const int interval = spec.checkpoint_interval();
  return rounds_done == spec.exchange().n_rounds() ||
         (interval > 0 && rounds_done % interval == 0);
}

absl::Status JobManager::WriteCheckpoint(
    const std::string& job_id, const runner::RoundDriver& driver,
    const runner::RoundDriver::Completed& completed,
    const std::vector<runner::SegmentResult>& results) {
  const absl::Time start = absl::Now();
  v1::Checkpoint checkpoint;
  checkpoint.set_job_id(job_id);
  checkpoint.set_round(driver.round());
  const std::vector<int>& rungs = driver.permutation().rung_of_replica();
  checkpoint.mutable_rung_of_replica()->Assign(rungs.begin(), rungs.end());
  for (size_t r = 0; r < results.size(); ++r) {
    if (results[r].state.empty()) {
      return absl::DataLossError(
          absl::StrCat("replica ", r, " came back without its state"));
    }
    checkpoint.add_state_rung(completed.outcome.before.rung_of_replica(r));
    checkpoint.add_states(results[r].state);
  }
  absl::StatusOr<std::string> path = checkpoints_->Write(checkpoint);
  if (!path.ok()) return path.status();
  if (absl::Status recorded =
          journal_->RecordCheckpoint(job_id, {driver.round(), *path});
      !recorded.ok()) {
    return recorded;
  }
  for (JobObserver* observer : observers_) {
    observer->OnCheckpoint(job_id, driver.round(),
                           absl::ToDoubleSeconds(absl::Now() - start));
  }
  // Two are kept, so that an unreadable newest file still leaves a cut.
  absl::StatusOr<std::vector<CheckpointRecord>> all =
      journal_->Checkpoints(job_id);
  if (!all.ok()) return all.status();
  for (size_t i = 0; i + 2 < all->size(); ++i) {
    if (journal_->ForgetCheckpoint(job_id, (*all)[i].round).ok()) {
      CheckpointStore::Remove((*all)[i].path);
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::Job> JobManager::JournalRound(
    Record& record, const runner::RoundDriver& driver,
    const runner::RoundDriver::Completed& completed, double& elapsed_seconds) {
  v1::Job job;
  {
    absl::MutexLock lock(&mu_);
    if (record.job.state() != v1::RUNNING) {
      return absl::CancelledError("the job is no longer running");
    }
    elapsed_seconds = absl::ToDoubleSeconds(clock_->Now() - record.started_at);
    SetProgress(driver,
                runner::NsPerDay(*record.spec, driver.ladder().size(),
                                 driver.round(), elapsed_seconds),
                record.job);
    record.job.set_workers(record.executor->workers());
    job = record.job;
  }
  if (absl::Status journaled = journal_->RecordRound(
          job.job_id(), completed.outcome, completed.potential_kj_mol);
      !journaled.ok()) {
    return journaled;
  }
  return job;
}

absl::Status JobManager::FinishRound(Record& record,
                                     const runner::RoundDriver& driver,
                                     FinishedRound& round) {
  const runner::RoundDriver::Completed& completed = *round.completed;
  const exchange::RoundOutcome& outcome = completed.outcome;
  const v1::Job& job = round.job;
  if (!observers_.empty()) {
    std::vector<std::vector<engine::Vec3>> positions;
    if (round.with_positions) {
      positions.reserve(round.results.size());
      for (const runner::SegmentResult& result : round.results) {
        positions.push_back(result.positions_nm);
      }
    }
    const runner::RoundReport report{
        outcome,
        completed.potential_kj_mol,
        completed.reduced,
        driver.statistics(),
        round.with_positions ? &positions : nullptr,
        round.elapsed_seconds};
    for (JobObserver* observer : observers_) {
      if (absl::Status status = observer->OnRound(job, report); !status.ok()) {
        return status;
      }
    }
  }

  v1::JobEvent event;
  event.set_job_id(job.job_id());
  v1::RoundEvent& event_round = *event.mutable_round();
  event_round.set_round(outcome.round);
  const std::vector<int>& rungs = outcome.after.rung_of_replica();
  event_round.mutable_rung_of_replica()->Assign(rungs.begin(), rungs.end());
  event_round.mutable_pair_attempts()->Assign(outcome.pair_attempts.begin(),
                                              outcome.pair_attempts.end());
  event_round.mutable_pair_accepts()->Assign(outcome.pair_accepts.begin(),
                                             outcome.pair_accepts.end());
  event_round.set_round_trips(job.round_trips());
  event_round.set_ns_per_day(job.ns_per_day());
  {
    absl::MutexLock lock(&mu_);
    if (record.job.state() != v1::RUNNING) {
      return absl::CancelledError("the job is no longer running");
    }
    Publish(record, event);
  }
  if (round.with_state) {
    if (absl::Status written =
            WriteCheckpoint(record.id, driver, completed, round.results);
        !written.ok()) {
      // The previous checkpoint still stands; a rollback goes there.
      LogLine(absl::StrCat("job ", record.id, ": no checkpoint at round ",
                           outcome.round + 1, ": ", written.message()));
    }
  }
  return absl::OkStatus();
}

void JobManager::SetState(Record& record, v1::JobState state,
                          const std::string& error) {
  v1::Job& job = record.job;
  job.set_state(state);
  if (!error.empty()) job.set_error(error);
  if (state == v1::RUNNING) SetTimestamp(clock_->Now(), job.mutable_started());
  if (Final(state)) SetTimestamp(clock_->Now(), job.mutable_finished());
  LogLine(absl::StrCat("job ", job.job_id(), " ", v1::JobState_Name(state),
                       error.empty() ? "" : absl::StrCat(": ", error)));
  if (absl::Status journaled = journal_->UpdateJob(job); !journaled.ok()) {
    // The state still changes here; after a restart the job shows its
    // previous journaled state (and resumes if that was unfinished).
    LogLine(absl::StrCat("job ", job.job_id(), ": ", journaled.message()));
  }
  v1::JobEvent event;
  event.set_job_id(job.job_id());
  *event.mutable_snapshot() = job;
  Publish(record, event);
  if (Final(state)) {
    for (JobObserver* observer : observers_) observer->OnFinished(job);
    for (const std::shared_ptr<JobWatch>& watch : record.watchers) {
      watch->End(absl::OkStatus());
    }
    record.watchers.clear();
  }
}

void JobManager::Publish(Record& record, const v1::JobEvent& event) {
  // Watchers that went away or fell behind are dropped here.
  std::vector<std::shared_ptr<JobWatch>>& watchers = record.watchers;
  watchers.erase(std::remove_if(watchers.begin(), watchers.end(),
                                [](const std::shared_ptr<JobWatch>& watch) {
                                  return watch->ended();
                                }),
                 watchers.end());
  for (const std::shared_ptr<JobWatch>& watch : watchers) watch->Push(event);
}

}  // namespace replex::coordinator
