#include "lib/results/results.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <ostream>
#include <sstream>
#include <system_error>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "google/protobuf/util/json_util.h"
#include "lib/engine/portable_state.h"
#include "lib/files/atomic_file.h"
#include "lib/results/analysis.h"
#include "lib/results/free_energies.h"
#include "lib/results/json.h"
#include "lib/results/report_html.h"
#include "lib/spec/spec.h"

namespace replex::results {
namespace fs = std::filesystem;
namespace {

std::string Now() {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(),
                          absl::UTCTimeZone());
}

std::string Sha256(const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) {
    absl::StrAppendFormat(&hex, "%02x", digest[i]);
  }
  return hex;
}

absl::Status IoError(const fs::path& path, const char* what) {
  return absl::InternalError(absl::StrCat("results: cannot ", what, " ",
                                          path.string(), ": ",
                                          std::strerror(errno)));
}

// Opens a TSV log for appending rows of rounds >= next_round: keeps its header
// and the complete rows of earlier rounds (the first column is the round),
// drops the rest, or starts it with `header`.
absl::StatusOr<std::ofstream> OpenLog(const fs::path& path,
                                      const std::string& header,
                                      int64_t next_round) {
  std::string kept = header + "\n";
  std::ifstream in(path, std::ios::binary);
  if (in) {
    std::stringstream contents;
    contents << in.rdbuf();
    const std::string text = contents.str();
    size_t start = text.find('\n');
    if (start != std::string::npos && text.substr(0, start) == header) {
      kept = text.substr(0, start + 1);
      for (++start; start < text.size();) {
        const size_t end = text.find('\n', start);
        if (end == std::string::npos) break;  // a torn last row
        int64_t round = 0;
        const std::string row = text.substr(start, end - start + 1);
        if (!absl::SimpleAtoi(row.substr(0, row.find('\t')), &round) ||
            round >= next_round) {
          break;
        }
        kept += row;
        start = end + 1;
      }
    }
  }
  if (absl::Status s = files::WriteFileAtomically(path, kept); !s.ok())
    return s;
  std::ofstream out(path, std::ios::binary | std::ios::app);
  if (!out) return IoError(path, "open");
  return out;
}

std::string Header(const std::vector<std::string>& fixed,
                   const std::string& prefix, int n) {
  std::vector<std::string> columns = fixed;
  for (int i = 0; i < n; ++i) columns.push_back(absl::StrCat(prefix, i));
  return absl::StrJoin(columns, "\t");
}

// A double as printf's "%.10g" writes it (std::to_chars is specified to
// match), without printf's cost: u_kln.tsv takes n² of them a round.
struct Tsv {
  explicit Tsv(double x)
      : size(std::to_chars(text, text + sizeof text, x,
                           std::chars_format::general, 10)
                 .ptr -
             text) {}
  char text[32];
  std::ptrdiff_t size;
};

std::ostream& operator<<(std::ostream& out, const Tsv& value) {
  return out.write(value.text, value.size);
}

// The started_at of an existing manifest, so a resumed job keeps it.
std::string StartedAt(const fs::path& manifest) {
  std::ifstream in(manifest);
  std::string line;
  const std::string key = "\"started_at\": \"";
  while (std::getline(in, line)) {
    const size_t at = line.find(key);
    if (at == std::string::npos) continue;
    const size_t begin = at + key.size();
    return line.substr(begin, line.find('"', begin) - begin);
  }
  return "";
}

}  // namespace

std::string TrajectoryPath(int rung) {
  return absl::StrFormat("%s/rung_%03d.nc", kTrajectoryDir, rung);
}

std::string FinalStatePath(int replica) {
  return absl::StrFormat("%s/replica_%03d.xml", kFinalStateDir, replica);
}

std::string ReplicaTrajectoryPath(int replica) {
  return absl::StrFormat("%s/replica_%03d.nc", kTrajectoryDir, replica);
}

absl::StatusOr<std::vector<std::string>> ResultsFiles(const fs::path& dir,
                                                      const std::string& path) {
  if (!path.empty()) {
    const fs::path relative(path);
    bool escapes = relative.is_absolute();
    for (const fs::path& part : relative) escapes |= part == "..";
    if (escapes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "path: \"", path,
          "\" must be relative to the job's results directory, without "
          "\"..\" (e.g. analysis.json or trajectories/rung_000.nc)"));
    }
    std::error_code error;
    if (!fs::is_regular_file(dir / relative, error)) {
      return absl::NotFoundError(
          absl::StrCat("path: the job's results have no file \"", path, "\""));
    }
    return std::vector<std::string>{relative.lexically_normal().string()};
  }
  std::vector<std::string> files;
  std::error_code error;
  for (fs::recursive_directory_iterator it(dir, error), end;
       !error && it != end; it.increment(error)) {
    if (!it->is_regular_file() ||
        it->path().extension() == files::kTemporarySuffix)
      continue;
    files.push_back(fs::relative(it->path(), dir).string());
  }
  if (error) {
    return absl::InternalError(
        absl::StrCat("cannot list ", dir.string(), ": ", error.message()));
  }
  std::sort(files.begin(), files.end());
  return files;
}

uint64_t EstimatedResultsBytes(const v1::JobSpec& spec) {
  absl::StatusOr<exchange::Ladder> ladder = spec::BuildLadder(spec.ladder());
  const uint64_t n = ladder.ok() ? ladder->size() : 0;
  const uint64_t rounds = std::max<int64_t>(0, spec.exchange().n_rounds());
  // The System's own particles: its first <Particles> (forces have theirs
  // later in the file).
  const std::string& xml = spec.system_xml();
  uint64_t atoms = 0;
  const size_t begin = xml.find("<Particles>");
  const size_t end = xml.find("</Particles>", begin);
  if (begin != std::string::npos && end != std::string::npos) {
    for (size_t at = xml.find("<Particle ", begin); at < end;
         at = xml.find("<Particle ", at + 1)) {
      ++atoms;
    }
  }
  // A TSV value is at most 17 characters and a tab; a rung index in the
  // exchange lists at most 5 digits and a comma.
  constexpr uint64_t kValue = 18, kIndex = 6;
  uint64_t per_round = 2 * kValue * (n + 2)    // energies.tsv, kinetic.tsv
                       + kValue * (n + 2)      // volumes.tsv (NPT)
                       + 4 * kIndex * n + 32;  // exchange.tsv
  if (n <= static_cast<uint64_t>(kMaxMatrixRungs)) {
    per_round += n * (kValue * n + 16);  // u_kln.tsv
  } else {
    per_round += 8 * n * n;  // u_kln.npy
  }
  per_round += 128 + 16 * n;  // replex run's resume journal
  // Asynchronous exchange writes a row (and a u_kln matrix) per event: at
  // most one per two segments, but for barriers (a checkpoint's, the end),
  // which may hold one.
  uint64_t rows = rounds;
  if (spec.exchange().mode() == v1::Exchange::ASYNCHRONOUS) {
    const uint64_t interval = std::max(0, spec.checkpoint_interval());
    rows = (n * rounds + 1) / 2 + (interval > 0 ? rounds / interval : 0) + 2;
  }
  uint64_t bytes = rows * per_round;
  if (const int interval = spec.output().frame_interval(); interval > 0) {
    const uint64_t frames = (rounds + interval - 1) / interval;
    const uint64_t files =
        n * (spec.output().per_replica_trajectories() ? 2 : 1);
    // float32 x, y, z per atom; time, box, temperature and indices.
    bytes += files * (frames * (12 * atoms + 72) + 4096);
  }
  // Final states: State XML of positions and velocities, about 150 bytes
  // an atom.
  bytes += n * (150 * atoms + 4096);
  return bytes + 65536;  // manifest, analysis, report, topology
}

std::string GibText(uint64_t bytes) {
  return absl::StrFormat("%.2f GiB", bytes / double(uint64_t{1} << 30));
}

absl::StatusOr<uint64_t> CheckFreeSpace(const fs::path& dir,
                                        const v1::JobSpec& spec) {
  const uint64_t need = EstimatedResultsBytes(spec);
  std::error_code error;
  fs::path existing = dir;
  while (!existing.empty() && !fs::exists(existing, error)) {
    existing = existing.parent_path();
  }
  if (existing.empty()) existing = ".";
  const fs::space_info space = fs::space(existing, error);
  // Without a figure for the free space there is nothing to compare with.
  if (error || need <= space.available) return need;
  return absl::ResourceExhaustedError(absl::StrCat(
      "the job's results need about ", GibText(need), " (",
      spec.exchange().n_rounds(), " rounds",
      spec.output().frame_interval() > 0
          ? absl::StrCat(", a frame every ", spec.output().frame_interval(),
                         " rounds")
          : "",
      ") but only ", GibText(space.available), " is free on ",
      existing.string(),
      "; write fewer frames (a larger output.frame_interval), run fewer "
      "rounds, or free disk space"));
}

absl::Status CreateResultsDirectory(const fs::path& dir) {
  std::error_code error;
  if (fs::exists(dir, error)) {
    return absl::AlreadyExistsError(absl::StrCat(
        "results directory ", dir.string(),
        " already exists; replex never overwrites results: move or delete "
        "it, or choose another (output.directory in the job spec, or "
        "--results for replex run)"));
  }
  fs::create_directories(dir / kTrajectoryDir, error);
  if (error) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create results directory ", dir.string(), ": ",
                     error.message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ResultsWriter>> ResultsWriter::Open(
    const fs::path& dir, const v1::JobSpec& spec, Provenance provenance,
    int64_t next_round) {
  absl::StatusOr<exchange::Ladder> ladder = spec::BuildLadder(spec.ladder());
  if (!ladder.ok()) return ladder.status();
  std::error_code error;
  fs::create_directories(dir / kTrajectoryDir, error);
  if (error) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create results directory ", dir.string(), ": ",
                     error.message()));
  }
  auto writer = std::unique_ptr<ResultsWriter>(new ResultsWriter);
  writer->dir_ = dir;
  writer->spec_ = spec;
  writer->ladder_ = *std::move(ladder);
  writer->provenance_ = std::move(provenance);
  writer->started_at_ = StartedAt(dir / kManifestFile);
  if (writer->started_at_.empty()) writer->started_at_ = Now();
  const int n = writer->ladder_->size();

  absl::StatusOr<std::ofstream> energies =
      OpenLog(dir / kEnergiesFile,
              Header({"round", "time_ps"}, "U_replica_", n), next_round);
  if (!energies.ok()) return energies.status();
  writer->energies_ = *std::move(energies);
  absl::StatusOr<std::ofstream> kinetic =
      OpenLog(dir / kKineticFile, Header({"round", "time_ps"}, "K_replica_", n),
              next_round);
  if (!kinetic.ok()) return kinetic.status();
  writer->kinetic_ = *std::move(kinetic);
  absl::StatusOr<std::ofstream> exchange =
      OpenLog(dir / kExchangeFile,
              "round\trung_of_replica_before\trung_of_replica_after\tattempts\t"
              "accepts",
              next_round);
  if (!exchange.ok()) return exchange.status();
  writer->exchange_ = *std::move(exchange);
  if (n <= kMaxMatrixRungs) {
    absl::StatusOr<std::ofstream> u_kln = OpenLog(
        dir / kUklnFile, Header({"round", "state"}, "u_", n), next_round);
    if (!u_kln.ok()) return u_kln.status();
    writer->u_kln_ = *std::move(u_kln);
  } else {
    absl::StatusOr<std::unique_ptr<NpyStackWriter>> u_kln =
        NpyStackWriter::Open(dir / kUklnNpyFile, n, next_round);
    if (!u_kln.ok()) return u_kln.status();
    writer->u_kln_npy_ = *std::move(u_kln);
  }
  // mdtraj and friends need a topology beside the trajectories: the spec's
  // topology, or a PDB input.
  const std::string& topology =
      !spec.topology_pdb().empty() ? spec.topology_pdb() : spec.pdb();
  if (!topology.empty()) {
    if (absl::Status s =
            files::WriteFileAtomically(dir / kTopologyFile, topology);
        !s.ok()) {
      return s;
    }
  }
  writer->next_round_ = next_round;
  writer->trajectories_.resize(n);
  if (spec.output().per_replica_trajectories()) {
    writer->replica_trajectories_.resize(n);
  }
  if (absl::Status s = writer->WriteManifest("RUNNING", ""); !s.ok()) return s;
  return writer;
}

absl::Status ResultsWriter::WriteRound(const runner::RoundReport& report) {
  const exchange::RoundOutcome& outcome = report.outcome;
  // A version's acceptance is filled in when the next begins: copied then.
  if (report.ladder_versions != nullptr &&
      report.ladder_versions->size() != ladder_versions_.size()) {
    ladder_versions_ = *report.ladder_versions;
  }
  const int n = ladder_->size();
  const int64_t round = outcome.round;
  const int64_t n_rounds = spec_.exchange().n_rounds();
  // Rounds' worth of MD done after this round: under asynchronous exchange
  // (rows per event) the segments finished over the replicas, so that
  // time_ps is the mean simulated time per replica.
  double rounds_done = static_cast<double>(round + 1);
  bool last = round + 1 == n_rounds;
  int64_t rounds_before = round;  // whole rounds' worth before this row
  if (report.segments_by_replica != nullptr) {
    const int64_t segments = runner::SegmentsFinished(report);
    rounds_done = static_cast<double>(segments) / n;
    last = segments == int64_t{n} * n_rounds;
    rounds_before =
        (segments - static_cast<int64_t>(report.replicas->size())) / n;
  }
  const double time_ps = rounds_done * spec_.exchange().steps_per_exchange() *
                         spec_.integrator().timestep_ps();

  // energies.tsv, kinetic.tsv and volumes.tsv: the round, its time, then a
  // value per replica.
  auto per_replica = [&](std::ofstream& out,
                         const std::vector<double>& values) {
    out << round << '\t' << Tsv(time_ps);
    for (double x : values) out << '\t' << Tsv(x);
    out << '\n';
  };
  per_replica(energies_, report.potential_kj_mol);
  per_replica(kinetic_, report.kinetic_kj_mol);
  exchange_ << round << '\t'
            << absl::StrJoin(outcome.before.rung_of_replica(), ",") << '\t'
            << absl::StrJoin(outcome.after.rung_of_replica(), ",") << '\t'
            << absl::StrJoin(outcome.pair_attempts, ",") << '\t'
            << absl::StrJoin(outcome.pair_accepts, ",") << '\n';
  // u_kln[k][l] this round: the configuration sampled at rung k (by the
  // replica there during the segment) evaluated at rung l; NaN where the
  // scheme evaluated nothing. The TSV has rows only for rounds with reduced
  // potentials; the .npy has a matrix every round, so that index r is round
  // r.
  const bool have_reduced = report.reduced.size() == n;
  if ((u_kln_.is_open() && have_reduced) || u_kln_npy_ != nullptr) {
    std::vector<double> u(static_cast<size_t>(n) * n, std::nan(""));
    for (int k = 0; have_reduced && k < n; ++k) {
      const int replica = outcome.before.replica_at_rung(k);
      for (int l = 0; l < n; ++l) {
        u[static_cast<size_t>(k) * n + l] = report.reduced.Get(replica, l);
      }
    }
    if (u_kln_.is_open()) {
      for (int k = 0; k < n; ++k) {
        u_kln_ << round << '\t' << k;
        for (int l = 0; l < n; ++l) {
          u_kln_ << '\t' << Tsv(u[static_cast<size_t>(k) * n + l]);
        }
        u_kln_ << '\n';
      }
      u_kln_.flush();
    }
    if (u_kln_npy_ != nullptr) {
      if (absl::Status s = u_kln_npy_->Append(u); !s.ok()) return s;
    }
  }
  // NPT: each replica's volume; a periodic system's box is never zero (an
  // event's running replicas have a zero box: NaN).
  const int known = report.replicas != nullptr && !report.replicas->empty()
                        ? report.replicas->front()
                        : 0;
  if (engine::BoxVolume(report.box_nm[known]) != 0) {
    if (!volumes_.is_open()) {
      absl::StatusOr<std::ofstream> volumes = OpenLog(
          dir_ / kVolumesFile,
          Header({"round", "time_ps"}, "V_nm3_replica_", n), next_round_);
      if (!volumes.ok()) return volumes.status();
      volumes_ = *std::move(volumes);
    }
    std::vector<double> volumes;
    for (const engine::Box& box : report.box_nm) {
      const double volume = engine::BoxVolume(box);
      volumes.push_back(volume != 0 ? volume : std::nan(""));
    }
    per_replica(volumes_, volumes);
    volumes_.flush();
  }
  energies_.flush();
  kinetic_.flush();
  exchange_.flush();
  if (!energies_ || !kinetic_ || !exchange_ || (u_kln_.is_open() && !u_kln_) ||
      (volumes_.is_open() && !volumes_)) {
    return IoError(dir_, "write the logs in");
  }

  const int interval = spec_.output().frame_interval();
  if (interval > 0 && report.positions_nm != nullptr) {
    // Asynchronous exchange: a rung's and a replica's frames follow its own
    // segments, every interval-th from the first.
    absl::Status written =
        report.segments_by_rung != nullptr ? WriteEventFrames(report)
        : round % interval == 0            ? WriteFrames(report, time_ps)
                                           : absl::OkStatus();
    if (!written.ok()) return written;
  }

  if (last && report.states != nullptr) {
    if (absl::Status s = WriteFinalStates(*report.states); !s.ok()) return s;
  }
  const int64_t every = std::max<int64_t>(1, n_rounds / 20);
  const int64_t done = static_cast<int64_t>(rounds_done);
  if (done / every != rounds_before / every || last) {
    runner::RunResult result = runner::Summarize(
        spec_, report.statistics, outcome.after, done, report.elapsed_seconds);
    result.ns_per_day = report.ns_per_day;  // this run's, not the job's
    if (report.segments_by_replica != nullptr) {
      result.exchange_events = round + 1;
      result.segments_by_replica = *report.segments_by_replica;
    }
    return WriteAnalysis(result, report.statistics);
  }
  return absl::OkStatus();
}

absl::Status ResultsWriter::WriteFinalStates(
    const std::vector<std::string>& states) {
  std::error_code error;
  std::filesystem::create_directories(dir_ / kFinalStateDir, error);
  if (error) return IoError(dir_ / kFinalStateDir, "create");
  for (size_t replica = 0; replica < states.size(); ++replica) {
    absl::StatusOr<engine::PortableState> state =
        engine::PortableState::Deserialize(states[replica]);
    if (!state.ok()) {
      return absl::DataLossError(absl::StrCat(
          "replica ", replica, "'s final state: ", state.status().message()));
    }
    if (absl::Status s = files::WriteFileAtomically(
            dir_ / FinalStatePath(static_cast<int>(replica)),
            state->ToStateXml());
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::Status ResultsWriter::WriteFrame(
    std::unique_ptr<NetcdfTrajectory>& trajectory, const std::string& path,
    const std::string& title, const runner::RoundReport& report, int rung,
    int replica, int64_t frame, double time_ps) {
  const std::vector<engine::Vec3>& positions = (*report.positions_nm)[replica];
  if (trajectory == nullptr) {
    const bool periodic = engine::BoxVolume(report.box_nm[replica]) != 0;
    absl::StatusOr<std::unique_ptr<NetcdfTrajectory>> opened =
        NetcdfTrajectory::Open(dir_ / path, static_cast<int>(positions.size()),
                               periodic, title);
    if (!opened.ok()) return opened.status();
    trajectory = *std::move(opened);
  }
  const double temperature_k =
      ladder_versions_.empty()
          ? ladder_->rung(rung).temperature_k
          : runner::VersionOf(ladder_versions_, report.outcome.round)
                .temperatures_k[rung];
  return trajectory->WriteFrame(
      frame, {time_ps, &positions, report.box_nm[replica], rung, replica,
              temperature_k});
}

absl::Status ResultsWriter::WriteFrames(const runner::RoundReport& report,
                                        double time_ps) {
  const exchange::RoundOutcome& outcome = report.outcome;
  const int64_t frame = outcome.round / spec_.output().frame_interval();
  // The replica at rung k during the segment, by rung; and by replica, for
  // the continuous (demultiplexed) trajectories.
  for (int k = 0; k < ladder_->size(); ++k) {
    if (absl::Status s =
            WriteFrame(trajectories_[k], TrajectoryPath(k),
                       absl::StrCat(spec_.name(), " rung ", k), report, k,
                       outcome.before.replica_at_rung(k), frame, time_ps);
        !s.ok()) {
      return s;
    }
  }
  for (size_t r = 0; r < replica_trajectories_.size(); ++r) {
    const int replica = static_cast<int>(r);
    if (absl::Status s = WriteFrame(
            replica_trajectories_[r], ReplicaTrajectoryPath(replica),
            absl::StrCat(spec_.name(), " replica ", r), report,
            outcome.before.rung_of_replica(replica), replica, frame, time_ps);
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::Status ResultsWriter::WriteEventFrames(
    const runner::RoundReport& report) {
  const int n = ladder_->size();
  const int interval = spec_.output().frame_interval();
  const double segment_ps =
      spec_.exchange().steps_per_exchange() * spec_.integrator().timestep_ps();
  const std::vector<int64_t>& by_rung = *report.segments_by_rung;
  const std::vector<int64_t>& by_replica = *report.segments_by_replica;
  // The frames of the c-th sample (1, 2, ...): every interval-th from the
  // first.
  auto frames_of = [&](int64_t samples) {
    return (samples + interval - 1) / interval;
  };
  if (!event_frames_trimmed_) {
    // The first event since Open: the counts before it are the cut's, and
    // frames past them belong to a superseded run.
    event_frames_trimmed_ = true;
    std::vector<int64_t> rung_cut = by_rung, replica_cut = by_replica;
    for (int replica : *report.replicas) {
      --rung_cut[report.outcome.before.rung_of_replica(replica)];
      --replica_cut[replica];
    }
    for (int k = 0; k < n; ++k) {
      if (absl::Status s = NetcdfTrajectory::KeepFrames(
              dir_ / TrajectoryPath(k), frames_of(rung_cut[k]));
          !s.ok()) {
        return s;
      }
    }
    for (size_t r = 0; r < replica_trajectories_.size(); ++r) {
      if (absl::Status s = NetcdfTrajectory::KeepFrames(
              dir_ / ReplicaTrajectoryPath(static_cast<int>(r)),
              frames_of(replica_cut[r]));
          !s.ok()) {
        return s;
      }
    }
  }
  for (int replica : *report.replicas) {
    const int rung = report.outcome.before.rung_of_replica(replica);
    if (const int64_t c = by_rung[rung]; (c - 1) % interval == 0) {
      if (absl::Status s =
              WriteFrame(trajectories_[rung], TrajectoryPath(rung),
                         absl::StrCat(spec_.name(), " rung ", rung), report,
                         rung, replica, (c - 1) / interval, c * segment_ps);
          !s.ok()) {
        return s;
      }
    }
    const int64_t c = by_replica[replica];
    if (!replica_trajectories_.empty() && (c - 1) % interval == 0) {
      if (absl::Status s = WriteFrame(
              replica_trajectories_[replica], ReplicaTrajectoryPath(replica),
              absl::StrCat(spec_.name(), " replica ", replica), report, rung,
              replica, (c - 1) / interval, c * segment_ps);
          !s.ok()) {
        return s;
      }
    }
  }
  return absl::OkStatus();
}

absl::Status ResultsWriter::WriteAnalysis(
    const runner::RunResult& result, const exchange::Statistics& statistics) {
  analysis_ = MakeAnalysis(spec_, *ladder_, ladder_versions_, result,
                           statistics, provenance_.job_id, state_);
  return SaveAnalysis();
}

absl::Status ResultsWriter::SaveAnalysis() {
  analysis_->set_state(state_);
  return files::WriteFileAtomically(
      dir_ / kAnalysisFile, AnalysisJson(*analysis_, /*indented=*/true));
}

absl::Status ResultsWriter::WriteManifest(const std::string& state,
                                          const std::string& finished_at) {
  // The spec without its (large) inputs, which the hashes identify.
  v1::JobSpec spec = spec_;
  const std::string& coordinates = spec.coordinates_case() == v1::JobSpec::kPdb
                                       ? spec.pdb()
                                       : spec.state_xml();
  const std::string coordinates_hash = Sha256(coordinates);
  const size_t coordinates_bytes = coordinates.size();
  const std::string system_hash = Sha256(spec.system_xml());
  const char* coordinates_kind =
      spec.coordinates_case() == v1::JobSpec::kPdb ? "pdb" : "state_xml";
  spec.clear_system_xml();
  spec.clear_coordinates();
  spec.clear_topology_pdb();
  std::string spec_json;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = false;
  options.preserve_proto_field_names = true;
  if (!google::protobuf::util::MessageToJsonString(spec, &spec_json, options)
           .ok()) {
    spec_json = "null";
  }
  const std::string text =
      absl::StrCat("{\n  \"job_id\": ", json::String(provenance_.job_id), ",\n",
                   "  \"state\": ", json::String(state), ",\n",
                   "  \"started_at\": ", json::String(started_at_), ",\n",
                   "  \"finished_at\": ", json::String(finished_at), ",\n",
                   "  \"inputs\": {\"system_xml\": {\"sha256\": \"",
                   system_hash, "\", \"bytes\": ", spec_.system_xml().size(),
                   "}, \"", coordinates_kind, "\": {\"sha256\": \"",
                   coordinates_hash, "\", \"bytes\": ", coordinates_bytes,
                   "}},\n", "  \"software\": {\"replex\": \"", REPLEX_VERSION,
                   "\", \"openmm\": \"", REPLEX_OPENMM_VERSION, "\"},\n",
                   "  \"hosts\": ", json::Array(provenance_.hosts), ",\n",
                   "  \"devices\": ", json::Array(provenance_.devices), ",\n",
                   "  \"spec\": ", spec_json, "\n}\n");
  return files::WriteFileAtomically(dir_ / kManifestFile, text);
}

absl::Status ResultsWriter::Finish(const std::string& state) {
  state_ = state;
  // A stopped run goes on later; its free energies wait for its end.
  if (analysis_.has_value() && state != "STOPPED") {
    u_kln_.flush();
    const fs::path u_kln =
        dir_ / (u_kln_npy_ != nullptr ? kUklnNpyFile : kUklnFile);
    // Asynchronous exchange has whole rows for its events' rungs only. An
    // adaptive ladder's rounds before the last version ran at other
    // temperatures: only the frozen ladder's enter MBAR.
    *analysis_->mutable_free_energies() =
        spec_.exchange().mode() == v1::Exchange::ASYNCHRONOUS
            ? FreeEnergiesByRung(u_kln, analysis_->n_rungs())
            : FreeEnergiesFromUkln(u_kln, analysis_->n_rungs(),
                                   ladder_versions_.empty()
                                       ? 0
                                       : ladder_versions_.back().from_round);
  }
  if (analysis_.has_value()) {
    if (absl::Status s = SaveAnalysis(); !s.ok()) return s;
  }
  if (absl::Status s = WriteManifest(state, Now()); !s.ok()) return s;
  absl::StatusOr<std::string> html = ReportHtmlFromDirectory(dir_);
  if (!html.ok()) return html.status();
  return files::WriteFileAtomically(dir_ / kReportFile, *html);
}

}  // namespace replex::results
