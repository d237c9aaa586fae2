// SqliteJournal: the schema and the statements behind each Journal call.
#include "lib/store/sqlite_journal.h"

#include <sqlite3.h>

#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace replex::store {
namespace {

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (
  job_id TEXT PRIMARY KEY,
  seq INTEGER NOT NULL,
  state INTEGER NOT NULL,
  job BLOB NOT NULL,   -- replex.v1.Job, the last snapshot
  spec BLOB            -- replex.v1.JobSpec; NULL once the job has ended
);
CREATE TABLE IF NOT EXISTS rounds (
  job_id TEXT NOT NULL,
  round INTEGER NOT NULL,
  rung_of_replica TEXT NOT NULL,  -- after the round, comma-separated
  pair_attempts TEXT NOT NULL,
  pair_accepts TEXT NOT NULL,
  total_attempts INTEGER NOT NULL,
  total_accepts INTEGER NOT NULL,
  potential_kj_mol TEXT NOT NULL,  -- by replica, %.17g (bit-exact)
  PRIMARY KEY (job_id, round)
);
CREATE TABLE IF NOT EXISTS checkpoints (
  job_id TEXT NOT NULL,
  round INTEGER NOT NULL,
  path TEXT NOT NULL,   -- CheckpointRecord.location
  PRIMARY KEY (job_id, round)
);
)sql";

// A prepared statement, finalized on destruction.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) : db_(db) {
    status_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr);
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement& Bind(int i, const std::string& text) {
    Check(sqlite3_bind_text(stmt_, i, text.data(),
                            static_cast<int>(text.size()), SQLITE_TRANSIENT));
    return *this;
  }
  Statement& BindBlob(int i, const std::string& bytes) {
    Check(sqlite3_bind_blob(stmt_, i, bytes.data(),
                            static_cast<int>(bytes.size()), SQLITE_TRANSIENT));
    return *this;
  }
  Statement& Bind(int i, int64_t value) {
    Check(sqlite3_bind_int64(stmt_, i, value));
    return *this;
  }
  // SQLITE_ROW or SQLITE_DONE; anything else is an error (see Error()).
  int Step() {
    if (status_ != SQLITE_OK) return status_;
    return sqlite3_step(stmt_);
  }
  absl::Status Done() {
    const int code = Step();
    return code == SQLITE_DONE ? absl::OkStatus() : Error(code);
  }
  absl::Status Error(int code) const {
    const std::string message =
        absl::StrCat("journal: ", sqlite3_errmsg(db_), " (", code, ")");
    return (code & 0xff) == SQLITE_CONSTRAINT
               ? absl::AlreadyExistsError(message)
               : absl::InternalError(message);
  }
  int64_t Int(int column) const { return sqlite3_column_int64(stmt_, column); }
  std::string Text(int column) const {
    const void* data = sqlite3_column_blob(stmt_, column);
    const int size = sqlite3_column_bytes(stmt_, column);
    return data == nullptr ? ""
                           : std::string(static_cast<const char*>(data),
                                         static_cast<size_t>(size));
  }
  bool Null(int column) const {
    return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
  }

 private:
  void Check(int code) {
    if (status_ == SQLITE_OK) status_ = code;
  }
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  int status_;
};

template <typename T>
std::string JoinNumbers(const std::vector<T>& values) {
  return absl::StrJoin(values, ",");
}

std::string JoinDoubles(const std::vector<double>& values) {
  return absl::StrJoin(values, ",", [](std::string* out, double value) {
    absl::StrAppendFormat(out, "%.17g", value);
  });
}

template <typename T>
absl::StatusOr<std::vector<T>> SplitNumbers(const std::string& text) {
  std::vector<T> values;
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    T value;
    bool ok;
    if constexpr (std::is_same_v<T, double>) {
      ok = absl::SimpleAtod(part, &value);
    } else {
      ok = absl::SimpleAtoi(part, &value);
    }
    if (!ok) {
      return absl::DataLossError(
          absl::StrCat("journal: '", std::string(part), "' is not a number"));
    }
    values.push_back(value);
  }
  return values;
}

}  // namespace

absl::StatusOr<std::unique_ptr<SqliteJournal>> SqliteJournal::Open(
    const std::string& path) {
  {
    const std::filesystem::path parent =
        std::filesystem::path(path).parent_path();
    std::error_code error;
    if (!parent.empty()) std::filesystem::create_directories(parent, error);
    if (error) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot create the journal's directory ",
                       parent.string(), ": ", error.message()));
    }
  }
  sqlite3* db = nullptr;
  const int code = sqlite3_open_v2(
      path.c_str(), &db,
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
      nullptr);
  std::unique_ptr<SqliteJournal> journal(new SqliteJournal(db, path));
  if (code != SQLITE_OK) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot open the journal ", path, ": ",
                     db == nullptr ? "out of memory" : sqlite3_errmsg(db)));
  }
  sqlite3_busy_timeout(db, 5000);
  absl::MutexLock lock(&journal->mu_);
  for (const char* sql :
       {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", kSchema}) {
    if (absl::Status status = journal->Exec(sql); !status.ok()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "cannot use the journal ", path, ": ", status.message()));
    }
  }
  return journal;
}

SqliteJournal::~SqliteJournal() { sqlite3_close(db_); }

absl::Status SqliteJournal::Exec(const std::string& sql) {
  char* error = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error) == SQLITE_OK) {
    return absl::OkStatus();
  }
  const std::string message = error == nullptr ? "unknown error" : error;
  sqlite3_free(error);
  return absl::InternalError(absl::StrCat("journal: ", message));
}

absl::StatusOr<int64_t> SqliteJournal::NextIncarnation() {
  absl::MutexLock lock(&mu_);
  absl::Status status = Statement(db_,
                                  "INSERT INTO meta VALUES ('incarnation', 1) "
                                  "ON CONFLICT(key) DO UPDATE SET value = "
                                  "value + 1")
                            .Done();
  if (!status.ok()) return status;
  Statement select(db_, "SELECT value FROM meta WHERE key = 'incarnation'");
  const int code = select.Step();
  if (code != SQLITE_ROW) return select.Error(code);
  return select.Int(0);
}

absl::Status SqliteJournal::AddJob(const v1::Job& job, const v1::JobSpec& spec,
                                   int64_t seq) {
  absl::MutexLock lock(&mu_);
  return Statement(db_, "INSERT INTO jobs VALUES (?, ?, ?, ?, ?)")
      .Bind(1, job.job_id())
      .Bind(2, seq)
      .Bind(3, int64_t{job.state()})
      .BindBlob(4, job.SerializeAsString())
      .BindBlob(5, spec.SerializeAsString())
      .Done();
}

absl::Status SqliteJournal::UpdateJob(const v1::Job& job) {
  absl::MutexLock lock(&mu_);
  return Statement(db_, "UPDATE jobs SET state = ?, job = ? WHERE job_id = ?")
      .Bind(1, int64_t{job.state()})
      .BindBlob(2, job.SerializeAsString())
      .Bind(3, job.job_id())
      .Done();
}

absl::StatusOr<std::vector<JournaledJob>> SqliteJournal::Jobs() {
  absl::MutexLock lock(&mu_);
  // Ended jobs' specs stay on disk for Spec() (see JournaledJob).
  Statement select(db_,
                   "SELECT job, CASE WHEN state IN (?, ?, ?) THEN NULL ELSE "
                   "spec END, seq FROM jobs ORDER BY seq");
  select.Bind(1, int64_t{v1::SUCCEEDED})
      .Bind(2, int64_t{v1::FAILED})
      .Bind(3, int64_t{v1::CANCELLED});
  std::vector<JournaledJob> jobs;
  int code;
  while ((code = select.Step()) == SQLITE_ROW) {
    JournaledJob& journaled = jobs.emplace_back();
    journaled.seq = select.Int(2);
    bool parsed = journaled.job.ParseFromString(select.Text(0));
    if (!select.Null(1)) {
      parsed =
          parsed && journaled.spec.emplace().ParseFromString(select.Text(1));
    }
    if (!parsed) {
      return absl::DataLossError(absl::StrCat("journal ", path_, ": job row ",
                                              jobs.size(), " does not parse"));
    }
  }
  if (code != SQLITE_DONE) return select.Error(code);
  return jobs;
}

absl::StatusOr<v1::JobSpec> SqliteJournal::Spec(const std::string& job_id) {
  absl::MutexLock lock(&mu_);
  Statement select(db_, "SELECT spec FROM jobs WHERE job_id = ?");
  select.Bind(1, job_id);
  const int code = select.Step();
  if (code == SQLITE_DONE) {
    return absl::NotFoundError(absl::StrCat("journal: no job ", job_id));
  }
  if (code != SQLITE_ROW) return select.Error(code);
  v1::JobSpec spec;
  if (select.Null(0)) {
    return absl::DataLossError(
        absl::StrCat("journal ", path_, " no longer holds job ", job_id,
                     "'s spec (journals written before ExtendJob "
                     "existed dropped it when the job ended)"));
  }
  if (!spec.ParseFromString(select.Text(0))) {
    return absl::DataLossError(absl::StrCat(
        "journal ", path_, ": the spec of job ", job_id, " does not parse"));
  }
  return spec;
}

absl::Status SqliteJournal::RecordRound(
    const std::string& job_id, const exchange::RoundOutcome& outcome,
    const std::vector<double>& potential_kj_mol) {
  absl::MutexLock lock(&mu_);
  return Statement(db_, "INSERT INTO rounds VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
      .Bind(1, job_id)
      .Bind(2, outcome.round)
      .Bind(3, JoinNumbers(outcome.after.rung_of_replica()))
      .Bind(4, JoinNumbers(outcome.pair_attempts))
      .Bind(5, JoinNumbers(outcome.pair_accepts))
      .Bind(6, outcome.total_attempts)
      .Bind(7, outcome.total_accepts)
      .Bind(8, JoinDoubles(potential_kj_mol))
      .Done();
}

absl::StatusOr<std::vector<JournaledRound>> SqliteJournal::Rounds(
    const std::string& job_id, int64_t end_round) {
  absl::MutexLock lock(&mu_);
  Statement select(db_,
                   "SELECT round, rung_of_replica, pair_attempts, "
                   "pair_accepts, total_attempts, total_accepts, "
                   "potential_kj_mol FROM rounds WHERE job_id = ? AND round "
                   "< ? ORDER BY round");
  select.Bind(1, job_id).Bind(2, end_round);
  std::vector<JournaledRound> rounds;
  int code;
  while ((code = select.Step()) == SQLITE_ROW) {
    JournaledRound& journaled = rounds.emplace_back();
    exchange::RoundOutcome& outcome = journaled.outcome;
    outcome.round = select.Int(0);
    absl::StatusOr<std::vector<int>> rungs = SplitNumbers<int>(select.Text(1));
    absl::StatusOr<std::vector<int64_t>> attempts =
        SplitNumbers<int64_t>(select.Text(2));
    absl::StatusOr<std::vector<int64_t>> accepts =
        SplitNumbers<int64_t>(select.Text(3));
    absl::StatusOr<std::vector<double>> potentials =
        SplitNumbers<double>(select.Text(6));
    for (const absl::Status& status : {rungs.status(), attempts.status(),
                                       accepts.status(), potentials.status()}) {
      if (!status.ok()) return status;
    }
    absl::StatusOr<exchange::Permutation> after =
        exchange::Permutation::FromRungOfReplica(*rungs);
    if (!after.ok()) {
      return absl::DataLossError(absl::StrCat("journal: round ", outcome.round,
                                              " of job ", job_id, ": ",
                                              after.status().message()));
    }
    outcome.before = exchange::Permutation::Identity(after->size());
    outcome.after = *std::move(after);
    outcome.pair_attempts = *std::move(attempts);
    outcome.pair_accepts = *std::move(accepts);
    outcome.total_attempts = select.Int(4);
    outcome.total_accepts = select.Int(5);
    journaled.potential_kj_mol = *std::move(potentials);
  }
  if (code != SQLITE_DONE) return select.Error(code);
  return rounds;
}

absl::Status SqliteJournal::RecordCheckpoint(
    const std::string& job_id, const CheckpointRecord& checkpoint) {
  absl::MutexLock lock(&mu_);
  return Statement(db_, "INSERT OR REPLACE INTO checkpoints VALUES (?, ?, ?)")
      .Bind(1, job_id)
      .Bind(2, checkpoint.round)
      .Bind(3, checkpoint.location)
      .Done();
}

absl::StatusOr<std::vector<CheckpointRecord>> SqliteJournal::Checkpoints(
    const std::string& job_id) {
  absl::MutexLock lock(&mu_);
  Statement select(db_,
                   "SELECT round, path FROM checkpoints WHERE job_id = ? "
                   "ORDER BY round");
  select.Bind(1, job_id);
  std::vector<CheckpointRecord> checkpoints;
  int code;
  while ((code = select.Step()) == SQLITE_ROW) {
    checkpoints.push_back({select.Int(0), select.Text(1)});
  }
  if (code != SQLITE_DONE) return select.Error(code);
  return checkpoints;
}

absl::Status SqliteJournal::ForgetCheckpoint(const std::string& job_id,
                                             int64_t round) {
  absl::MutexLock lock(&mu_);
  return Statement(db_,
                   "DELETE FROM checkpoints WHERE job_id = ? AND round = ?")
      .Bind(1, job_id)
      .Bind(2, round)
      .Done();
}

absl::Status SqliteJournal::Truncate(const std::string& job_id, int64_t round) {
  absl::MutexLock lock(&mu_);
  if (absl::Status status = Exec("BEGIN IMMEDIATE"); !status.ok()) {
    return status;
  }
  absl::Status status =
      Statement(db_, "DELETE FROM rounds WHERE job_id = ? AND round >= ?")
          .Bind(1, job_id)
          .Bind(2, round)
          .Done();
  if (status.ok()) {
    status =
        Statement(db_, "DELETE FROM checkpoints WHERE job_id = ? AND round > ?")
            .Bind(1, job_id)
            .Bind(2, round)
            .Done();
  }
  if (!status.ok()) {
    Exec("ROLLBACK").IgnoreError();
    return status;
  }
  return Exec("COMMIT");
}

}  // namespace replex::store
