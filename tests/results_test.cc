// The results files as scientists use them: `replex run` writes them, and the
// tools chemists already use open them — mdtraj loads each rung's NetCDF
// trajectory, pymbar gets the exact free energies of the harmonic example
// from u_kln, headless Chromium renders report.html — and an existing
// results directory is never overwritten. Python is Debian's
// (/usr/bin/python3); tests skip when a package is missing.
#include "lib/results/results.h"

#include <netcdf.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "lib/exchange/ladder.h"
#include "lib/results/analysis.h"
#include "lib/results/free_energies.h"
#include "lib/runner/runner.h"
#include "lib/spec/spec.h"
#include "replex/v1/analysis.pb.h"
#include "tests/cluster.h"
#include "tests/process.h"
#include "tests/sampling_checks.h"
#include "tests/statistical_util.h"
#include "tests/test_paths.h"

namespace replex {
namespace {

namespace fs = std::filesystem;
using testing::ReadFile;
using testing::RunCommand;
using testing::SourcePath;

void WriteFile(const fs::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

fs::path TempDir(const std::string& name) {
  fs::path dir = fs::temp_directory_path() /
                 absl::StrCat("replex-results-", name, "-", getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// Writes `root`/job.yaml: the System and State of examples/`example`, then
// `rest` (more YAML).
void WriteJob(const fs::path& root, const std::string& example,
              const std::string& rest) {
  const fs::path dir = SourcePath("examples/" + example);
  WriteFile(root / "job.yaml",
            absl::StrCat("system: ", (dir / "system.xml").string(),
                         "\ncoordinates: ", (dir / "state.xml").string(), "\n",
                         rest));
}

// WriteJob of the harmonic oscillators as the example runs them (Reference,
// friction 20/ps, `neighbors`, 50 steps a round) with `ladder` (YAML, the
// value of `ladder:`), `seed` and `rounds`.
void WriteHarmonicJob(const fs::path& root, const std::string& name, int seed,
                      const std::string& ladder, int rounds) {
  WriteJob(root, "harmonic-oscillator",
           absl::StrCat("name: ", name, "\nplatform: Reference\nseed: ", seed,
                        "\nintegrator: {timestep_ps: 0.002, "
                        "friction_per_ps: 20}\nladder:",
                        ladder,
                        "\nexchange: {scheme: neighbors, "
                        "steps_per_exchange: 50, n_rounds: ",
                        rounds, "}\n"));
}

// `replex run` of `root`/job.yaml into `root`/`out`, with `flags`: the exit
// code and the output.
std::pair<int, std::string> RunJob(const fs::path& root, const std::string& out,
                                   const std::string& flags = "") {
  return RunCommand(
      absl::StrCat(REPLEX_BIN, " run ", (root / "job.yaml").string(),
                   " --progress_every=-1 --results=", (root / out).string(),
                   flags, " 2>&1"));
}

bool PythonHas(const std::string& module) {
  return RunCommand(absl::StrCat("/usr/bin/python3 -c 'import ", module,
                                 "' 2>/dev/null"))
             .first == 0;
}

// Runs a Python script (written to `dir`) and returns its exit code and output.
std::pair<int, std::string> RunPython(const fs::path& dir,
                                      const std::string& script,
                                      const std::string& args) {
  const fs::path file = dir / "check.py";
  WriteFile(file, script);
  return RunCommand(
      absl::StrCat("/usr/bin/python3 ", file.string(), " ", args, " 2>&1"));
}

// The harmonic-oscillator example (4 rungs x 2000 rounds, a frame every 10
// rounds), run once by the `replex` binary for the whole suite (~1 s).
class HarmonicResultsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new fs::path(TempDir("harmonic"));
    const auto [code, output] = RunCommand(absl::StrCat(
        REPLEX_BIN, " run ",
        SourcePath("examples/harmonic-oscillator/job.yaml"),
        " --progress_every=-1 --results=", (*root_ / "out").string(), " 2>&1"));
    ASSERT_EQ(code, 0) << output;
  }
  static void TearDownTestSuite() {
    fs::remove_all(*root_);
    delete root_;
  }
  static fs::path dir() { return *root_ / "out"; }
  static fs::path* root_;
};
fs::path* HarmonicResultsTest::root_ = nullptr;

constexpr int kRungs = 4, kRounds = 2000, kFrameInterval = 10;

TEST_F(HarmonicResultsTest, LogsHaveOneRowPerRoundInOrder) {
  for (const char* file : {results::kEnergiesFile, results::kExchangeFile}) {
    std::vector<std::string> lines =
        absl::StrSplit(ReadFile(dir() / file), '\n', absl::SkipEmpty());
    ASSERT_EQ(lines.size(), kRounds + 1u) << file;  // + header
    for (int r = 0; r < kRounds; ++r) {
      ASSERT_TRUE(absl::StartsWith(lines[r + 1], absl::StrCat(r, "\t")))
          << file << " row " << r;
    }
  }
  std::vector<std::string> u_kln = absl::StrSplit(
      ReadFile(dir() / results::kUklnFile), '\n', absl::SkipEmpty());
  EXPECT_EQ(u_kln.size(), kRounds * kRungs + 1u);
  const std::string manifest = ReadFile(dir() / results::kManifestFile);
  for (const char* key : {"\"sha256\"", "\"openmm\"", "\"hosts\"",
                          "\"finished_at\": \"20", "\"SUCCEEDED\""}) {
    EXPECT_NE(manifest.find(key), std::string::npos) << key << manifest;
  }
  EXPECT_NE(
      ReadFile(dir() / results::kAnalysisFile).find("\"transition_matrix\""),
      std::string::npos);
}

// mdtraj reads a trajectory with a topology; the harmonic example has none,
// so the test writes a PDB of its 4 carbon-mass particles.
constexpr char kMdtrajScript[] = R"(
import sys, mdtraj
top = sys.argv[1]
for nc in sys.argv[2:]:
    t = mdtraj.load(nc, top=top)
    print(t.n_frames, t.n_atoms, float(abs(t.xyz).max()))
)";

std::vector<std::vector<double>> NumberRows(const std::string& output) {
  std::vector<std::vector<double>> rows;
  for (absl::string_view line : absl::StrSplit(output, '\n')) {
    std::vector<double> row;
    for (absl::string_view field :
         absl::StrSplit(line, ' ', absl::SkipEmpty())) {
      double x;
      if (!absl::SimpleAtod(field, &x)) break;
      row.push_back(x);
    }
    if (!row.empty()) rows.push_back(row);
  }
  return rows;
}

TEST_F(HarmonicResultsTest, MdtrajLoadsEveryRung) {
  if (!PythonHas("mdtraj")) GTEST_SKIP() << "python3-mdtraj is not installed";
  std::string pdb;
  for (int i = 0; i < 4; ++i) {
    absl::StrAppend(&pdb,
                    absl::StrFormat("ATOM  %5d  C   OSC A%4d    %8.3f"
                                    "%8.3f%8.3f  1.00  0.00           C\n",
                                    i + 1, i + 1, 0.0, 0.0, 0.0));
  }
  WriteFile(*root_ / "harmonic.pdb", pdb + "END\n");
  std::string args = (*root_ / "harmonic.pdb").string();
  for (int k = 0; k < kRungs; ++k) {
    absl::StrAppend(&args, " ", (dir() / results::TrajectoryPath(k)).string());
  }
  const auto [code, output] = RunPython(*root_, kMdtrajScript, args);
  ASSERT_EQ(code, 0) << output;
  const auto rows = NumberRows(output);
  ASSERT_EQ(rows.size(), static_cast<size_t>(kRungs)) << output;
  for (const auto& row : rows) {
    EXPECT_EQ(row[0], kRounds / kFrameInterval) << output;
    EXPECT_EQ(row[1], 4) << output;
    // k_B T / K at 600 K is (0.035 nm)^2: oscillators stay well within 1 nm.
    EXPECT_GT(row[2], 0);
    EXPECT_LT(row[2], 1.0);
  }
}

// Per-rung trajectories hold the right configurations, not just the right
// number of frames: frame f of rung k (round r = f * interval) is the
// configuration of the replica that ran rung k in round r (exchange.tsv's
// rung_of_replica_before), so its energy from the positions,
// U = K/2 sum |x|^2 (the example's oscillators, K = 4000), equals that
// replica's U in energies.tsv, and remd_crdidx names that replica.
constexpr char kRungContentScript[] = R"(
import sys, numpy as np
from scipy.io import netcdf_file
d, spring, n, interval = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
energies = np.loadtxt(d + '/energies.tsv', skiprows=1)
before = [[int(x) for x in line.split('\t')[1].split(',')]
          for line in open(d + '/exchange.tsv').read().splitlines()[1:]]
worst, checked = 0.0, 0
for k in range(n):
    nc = netcdf_file(f'{d}/trajectories/rung_{k:03d}.nc', 'r', mmap=False)
    xyz = nc.variables['coordinates'][:].astype(float) / 10  # A to nm
    replica_index = np.ravel(nc.variables['remd_crdidx'][:])
    for f in range(xyz.shape[0]):
        r = f * interval
        i = before[r].index(k)
        assert replica_index[f] == i + 1, (k, f, replica_index[f], i)
        u = 0.5 * spring * (xyz[f] ** 2).sum()
        worst = max(worst, abs(u - energies[r, 2 + i]) / energies[r, 2 + i])
        checked += 1
print(checked, worst)
)";

TEST_F(HarmonicResultsTest, EachRungsFramesAreTheConfigurationsSampledThere) {
  if (!PythonHas("scipy")) GTEST_SKIP() << "python3-scipy is not installed";
  const auto [code, output] = RunPython(
      *root_, kRungContentScript,
      absl::StrCat(dir().string(), " 4000 ", kRungs, " ", kFrameInterval));
  ASSERT_EQ(code, 0) << output;
  const auto rows = NumberRows(output);
  ASSERT_EQ(rows.size(), 1u) << output;
  EXPECT_EQ(rows[0][0], kRungs * kRounds / kFrameInterval) << output;
  // float32 coordinates (2^-24 relative, squared: 1.2e-7) against the
  // 10 significant digits of energies.tsv.
  EXPECT_LT(rows[0][1], 1e-6) << output;
}

// A short alanine dipeptide run: mdtraj loads its trajectories with the
// example's own PDB (22 atoms), frame for frame.
TEST(ResultsTest, MdtrajLoadsAlanineDipeptideWithItsPdb) {
  if (!PythonHas("mdtraj")) GTEST_SKIP() << "python3-mdtraj is not installed";
  const fs::path root = TempDir("alanine");
  const fs::path example = SourcePath("examples/alanine-dipeptide");
  WriteJob(root, "alanine-dipeptide",
           "platform: Reference\nseed: 1\n"
           "ladder: {n_rungs: 3, temperature_range_k: {min: 300, max: 400}}\n"
           "exchange: {steps_per_exchange: 20, n_rounds: 6}\n"
           "output: {frame_interval: 2}\n");
  const auto [run_code, run_output] = RunJob(root, "out");
  ASSERT_EQ(run_code, 0) << run_output;
  std::string args = (example / "input.pdb").string();
  for (int k = 0; k < 3; ++k) {
    absl::StrAppend(&args, " ",
                    (root / "out" / results::TrajectoryPath(k)).string());
  }
  const auto [code, output] = RunPython(root, kMdtrajScript, args);
  ASSERT_EQ(code, 0) << output;
  for (const auto& row : NumberRows(output)) {
    EXPECT_EQ(row[0], 3) << output;  // rounds 0, 2, 4
    EXPECT_EQ(row[1], 22) << output;
  }
  EXPECT_EQ(NumberRows(output).size(), 3u) << output;
  fs::remove_all(root);
}

// The NPT ideal-gas example, briefly, with per-replica trajectories: every
// rung's frames carry the box of the configuration they hold (mdtraj reads
// it; it is the volume volumes.tsv records for that replica in that round),
// the REMD variables say whose frame it is, and each replica's trajectory is
// the per-rung frames demultiplexed, bit for bit.
constexpr char kPeriodicScript[] = R"(
import sys, numpy as np, mdtraj
from scipy.io import netcdf_file
d, top, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
every = int(sys.argv[4])
volumes = np.loadtxt(d + '/volumes.tsv', skiprows=1)[:, 2:]
exchange = [l.rstrip('\n').split('\t') for l in open(d + '/exchange.tsv')][1:]
before = [list(map(int, row[1].split(','))) for row in exchange]
temps = [float(t) for t in sys.argv[5:]]
worst_box = 0.0
for k in range(n):
    traj = mdtraj.load(f'{d}/trajectories/rung_{k:03d}.nc', top=top)
    f = netcdf_file(f'{d}/trajectories/rung_{k:03d}.nc', 'r', mmap=False)
    for frame in range(traj.n_frames):
        r = frame * every
        replica = before[r].index(k)
        edge = volumes[r, replica] ** (1 / 3)
        worst_box = max(worst_box, np.max(np.abs(traj.unitcell_lengths[frame] - edge)) / edge)
        assert abs(traj.unitcell_angles[frame] - 90).max() < 1e-4
        assert f.variables['remd_repidx'][frame] == k + 1
        assert f.variables['remd_crdidx'][frame] == replica + 1
        assert abs(f.variables['temp0'][frame] - temps[k]) < 1e-9
    f.close()
mismatch = 0
for i in range(n):
    rep = netcdf_file(f'{d}/trajectories/replica_{i:03d}.nc', 'r', mmap=False)
    xyz = rep.variables['coordinates'][:].copy()
    for frame in range(xyz.shape[0]):
        k = before[frame * every][i]
        rung = netcdf_file(f'{d}/trajectories/rung_{k:03d}.nc', 'r', mmap=False)
        mismatch += int(not np.array_equal(xyz[frame], rung.variables['coordinates'][frame]))
        rung.close()
    rep.close()
print(traj.n_frames, worst_box, mismatch)
)";

TEST(ResultsTest,
     PeriodicFramesCarryTheirBoxAndReplicaTrajectoriesDemultiplex) {
  if (!PythonHas("mdtraj")) GTEST_SKIP() << "python3-mdtraj is not installed";
  const fs::path root = TempDir("npt");
  // A topology for the 64 dimers (mdtraj needs atom names).
  std::string pdb;
  for (int i = 0; i < 128; ++i) {
    absl::StrAppendFormat(
        &pdb,
        "HETATM%5d  C   DIM A%4d       0.000   0.000   0.000  1.00  0.00"
        "           C\n",
        i + 1, i / 2 + 1);
  }
  WriteFile(root / "top.pdb", pdb + "END\n");
  WriteJob(root, "npt-ideal-gas",
           "topology: top.pdb\nplatform: Reference\nseed: 4\n"
           "ladder: {temperatures_k: [300, 330, 360]}\n"
           "exchange: {steps_per_exchange: 20, n_rounds: 60}\n"
           "output: {frame_interval: 5, per_replica_trajectories: true}\n");
  const auto [run_code, run_output] = RunJob(root, "out");
  ASSERT_EQ(run_code, 0) << run_output;
  EXPECT_EQ(ReadFile(root / "out" / results::kTopologyFile), pdb + "END\n");
  const auto [code, output] =
      RunPython(root, kPeriodicScript,
                absl::StrCat((root / "out").string(), " ",
                             (root / "top.pdb").string(), " 3 5 300 330 360"));
  ASSERT_EQ(code, 0) << output;
  const auto rows = NumberRows(output);
  ASSERT_EQ(rows.size(), 1u) << output;
  EXPECT_EQ(rows[0][0], 12) << output;  // rounds 0, 5, ..., 55
  // cell_lengths are stored as doubles, mdtraj hands them over as float32.
  EXPECT_LT(rows[0][1], 1e-6) << output;
  EXPECT_EQ(rows[0][2], 0) << output;
  fs::remove_all(root);
}

// final_states/replica_NNN.xml is what OpenMM reads: each replica's last
// positions (its per-replica trajectory's last frame, stored as float32),
// its box and its velocities.
constexpr char kFinalStatesScript[] = R"(
import sys, os, numpy as np
from scipy.io import netcdf_file
try:
    import openmm as mm
except ImportError:
    import simtk.openmm as mm
d, n = sys.argv[1], int(sys.argv[2])
assert sorted(os.listdir(d + '/final_states')) == \
    [f'replica_{i:03d}.xml' for i in range(n)], os.listdir(d + '/final_states')
worst = 0.0
for i in range(n):
    state = mm.XmlSerializer.deserialize(open(f'{d}/final_states/replica_{i:03d}.xml').read())
    xyz = np.array(state.getPositions(asNumpy=True)._value)
    box = np.array(state.getPeriodicBoxVectors(asNumpy=True)._value)
    v = np.array(state.getVelocities(asNumpy=True)._value)
    assert v.shape == xyz.shape and np.abs(v).max() > 0
    rep = netcdf_file(f'{d}/trajectories/replica_{i:03d}.nc', 'r', mmap=False)
    last = rep.variables['coordinates'][-1] / 10  # A to nm
    cell = rep.variables['cell_lengths'][-1] / 10
    worst = max(worst, np.abs(xyz - last).max() / np.abs(last).max(),
                np.abs(np.diag(box) - cell).max() / cell.max())
print(n, worst)
)";

TEST(ResultsTest, FinalStatesAreEachReplicasLastStateAsOpenMMStateXml) {
  if (!PythonHas("mdtraj")) GTEST_SKIP() << "python3-mdtraj is not installed";
  const fs::path root = TempDir("final");
  WriteJob(root, "npt-ideal-gas",
           "platform: Reference\nseed: 5\n"
           "ladder: {temperatures_k: [300, 330, 360]}\n"
           "exchange: {steps_per_exchange: 20, n_rounds: 9}\n"
           "output: {frame_interval: 1, per_replica_trajectories: true}\n");
  const auto [run_code, run_output] = RunJob(root, "out");
  ASSERT_EQ(run_code, 0) << run_output;
  const auto [code, output] = RunPython(
      root, kFinalStatesScript, absl::StrCat((root / "out").string(), " 3"));
  ASSERT_EQ(code, 0) << output;
  const auto rows = NumberRows(output);
  ASSERT_EQ(rows.size(), 1u) << output;
  EXPECT_EQ(rows[0][0], 3);
  // The trajectories hold float32: 2^-24 relative, and a little headroom.
  EXPECT_LT(rows[0][1], 1e-6) << output;
  fs::remove_all(root);
}

// pymbar 3 (Debian 12; pymbar 4's names are handled too) on the samples it
// chooses itself from u_kln.tsv, as docs/results.md says replex does. For
// rounds (the default): the complete rounds, detectEquilibration on the sum
// of each rung's own reduced potential (nskip as replex bounds the
// candidates), subsampleCorrelatedData. With a second argument `by_rung`
// (asynchronous exchange): each rung's whole rows in event order, each
// series on its own, the latest start, largest g and fewest samples
// reported. Then MBAR and computeOverlap. Prints replex's and pymbar's
// choices and the largest differences, then replex's f and df.
constexpr char kPymbarScript[] = R"(
import sys, json, numpy as np, pymbar
from pymbar import timeseries
d = sys.argv[1]
fe = json.load(open(d + '/analysis.json'))['free_energies']
assert not fe['unavailable'], fe['unavailable']
u = np.loadtxt(d + '/u_kln.tsv', skiprows=1)
K = int(u[:, 1].max()) + 1
rows = u[::K, 0].astype(int)            # round (or event) of each matrix
u = u[:, 2:].reshape(-1, K, K)          # [round, k (sampled), l (evaluated)]
detect = getattr(timeseries, 'detectEquilibration', None) or \
    timeseries.detect_equilibration
subsample = getattr(timeseries, 'subsampleCorrelatedData', None) or \
    timeseries.subsample_correlated_data
def choose(series):
    t0, g, _ = detect(series, nskip=(len(series) + 499) // 500)
    return t0, float(g), np.array(subsample(series[t0:], g=g)) + t0
if len(sys.argv) > 2 and sys.argv[2] == 'by_rung':
    columns, counts, start, g = [], [], 0, 1.0
    for k in range(K):
        whole = np.where(np.isfinite(u[:, k, :]).all(axis=1))[0]
        t0, g_k, kept = choose(u[whole, k, k])
        start, g = max(start, rows[whole[t0]]), max(g, g_k)
        columns.append(u[whole[kept], k, :].T)
        counts.append(len(kept))
    u_kn, n_k = np.concatenate(columns, axis=1), np.array(counts)
else:
    complete = np.where(np.isfinite(u).all(axis=(1, 2)))[0]
    t0, g, kept = choose(np.array([np.trace(x) for x in u[complete]]))
    start = rows[complete[t0]]
    u_kn = np.transpose(u[complete[kept]], (1, 2, 0))
    n_k = np.full(K, len(kept))
mbar = pymbar.MBAR(np.ascontiguousarray(u_kn), n_k)
if hasattr(mbar, 'compute_free_energy_differences'):
    r = mbar.compute_free_energy_differences()
    f, df = r['Delta_f'], r['dDelta_f']
    o = mbar.compute_overlap()
else:
    f, df = mbar.getFreeEnergyDifferences()[:2]
    o = mbar.computeOverlap()
print(start, fe['equilibration_rounds'], g, fe['statistical_inefficiency'],
      n_k.min(), fe['samples_per_rung'])
print(np.abs(f[0] - fe['f']).max(),
      np.abs(df[0] - fe['df']).max() / df[0].max(),
      np.abs(np.diag(df, 1) - fe['df_neighbors']).max() / df[0].max(),
      np.abs(np.array(o['matrix']) - fe['overlap']).max(),
      abs(o['scalar'] - fe['overlap_gap']))
for k in range(K):
    print(k, fe['f'][k], fe['df'][k])
)";

// replex's MBAR (analysis.json's free_energies) equals pymbar's on the same
// u_kln to pymbar's own precision (its solver stops at a gradient of 1e-12;
// 1e-8 leaves room for how the sums are ordered), chooses the same rounds,
// and matches the exact free energies within 4 of its standard errors (the
// rounds are subsampled by their statistical inefficiency, so the errors are
// honest; a false alarm has probability 6e-5 per rung, and the seeds are
// fixed).
void ExpectFreeEnergiesAsPymbar(const fs::path& root, const fs::path& dir,
                                const std::vector<double>& exact) {
  const auto [code, output] = RunPython(root, kPymbarScript, dir.string());
  ASSERT_EQ(code, 0) << output;
  const auto rows = NumberRows(output);
  ASSERT_EQ(rows.size(), 2 + exact.size()) << output;
  EXPECT_EQ(rows[0][0], rows[0][1]) << "equilibration rounds\n" << output;
  EXPECT_EQ(rows[0][2], rows[0][3])
      << "statistical inefficiency (float32, as pymbar keeps it)\n"
      << output;
  EXPECT_EQ(rows[0][4], rows[0][5]) << "samples per rung\n" << output;
  EXPECT_GT(rows[0][4], 200) << output;  // enough samples for 4-sigma
  for (int i = 0; i < 5; ++i)
    EXPECT_LT(rows[1][i], 1e-8) << i << "\n" << output;
  for (size_t k = 1; k < exact.size(); ++k) {
    const double f = rows[2 + k][1], df = rows[2 + k][2];
    EXPECT_GT(df, 0) << output;
    EXPECT_LT(std::abs(f - exact[k]), 4 * df) << "rung " << k << "\n" << output;
  }
}

TEST_F(HarmonicResultsTest, MbarFreeEnergiesEqualPymbarsAndTheExactValues) {
  if (!PythonHas("pymbar")) GTEST_SKIP() << "python3-pymbar is not installed";
  // Z_k ~ T_k^(3N/2) for N = 4 three-dimensional oscillators:
  // f_k - f_0 = -(3N/2) ln(T_k / T_0).
  const absl::StatusOr<v1::JobSpec> spec =
      spec::LoadYamlFile(SourcePath("examples/harmonic-oscillator/job.yaml"));
  ASSERT_TRUE(spec.ok()) << spec.status();
  const exchange::Ladder ladder = *spec::BuildLadder(spec->ladder());
  std::vector<double> exact;
  for (int k = 0; k < ladder.size(); ++k) {
    exact.push_back(-6 * std::log(ladder.rung(k).temperature_k /
                                  ladder.rung(0).temperature_k));
  }
  ExpectFreeEnergiesAsPymbar(*root_, dir(), exact);
}

// H-REMD over the spring constant K at one temperature:
// f_k - f_0 = (3N/2) ln(K_k / K_0). The example (gibbs: every round has
// every rung's energy), then the same ladder under neighbors with every
// rung's energy every third round (exchange.energies_every).
TEST(ResultsTest, HremdMbarFreeEnergiesEqualPymbarsAndTheExactValues) {
  if (!PythonHas("pymbar")) GTEST_SKIP() << "python3-pymbar is not installed";
  const fs::path root = TempDir("hremd-mbar");
  const std::string job = SourcePath("examples/harmonic-oscillator/hremd.yaml");
  const absl::StatusOr<v1::JobSpec> spec = spec::LoadYamlFile(job);
  ASSERT_TRUE(spec.ok()) << spec.status();
  const auto& kappa = spec->ladder().parameters(0).values();
  std::vector<double> exact;
  for (double k : kappa) exact.push_back(6 * std::log(k / kappa[0]));
  WriteJob(root, "harmonic-oscillator",
           "platform: Reference\nseed: 9\n"
           "ladder: {n_rungs: 4, temperature_k: 300, parameters: "
           "[{name: K, values: [4000, 5657, 8000, 11314]}]}\n"
           "exchange: {steps_per_exchange: 50, n_rounds: 6000, "
           "energies_every: 3}\n");
  for (const std::string& command :
       {absl::StrCat(REPLEX_BIN, " run ", job),
        absl::StrCat(REPLEX_BIN, " run ", (root / "job.yaml").string())}) {
    SCOPED_TRACE(command);
    fs::remove_all(root / "out");
    const auto [code, output] = RunCommand(absl::StrCat(
        command, " --progress_every=-1 --results=", (root / "out").string(),
        " 2>&1"));
    ASSERT_EQ(code, 0) << output;
    EXPECT_THAT(output, ::testing::HasSubstr("free energies (MBAR"));
    ExpectFreeEnergiesAsPymbar(root, root / "out", exact);
  }
  fs::remove_all(root);
}

// Why there are no free energies, in the analysis: missing entries (the
// neighbors scheme under H-REMD), too few rounds, a damaged file.
TEST(ResultsTest, FreeEnergiesSayWhyTheyAreMissing) {
  const fs::path root = TempDir("no-mbar");
  auto unavailable = [&](const std::string& rows) {
    WriteFile(root / "u_kln.tsv", "round\tstate\tu_0\tu_1\n" + rows);
    return results::FreeEnergiesFromUkln(root / "u_kln.tsv", 2, 0)
        .unavailable();
  };
  std::string rows;
  for (int r = 0; r < 10; ++r) {
    absl::StrAppend(&rows, r, "\t0\t", r % 3, "\tnan\n", r, "\t1\tnan\t", r % 2,
                    "\n");
  }
  EXPECT_THAT(unavailable(rows),
              ::testing::HasSubstr("the job has 0 of 10 (with Hamiltonian "
                                   "parameters"));
  EXPECT_THAT(unavailable("0\t0\t1\t2\n0\t1\t2\t1\n"),
              ::testing::HasSubstr("at least 4 rounds with every rung's "
                                   "energy; the job has 1 of 1"));
  EXPECT_THAT(unavailable("0\t0\t1\t2\n0\t0\t2\t1\n"),
              ::testing::HasSubstr("line 3 is not state 1's row"));
  EXPECT_THAT(unavailable("0\t0\t1\tx\n"),
              ::testing::HasSubstr("line 2 column 4 is not a number"));
  EXPECT_THAT(
      results::FreeEnergiesFromUkln(root / "absent.tsv", 2, 0).unavailable(),
      ::testing::HasSubstr("no "));
  fs::remove_all(root);
}

// Above 256 rungs u_kln goes to u_kln.npy (no TSV), a matrix a round whose
// entries are the reduced potentials of the energies in energies.tsv:
// u[r][k][l] = U(replica at rung k in round r) / (k_B T_l) on a temperature
// ladder. MBAR reads it at the end. 300 rungs of the harmonic example, 300 to
// 330 K, 40 rounds (about 2 s).
TEST(ResultsTest, ALadderAbove256RungsWritesUklnAsNpyAndMbarReadsIt) {
  constexpr int kN = 300, kRounds = 40;
  const fs::path root = TempDir("npy");
  WriteHarmonicJob(root, "npy", 5,
                   absl::StrCat("\n  n_rungs: ", kN,
                                "\n  temperature_range_k: {min: 300, max: "
                                "330, spacing: geometric}"),
                   kRounds);
  const auto [code, output] = RunJob(root, "out", " --threads=2");
  ASSERT_EQ(code, 0) << output;
  const fs::path out = root / "out";
  EXPECT_FALSE(fs::exists(out / results::kUklnFile));
  ASSERT_EQ(fs::file_size(out / results::kUklnNpyFile),
            128u + uint64_t{kRounds} * kN * kN * 8);

  // Each round's potentials by replica and its permutation before the swaps.
  auto table = [&](const char* file) {
    std::vector<std::vector<std::string>> rows;
    for (absl::string_view row :
         absl::StrSplit(ReadFile(out / file), '\n', absl::SkipEmpty())) {
      rows.push_back(absl::StrSplit(row, '\t'));
    }
    rows.erase(rows.begin());  // the header
    return rows;
  };
  std::vector<std::vector<double>> energy;
  for (const auto& fields : table(results::kEnergiesFile)) {
    energy.emplace_back();
    for (size_t i = 2; i < fields.size(); ++i) {
      energy.back().push_back(std::stod(fields[i]));
    }
  }
  std::vector<std::vector<int>> rung_of;
  for (const auto& fields : table(results::kExchangeFile)) {
    rung_of.emplace_back();
    for (absl::string_view r : absl::StrSplit(fields[1], ',')) {
      rung_of.back().push_back(std::stoi(std::string(r)));
    }
  }
  ASSERT_EQ(energy.size(), kRounds);
  ASSERT_EQ(rung_of.size(), kRounds);
  constexpr double kBoltzmann = 0.00831446261815324;  // kJ/mol/K
  int64_t rounds_read = 0, checked = 0;
  const absl::Status read = results::ReadNpyStack(
      out / results::kUklnNpyFile, kN,
      [&](int64_t r, const std::vector<double>& u) {
        ++rounds_read;
        for (int replica = 0; replica < kN; replica += 37) {
          const int k = rung_of[r][replica];
          for (int l : {0, 1, 150, kN - 1}) {
            const double t = 300 * std::pow(330.0 / 300, l / (kN - 1.0));
            const double expected = energy[r][replica] / (kBoltzmann * t);
            // energies.tsv has 10 significant digits.
            EXPECT_NEAR(u[static_cast<size_t>(k) * kN + l], expected,
                        1e-8 * std::abs(expected))
                << "round " << r << " rung " << k << " at rung " << l;
            ++checked;
          }
        }
      });
  ASSERT_TRUE(read.ok()) << read;
  EXPECT_EQ(rounds_read, kRounds);
  EXPECT_GT(checked, 1000);

  const v1::FreeEnergies free_energies =
      results::FreeEnergiesFromUkln(out / results::kUklnNpyFile, kN, 0);
  EXPECT_EQ(free_energies.unavailable(), "");
  EXPECT_EQ(free_energies.f_size(), kN);
  EXPECT_THAT(ReadFile(out / results::kAnalysisFile),
              ::testing::HasSubstr("\"samples_per_rung\""));
  fs::remove_all(root);
}

// A 2 x 3 temperature x K grid through `replex run`: the exchange log counts
// every pair along both axes, only along the round's axis and with its
// parity, and analysis.json reports the pairs with their axis, the shape and
// the acceptance per axis that those counts give; report.html replays the log.
TEST(ResultsTest, AGridLadderReportsItsPairsAndAxes) {
  constexpr int kRounds = 80;
  const fs::path root = TempDir("grid");
  WriteHarmonicJob(root, "grid", 9,
                   "\n  axes:\n"
                   "    - temperatures_k: [300, 330]\n"
                   "    - parameters: [{name: K, values: [4000, 5657, 8000]}]",
                   kRounds);
  const auto [code, output] = RunJob(root, "out", " --threads=2");
  ASSERT_EQ(code, 0) << output;
  const fs::path out = root / "out";

  // Pairs: temperature (0,3) (1,4) (2,5), then K (0,1) (1,2) (3,4) (4,5).
  const std::vector<std::vector<int>> pairs = {{0, 3, 0}, {1, 4, 0}, {2, 5, 0},
                                               {0, 1, 1}, {1, 2, 1}, {3, 4, 1},
                                               {4, 5, 1}};
  std::vector<int64_t> attempts(pairs.size()), accepts(pairs.size());
  // Round trips along each axis, from each replica's rungs: its coordinate
  // there (rung / 3 along temperature, rung % 3 along K) going from 0 to the
  // axis's last and back to 0.
  std::vector<double> axis_trips(2);
  std::vector<std::vector<int>> last_end(6, std::vector<int>(2, -1));
  auto walk = [&](const std::string& rungs) {
    const std::vector<std::string> rung = absl::StrSplit(rungs, ',');
    for (int replica = 0; replica < 6; ++replica) {
      const int k = std::stoi(rung[replica]);
      for (int a = 0; a < 2; ++a) {
        const int at = a == 0 ? k / 3 : k % 3, last = a == 0 ? 1 : 2;
        int& end = last_end[replica][a];
        if (at == 0) {
          if (end == last) ++axis_trips[a];
          end = 0;
        } else if (at == last && end == 0) {
          end = last;
        }
      }
    }
  };
  int rows = 0;
  for (absl::string_view row : absl::StrSplit(
           ReadFile(out / results::kExchangeFile), '\n', absl::SkipEmpty())) {
    if (rows++ == 0) continue;  // the header
    const std::vector<std::string> fields = absl::StrSplit(row, '\t');
    ASSERT_GE(fields.size(), 5u) << row;
    if (rows == 2) walk(fields[1]);
    walk(fields[2]);
    const int64_t round = std::stoll(fields[0]);
    const std::vector<std::string> tried = absl::StrSplit(fields[3], ',');
    const std::vector<std::string> took = absl::StrSplit(fields[4], ',');
    ASSERT_EQ(tried.size(), pairs.size()) << row;
    ASSERT_EQ(took.size(), pairs.size()) << row;
    for (size_t p = 0; p < pairs.size(); ++p) {
      // The sweeps: (temperature, even), (K, even), (K, odd) in turn; the
      // 2-rung temperature axis has no odd pair.
      const int axis = pairs[p][2];
      const int coordinate = axis == 0 ? pairs[p][0] / 3 : pairs[p][0] % 3;
      const int sweep = static_cast<int>(round % 3);
      const bool active =
          axis == std::min(sweep, 1) && coordinate % 2 == (sweep == 2 ? 1 : 0);
      EXPECT_EQ(tried[p], active ? "1" : "0")
          << "round " << round << " pair " << p;
      attempts[p] += std::stoll(tried[p]);
      accepts[p] += std::stoll(took[p]);
    }
  }
  EXPECT_EQ(rows, kRounds + 1);

  v1::Analysis analysis;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(
                  ReadFile(out / results::kAnalysisFile), &analysis)
                  .ok());
  EXPECT_EQ(std::vector<int>(analysis.shape().begin(), analysis.shape().end()),
            (std::vector<int>{2, 3}));
  ASSERT_EQ(analysis.pairs_size(), static_cast<int>(pairs.size()));
  std::vector<double> axis_attempts(2), axis_accepts(2);
  for (size_t p = 0; p < pairs.size(); ++p) {
    const v1::PairAnalysis& pair = analysis.pairs(static_cast<int>(p));
    EXPECT_EQ(std::vector<int>(pair.rungs().begin(), pair.rungs().end()),
              (std::vector<int>{pairs[p][0], pairs[p][1]}));
    EXPECT_EQ(pair.axis(), pairs[p][2]);
    EXPECT_EQ(pair.attempts(), attempts[p]);
    EXPECT_EQ(pair.accepts(), accepts[p]);
    axis_attempts[pairs[p][2]] += attempts[p];
    axis_accepts[pairs[p][2]] += accepts[p];
  }
  ASSERT_EQ(analysis.axes_size(), 2);
  for (int a = 0; a < 2; ++a) {
    EXPECT_EQ(analysis.axes(a).n_rungs(), a == 0 ? 2 : 3);
    EXPECT_EQ(analysis.axes(a).attempts(), axis_attempts[a]);
    EXPECT_DOUBLE_EQ(analysis.axes(a).acceptance(),
                     axis_accepts[a] / axis_attempts[a]);
    EXPECT_EQ(analysis.axes(a).round_trips(), axis_trips[a]) << "axis " << a;
    EXPECT_GT(axis_trips[a], 0) << "axis " << a;
  }
  // Rounds 0, 3, ..., 78 attempt the 3 temperature pairs; the other 53
  // attempt 2 K pairs each, one per temperature.
  EXPECT_EQ(axis_attempts[0], 3 * 27);
  EXPECT_EQ(axis_attempts[1], 2 * 53);
  EXPECT_TRUE(fs::exists(out / "report.html"));
  EXPECT_THAT(output, ::testing::HasSubstr("axis 1 (3 rungs)"));
  fs::remove_all(root);
}

// The tuned ladder analysis.json suggests equalises acceptance: from a ladder
// with three rungs crowded at the bottom (acceptance 0.97 there, 0.32 on the
// wide pair), two rounds of measuring and resubmitting the suggestion bring
// every pair within 0.1 of the others. With 1,000 attempts per pair each
// acceptance has a standard error under 0.016, so equal acceptances spread
// beyond 0.1 with negligible probability; the seed is fixed, so the result is
// reproducible.
TEST(ResultsTest, TheTunedLadderEqualisesAcceptance) {
  const fs::path root = TempDir("tune");
  std::vector<double> temperatures = {300, 310, 320, 330, 600};
  std::vector<double> spreads;
  for (int step = 0; step < 3; ++step) {
    WriteHarmonicJob(root, "tune", 3,
                     absl::StrCat(" {temperatures_k: [",
                                  absl::StrJoin(temperatures, ", "), "]}"),
                     2000);
    const std::string out = absl::StrCat("out", step);
    const auto [code, output] = RunJob(root, out);
    ASSERT_EQ(code, 0) << output;
    absl::StatusOr<v1::Analysis> analysis =
        results::ParseAnalysis(ReadFile(root / out / results::kAnalysisFile));
    ASSERT_TRUE(analysis.ok()) << analysis.status();
    double low = 1, high = 0;
    for (const v1::PairAnalysis& pair : analysis->pairs()) {
      low = std::min(low, pair.acceptance());
      high = std::max(high, pair.acceptance());
    }
    spreads.push_back(high - low);
    ASSERT_TRUE(analysis->has_tuned_ladder());
    const auto& tuned = analysis->tuned_ladder().temperatures_k();
    temperatures.assign(tuned.begin(), tuned.end());
    ASSERT_EQ(temperatures.size(), 5u);
    EXPECT_EQ(temperatures.front(), 300);
    EXPECT_EQ(temperatures.back(), 600);
  }
  EXPECT_GT(spreads[0], 0.5);
  EXPECT_LT(spreads[2], 0.1) << "spreads " << absl::StrJoin(spreads, ", ");
  fs::remove_all(root);
}

// Each frame's temp0 (rung k's temperature in its round) from one rung's
// trajectory, a value a line.
constexpr char kTemp0Script[] = R"(
import sys
from scipy.io import netcdf_file
nc = netcdf_file(sys.argv[1], 'r', mmap=False)
for t in nc.variables['temp0'][:].ravel():
    print(float(t))
)";

// A change the tuner could not make (RoundDriver's unchanged_because) is in
// analysis.json and in the summary, which names the first and counts them.
TEST(ResultsTest, ALadderVersionThatCouldNotMoveSaysWhy) {
  v1::Analysis analysis;
  analysis.set_name("stuck");
  for (int v = 0; v < 3; ++v) {
    v1::LadderVersion& version = *analysis.add_ladder_versions();
    version.set_from_round(10 * v);
    if (v < 2) version.set_unchanged_because(absl::StrCat("reason ", v));
  }
  absl::StatusOr<v1::Analysis> parsed =
      results::ParseAnalysis(results::AnalysisJson(analysis, true));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->ladder_versions(1).unchanged_because(), "reason 1");
  EXPECT_THAT(results::AnalysisText(*parsed),
              ::testing::HasSubstr(
                  "2 of them kept the ladder as it was; the first, measured "
                  "on the version from round 0: reason 0"));
  parsed->mutable_ladder_versions(0)->clear_unchanged_because();
  parsed->mutable_ladder_versions(1)->clear_unchanged_because();
  EXPECT_THAT(results::AnalysisText(*parsed),
              ::testing::Not(::testing::HasSubstr("kept the ladder")));
}

// An adaptive ladder's results: analysis.json lists every version, and its
// pairs, temperatures and free energies are the frozen ladder's production
// (the exchange log's rows from round 3000 on); frames record the
// temperature their rung had in their round; the summary says so.
TEST(ResultsTest, AnAdaptiveLadderReportsItsVersionsAndProductionOnly) {
  const fs::path root = TempDir("adaptive");
  const auto [code, output] = RunCommand(absl::StrCat(
      REPLEX_BIN, " run ",
      SourcePath("examples/harmonic-oscillator/adaptive.yaml"),
      " --progress_every=-1 --results=", (root / "out").string(), " 2>&1"));
  ASSERT_EQ(code, 0) << output;
  EXPECT_THAT(output,
              ::testing::HasSubstr(
                  "adaptive ladder: 3 changes, the last at round 3000"));
  absl::StatusOr<v1::Analysis> analysis =
      results::ParseAnalysis(ReadFile(root / "out" / results::kAnalysisFile));
  ASSERT_TRUE(analysis.ok()) << analysis.status();
  EXPECT_EQ(analysis->rounds(), 6000);
  ASSERT_EQ(analysis->ladder_versions_size(), 4);
  for (int v = 0; v < 4; ++v) {
    const v1::LadderVersion& version = analysis->ladder_versions(v);
    EXPECT_EQ(version.from_round(), 1000 * v);
    EXPECT_EQ(version.acceptance_size(), v < 3 ? 3 : 0);
  }
  const v1::LadderVersion& frozen = analysis->ladder_versions(3);
  EXPECT_THAT(analysis->temperatures_k(),
              ::testing::ElementsAreArray(frozen.temperatures_k()));
  // Pair counts: exchange.tsv's attempts and accepts from round 3000 on.
  std::vector<int64_t> attempts(3), accepts(3);
  for (absl::string_view line :
       absl::StrSplit(ReadFile(root / "out" / results::kExchangeFile), '\n')) {
    const std::vector<std::string> fields = absl::StrSplit(line, '\t');
    int64_t round = 0;
    if (fields.size() != 5 || !absl::SimpleAtoi(fields[0], &round) ||
        round < 3000) {
      continue;
    }
    const std::vector<std::string> tried = absl::StrSplit(fields[3], ',');
    const std::vector<std::string> took = absl::StrSplit(fields[4], ',');
    for (int k = 0; k < 3; ++k) {
      attempts[k] += std::stoll(tried[k]);
      accepts[k] += std::stoll(took[k]);
    }
  }
  ASSERT_EQ(analysis->pairs_size(), 3);
  for (int k = 0; k < 3; ++k) {
    EXPECT_EQ(analysis->pairs(k).attempts(), attempts[k]) << "pair " << k;
    EXPECT_EQ(analysis->pairs(k).accepts(), accepts[k]) << "pair " << k;
  }
  ASSERT_TRUE(analysis->has_free_energies());
  EXPECT_EQ(analysis->free_energies().unavailable(), "");
  EXPECT_GE(analysis->free_energies().equilibration_rounds(), 3000);
  // report.html's plots are of the same rounds.
  EXPECT_THAT(ReadFile(root / "out" / results::kReportFile),
              ::testing::HasSubstr("rounds from 3000, on the adaptive "
                                   "ladder's last version"));
  if (PythonHas("scipy")) {
    const auto [py_code, temp0] =
        RunPython(root, kTemp0Script,
                  (root / "out" / results::TrajectoryPath(1)).string());
    ASSERT_EQ(py_code, 0) << temp0;
    const std::vector<std::string> frames =
        absl::StrSplit(temp0, '\n', absl::SkipEmpty());
    ASSERT_EQ(frames.size(), 600u);  // a frame every 10 rounds
    // Frame f is round 10 f: version f / 100.
    for (int f : {0, 99, 100, 299, 300, 599}) {
      EXPECT_DOUBLE_EQ(
          std::stod(frames[f]),
          analysis->ladder_versions(std::min(f / 100, 3)).temperatures_k(1))
          << "frame " << f;
    }
  }
  fs::remove_all(root);
}

// The estimate that submission compares with free disk space is an upper
// bound of what a job writes, and not a wild one: between the real size of
// the harmonic example's results (tables, frames, final states, report and
// resume journal) and twice that.
TEST_F(HarmonicResultsTest, TheResultsSizeEstimateIsACloseUpperBound) {
  absl::StatusOr<v1::JobSpec> spec =
      spec::LoadYamlFile(SourcePath("examples/harmonic-oscillator/job.yaml"));
  ASSERT_TRUE(spec.ok()) << spec.status();
  uint64_t written = 0;
  for (const auto& entry : fs::recursive_directory_iterator(dir())) {
    if (entry.is_regular_file()) written += entry.file_size();
  }
  const uint64_t estimate = results::EstimatedResultsBytes(*spec);
  EXPECT_GE(estimate, written);
  EXPECT_LE(estimate, 2 * written);
  EXPECT_TRUE(results::CheckFreeSpace(dir(), *spec).ok());
}

// A job whose frames cannot fit (a million frames of 50,000 atoms on 8
// rungs: about 4.4 TiB, its tables only 2 GiB) is refused before it starts,
// naming both figures and the fixes.
TEST(ResultsTest, AJobWhoseResultsCannotFitIsRefused) {
  v1::JobSpec spec;
  std::string particles = "<System><Particles>";
  for (int i = 0; i < 50000; ++i) particles += "<Particle mass=\"1\"/>";
  spec.set_system_xml(particles + "</Particles></System>");
  spec.mutable_ladder()->set_n_rungs(8);
  spec.mutable_ladder()->mutable_temperature_range_k()->set_min(300);
  spec.mutable_ladder()->mutable_temperature_range_k()->set_max(400);
  spec.mutable_exchange()->set_n_rounds(1000000);
  spec.mutable_output()->set_frame_interval(1);
  const absl::Status status =
      results::CheckFreeSpace(fs::temp_directory_path() / "nowhere", spec)
          .status();
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
  for (const char* part : {"the job's results need about", "GiB", "is free on",
                           "output.frame_interval"}) {
    EXPECT_TRUE(absl::StrContains(status.message(), part)) << status;
  }
  // Without frames, the same job's tables fit.
  spec.mutable_exchange()->set_n_rounds(1000);
  EXPECT_TRUE(results::CheckFreeSpace(fs::temp_directory_path(), spec).ok());
}

// --checkpoint_every checkpoints by wall-clock time whatever the job's
// checkpoint_interval: at 1 ns every round (the two latest are kept), where
// a job with checkpoint_interval 0 otherwise checkpoints only after its
// last round.
TEST(ResultsTest, CheckpointEveryAddsCheckpointsByWallClockTime) {
  const fs::path root = TempDir("checkpoint-every");
  WriteJob(root, "harmonic-oscillator",
           "platform: Reference\nseed: 1\n"
           "ladder: {n_rungs: 3, temperature_range_k: {min: 300, max: 400}}\n"
           "exchange: {steps_per_exchange: 20, n_rounds: 30}\n"
           "checkpoint_interval: 0\n");
  auto checkpoints = [&](const std::string& name, const std::string& flags) {
    const auto [code, output] = RunJob(root, name, flags);
    EXPECT_EQ(code, 0) << output;
    std::vector<std::string> names;
    for (const auto& entry :
         fs::directory_iterator(root / name / "resume" / "run")) {
      names.push_back(entry.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  };
  EXPECT_EQ(checkpoints("plain", ""),
            std::vector<std::string>{"round-000000000030.ckpt"});
  EXPECT_EQ(checkpoints("timed", " --checkpoint_every=1ns"),
            (std::vector<std::string>{"round-000000000029.ckpt",
                                      "round-000000000030.ckpt"}));
  const auto [code, output] =
      RunJob(root, "negative", " --checkpoint_every=-1s");
  EXPECT_EQ(code, 2) << output;
  EXPECT_THAT(output, ::testing::HasSubstr("must not be negative"));
  fs::remove_all(root);
}

TEST_F(HarmonicResultsTest, AnExistingDirectoryIsNeverOverwritten) {
  const std::string before = ReadFile(dir() / results::kEnergiesFile);
  const auto [code, output] = RunCommand(absl::StrCat(
      REPLEX_BIN, " run ", SourcePath("examples/harmonic-oscillator/job.yaml"),
      " --progress_every=-1 --results=", dir().string(), " 2>&1"));
  EXPECT_EQ(code, 2) << output;
  EXPECT_NE(output.find(absl::StrCat("results directory ", dir().string(),
                                     " already exists")),
            std::string::npos)
      << output;
  EXPECT_NE(output.find("move or delete it"), std::string::npos) << output;
  EXPECT_EQ(ReadFile(dir() / results::kEnergiesFile), before);
}

// examples/harmonic-oscillator/`file` as `root`/job-`rounds`.yaml: its
// inputs by absolute path, `rounds` rounds, `more` replacements, then
// `appended` YAML. Returns the path.
std::string HarmonicExampleJob(
    const fs::path& root, const std::string& file, int rounds,
    const std::vector<std::pair<std::string, std::string>>& more = {},
    const std::string& appended = "") {
  const std::string example = SourcePath("examples/harmonic-oscillator");
  std::vector<std::pair<std::string, std::string>> replacements = {
      {"system: system.xml", "system: " + example + "/system.xml"},
      {"coordinates: state.xml", "coordinates: " + example + "/state.xml"},
      {"n_rounds: 2000", absl::StrCat("n_rounds: ", rounds)}};
  replacements.insert(replacements.end(), more.begin(), more.end());
  const std::string text =
      absl::StrReplaceAll(ReadFile(fs::path(example) / file), replacements) +
      appended;
  const fs::path path = root / absl::StrCat("job-", rounds, ".yaml");
  WriteFile(path, text);
  return path.string();
}

// `replex run ARGS --progress_every=-1`, which must succeed: its output.
std::string ReplexRun(const std::string& args) {
  const auto [code, output] = RunCommand(
      absl::StrCat(REPLEX_BIN, " run ", args, " --progress_every=-1 2>&1"));
  EXPECT_EQ(code, 0) << args << "\n" << output;
  return output;
}

// Starts `replex run JOB --results=OUT` with `flags` (logging to OUT.log)
// and waits until OUT's exchange log has more than `rows` rows, for 60 s at
// most: the process (null if it did not start) and the rows seen.
std::pair<std::unique_ptr<testing::Process>, size_t> StartAndWaitForRows(
    const std::string& job, const fs::path& out,
    const std::vector<std::string>& flags, size_t rows) {
  std::vector<std::string> command = {REPLEX_BIN, "run", job,
                                      "--progress_every=-1",
                                      "--results=" + out.string()};
  command.insert(command.end(), flags.begin(), flags.end());
  absl::StatusOr<std::unique_ptr<testing::Process>> process =
      testing::Process::Start(command, out.string() + ".log");
  EXPECT_TRUE(process.ok()) << process.status();
  if (!process.ok()) return {nullptr, 0};
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  size_t seen = 0;
  while (absl::Now() < deadline) {
    const std::string log = ReadFile(out / results::kExchangeFile);
    seen = std::count(log.begin(), log.end(), '\n');
    if (seen > rows) break;
    absl::SleepFor(absl::Milliseconds(2));
  }
  return {*std::move(process), seen};
}

// `replex run JOB --results=OUT` with `flags`, sent SIGTERM (sbatch
// --signal, Ctrl-C) past its 300th exchange row: it stops at a checkpoint
// with exit 75 (resumable), saying how to go on.
void ExpectSigtermStopsAtACheckpoint(const std::string& job,
                                     const fs::path& out,
                                     const std::vector<std::string>& flags) {
  std::unique_ptr<testing::Process> process =
      StartAndWaitForRows(job, out, flags, 300).first;
  ASSERT_NE(process, nullptr);
  process->Signal(SIGTERM);
  ASSERT_EQ(process->Wait(absl::Seconds(30)), 75) << process->Log();
  EXPECT_TRUE(absl::StrContains(process->Log(),
                                "at a checkpoint (a signal); go on with: "
                                "replex run --resume"))
      << process->Log();
}

// `replex run --resume DIR` after a SIGKILL at a moment drawn from a fixed
// seed, and `replex run --extend=N DIR` of a shorter run, both end with the
// files of the uninterrupted 2000-round run byte for byte (Reference): the
// logs, u_kln, every trajectory and the final states.
TEST_F(HarmonicResultsTest, AKilledRunResumesAndAnExtendedRunEndsAsTheLonger) {
  const fs::path root = TempDir("resume");
  auto job = [&](int rounds) {
    return HarmonicExampleJob(root, "job.yaml", rounds);
  };
  auto replex = ReplexRun;
  auto expect_as_uninterrupted = [&](const fs::path& out) {
    std::vector<std::string> files = {
        results::kEnergiesFile, results::kExchangeFile, results::kUklnFile};
    for (int k = 0; k < kRungs; ++k) {
      files.push_back(results::TrajectoryPath(k));
      files.push_back(results::FinalStatePath(k));
    }
    for (const std::string& file : files) {
      EXPECT_EQ(ReadFile(out / file), ReadFile(dir() / file)) << out / file;
    }
  };

  // Killed somewhere past its first checkpoint (every 100 rounds).
  std::mt19937 rng(2026);
  const size_t kill_after =
      std::uniform_int_distribution<size_t>(150, 1500)(rng);
  const fs::path killed = root / "killed";
  auto [process, rows] =
      StartAndWaitForRows(job(kRounds), killed, {}, kill_after);
  ASSERT_NE(process, nullptr);
  process->Signal(SIGKILL);
  ASSERT_EQ(process->Wait(absl::Seconds(10)), 128 + SIGKILL)
      << "the run ended before the kill (" << rows << " rows)";
  const std::string resumed = replex("--resume " + killed.string());
  EXPECT_TRUE(absl::StrContains(resumed, "resuming at round ")) << resumed;
  expect_as_uninterrupted(killed);

  // SIGTERM (sbatch --signal, Ctrl-C) and --walltime stop at a checkpoint
  // with exit 75 (resumable); resumed, the run ends the same.
  const fs::path termed = root / "termed";
  ExpectSigtermStopsAtACheckpoint(job(kRounds), termed, {});
  replex("--resume " + termed.string());
  expect_as_uninterrupted(termed);
  const fs::path timed = root / "timed";
  const auto [limited, limited_output] = RunCommand(
      absl::StrCat(REPLEX_BIN, " run ", job(kRounds), " --walltime=1ms",
                   " --progress_every=-1 --results=", timed.string(), " 2>&1"));
  EXPECT_EQ(limited, 75) << limited_output;
  EXPECT_TRUE(absl::StrContains(limited_output, "(--walltime)"))
      << limited_output;
  replex("--resume " + timed.string());
  expect_as_uninterrupted(timed);

  const fs::path extended = root / "extended";
  replex(job(1300) + " --results=" + extended.string());
  const std::string more = replex("--extend=700 " + extended.string());
  EXPECT_TRUE(absl::StrContains(more, "resuming at round 1300 of 2000"))
      << more;
  expect_as_uninterrupted(extended);
  // ns/day counts the extension's 700 rounds over its own wall time, not
  // all 2000 (wall_seconds is the extension's too).
  v1::Analysis analysis;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(
                  ReadFile(extended / results::kAnalysisFile), &analysis)
                  .ok());
  EXPECT_NEAR(analysis.ns_per_day() * analysis.wall_seconds() / 86400,
              0.35 * analysis.simulated_ns(), 1e-9 * analysis.simulated_ns());

  // Nothing left to resume; not a run's directory; a negative extension.
  const auto [done, done_output] = RunCommand(
      absl::StrCat(REPLEX_BIN, " run --resume ", extended.string(), " 2>&1"));
  EXPECT_EQ(done, 1);
  EXPECT_TRUE(absl::StrContains(done_output,
                                "completed its 2000 rounds; run "
                                "it longer with `replex run "
                                "--extend=N"))
      << done_output;
  const auto [none, none_output] = RunCommand(
      absl::StrCat(REPLEX_BIN, " run --resume ", root.string(), " 2>&1"));
  EXPECT_EQ(none, 2);
  EXPECT_TRUE(absl::StrContains(none_output,
                                "is not the results directory of a `replex "
                                "run`"))
      << none_output;
  EXPECT_EQ(RunCommand(absl::StrCat(REPLEX_BIN, " run --extend=-1 ",
                                    extended.string(), " 2>&1"))
                .first,
            2);
  fs::remove_all(root);
}

// An asynchronous run's trajectories: a rung's samples are the segments run
// at it, in event order (exchange.tsv's rung_of_replica_before of the
// replicas with an energy in energies.tsv), a replica's are its own
// segments; frame f of each is sample f * interval. Checks every rung's and
// every replica's file: its frame count, each frame's replica (remd_crdidx)
// and its energy from the positions against energies.tsv. Prints the
// frames checked, the largest relative energy error and the files whose
// frame count is wrong.
constexpr char kEventFramesScript[] = R"(
import sys, math, numpy as np
from scipy.io import netcdf_file
d, spring, n, interval = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
energies = np.loadtxt(d + '/energies.tsv', skiprows=1)
before = [[int(x) for x in line.split('\t')[1].split(',')]
          for line in open(d + '/exchange.tsv').read().splitlines()[1:]]
by_rung = [[] for _ in range(n)]
by_replica = [[] for _ in range(n)]
for e, rungs in enumerate(before):
    for i in range(n):
        if not math.isnan(energies[e, 2 + i]):
            by_rung[rungs[i]].append((i, energies[e, 2 + i]))
            by_replica[i].append((i, energies[e, 2 + i]))
worst, checked, wrong = 0.0, 0, 0
for path, samples in ([(f'rung_{k:03d}', by_rung[k]) for k in range(n)] +
                      [(f'replica_{i:03d}', by_replica[i]) for i in range(n)]):
    nc = netcdf_file(f'{d}/trajectories/{path}.nc', 'r', mmap=False)
    xyz = nc.variables['coordinates'][:].astype(float) / 10  # A to nm
    replica_index = np.ravel(nc.variables['remd_crdidx'][:])
    if xyz.shape[0] != (len(samples) + interval - 1) // interval:
        wrong += 1
    for f in range(min(xyz.shape[0], (len(samples) + interval - 1) // interval)):
        i, u_file = samples[f * interval]
        assert replica_index[f] == i + 1, (path, f, replica_index[f], i)
        u = 0.5 * spring * (xyz[f] ** 2).sum()
        worst = max(worst, abs(u - u_file) / u_file)
        checked += 1
print(checked, worst, wrong)
)";

// An asynchronous run's files (`rounds` rounds' worth of segments on the
// harmonic example's 4 rungs): rows for events 0, 1, ... in order, each
// event's permutation before it the previous one's after it (so no row of a
// superseded event is left after a resume), each replica's energy known
// (not NaN) in exactly the events it took part in, n_rounds x replicas
// segments in all as analysis.json counts them, a final state per replica,
// MBAR's exact free energies, every trajectory's frames (kEventFramesScript);
// and each rung's potential energy, gathered from
// the files by the rung its replica held, distributed as Gamma(6, k_B T) (the
// KS test of tests/sampling_checks.h).
void ExpectAsynchronousResults(const fs::path& out, int rounds) {
  const std::vector<std::string> exchange = absl::StrSplit(
      ReadFile(out / results::kExchangeFile), '\n', absl::SkipEmpty());
  const std::vector<std::string> energies = absl::StrSplit(
      ReadFile(out / results::kEnergiesFile), '\n', absl::SkipEmpty());
  ASSERT_GT(exchange.size(), 1u);
  ASSERT_EQ(energies.size(), exchange.size());
  const exchange::Ladder ladder = *spec::BuildLadder(
      testing::LoadExample("examples/harmonic-oscillator/asynchronous.yaml")
          .ladder());
  std::vector<std::vector<double>> by_rung(kRungs);
  int64_t segments = 0;
  std::string after;
  for (size_t row = 1; row < exchange.size(); ++row) {
    SCOPED_TRACE(exchange[row]);
    const std::vector<std::string> fields = absl::StrSplit(exchange[row], '\t');
    const std::vector<std::string> values = absl::StrSplit(energies[row], '\t');
    ASSERT_EQ(fields.size(), 5u);
    ASSERT_EQ(values.size(), 2u + kRungs);
    ASSERT_EQ(fields[0], absl::StrCat(row - 1));
    ASSERT_EQ(values[0], fields[0]);
    if (row > 1) {
      ASSERT_EQ(fields[1], after);
    }
    after = fields[2];
    const std::vector<std::string> before = absl::StrSplit(fields[1], ',');
    for (int replica = 0; replica < kRungs; ++replica) {
      double u = 0;
      ASSERT_TRUE(absl::SimpleAtod(values[2 + replica], &u));
      if (std::isnan(u)) continue;
      ++segments;
      int rung = 0;
      ASSERT_TRUE(absl::SimpleAtoi(before[replica], &rung));
      by_rung[rung].push_back(u);
    }
  }
  EXPECT_EQ(segments, int64_t{kRungs} * rounds);
  v1::Analysis analysis;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(
                  ReadFile(out / results::kAnalysisFile), &analysis)
                  .ok());
  EXPECT_EQ(analysis.state(), "SUCCEEDED");
  EXPECT_EQ(analysis.exchange_events(),
            static_cast<int64_t>(exchange.size()) - 1);
  int64_t counted = 0;
  for (int64_t count : analysis.segments_by_replica()) counted += count;
  EXPECT_EQ(counted, segments);
  for (int replica = 0; replica < kRungs; ++replica) {
    EXPECT_TRUE(fs::exists(out / results::FinalStatePath(replica)));
  }
  // MBAR over each rung's whole u_kln rows: f_k - f_0 = (dof / 2)
  // ln(T_0 / T_k) exactly (dof = 12), within 4 of its standard errors.
  const v1::FreeEnergies& fe = analysis.free_energies();
  EXPECT_EQ(fe.unavailable(), "");
  EXPECT_EQ(fe.f_size(), kRungs);
  for (int k = 1; k < fe.f_size() && k < fe.df_size(); ++k) {
    EXPECT_NEAR(fe.f(k),
                6 * std::log(ladder.rung(0).temperature_k /
                             ladder.rung(k).temperature_k),
                4 * fe.df(k))
        << "rung " << k;
  }
  if (PythonHas("pymbar")) {
    // The same samples and numbers as pymbar, to its precision (as
    // ExpectFreeEnergiesAsPymbar for rounds).
    const auto [code, output] =
        RunPython(out.parent_path(), kPymbarScript, out.string() + " by_rung");
    ASSERT_EQ(code, 0) << output;
    const auto rows = NumberRows(output);
    ASSERT_EQ(rows.size(), 2u + kRungs) << output;
    EXPECT_EQ(rows[0][0], rows[0][1]) << "equilibration events\n" << output;
    EXPECT_EQ(rows[0][2], rows[0][3]) << "statistical inefficiency\n" << output;
    EXPECT_EQ(rows[0][4], rows[0][5]) << "samples per rung\n" << output;
    for (int i = 0; i < 5; ++i) {
      EXPECT_LT(rows[1][i], 1e-8) << i << "\n" << output;
    }
  }
  if (PythonHas("scipy")) {
    const auto [code, output] = RunPython(
        out.parent_path(), kEventFramesScript,
        absl::StrCat(out.string(), " 4000 ", kRungs, " ", kFrameInterval));
    ASSERT_EQ(code, 0) << output;
    std::cout << out.filename().string() << " frames checked, worst error, "
              << "wrong counts: " << output;
    const auto rows = NumberRows(output);
    ASSERT_EQ(rows.size(), 1u) << output;
    // A frame per rung and per replica every kFrameInterval samples.
    EXPECT_GE(rows[0][0], 2 * segments / kFrameInterval) << output;
    // float32 coordinates against energies.tsv's 10 digits, as for
    // synchronous rounds.
    EXPECT_LT(rows[0][1], 1e-6) << output;
    EXPECT_EQ(rows[0][2], 0) << output;
  }
  for (int k = 0; k < kRungs; ++k) {
    const double kt =
        exchange::kMolarGasConstantKJPerMolK * ladder.rung(k).temperature_k;
    testing::ExpectDistributed(
        by_rung[k], [&](double u) { return testing::GammaCdf(6, kt, u); },
        absl::StrCat(out.filename().string(), " rung ", k,
                     " potential energy"));
  }
}

// Asynchronous exchange with a results directory: killed (SIGKILL, at a
// moment drawn from a fixed seed, past its first checkpoint), stopped
// (SIGTERM: exit 75 at a barrier's checkpoint) and extended, each run
// resumed ends with whole, consistent files that sample every rung exactly.
// The completion order of two threads varies, so they are not compared
// with an uninterrupted run byte for byte (AsynchronousTest.
// ARunResumedAtABarrierMakesTheSameEvents does that in a scripted order).
TEST(ResultsTest,
     AnAsynchronousRunKeepsResultsThroughAKillAStopAndAnExtension) {
  const fs::path root = TempDir("asynchronous");
  auto job = [&](int rounds) {
    // Frames every kFrameInterval samples, by rung and by replica.
    return HarmonicExampleJob(
        root, "asynchronous.yaml", rounds,
        {{"checkpoint_interval: 0", "checkpoint_interval: 100"}},
        absl::StrCat("output: {frame_interval: ", kFrameInterval,
                     ", per_replica_trajectories: true}\n"));
  };
  auto replex = [](const std::string& args) {
    return ReplexRun(args + " --threads=2");
  };

  // About 2,700 events in all; the first checkpoint comes after 400
  // segments, about 135 events.
  std::mt19937 rng(2026);
  const size_t kill_after =
      std::uniform_int_distribution<size_t>(300, 2000)(rng);
  const fs::path killed = root / "killed";
  auto [process, rows] =
      StartAndWaitForRows(job(kRounds), killed, {"--threads=2"}, kill_after);
  ASSERT_NE(process, nullptr);
  process->Signal(SIGKILL);
  ASSERT_EQ(process->Wait(absl::Seconds(10)), 128 + SIGKILL)
      << "the run ended before the kill (" << rows << " rows)";
  const std::string resumed = replex("--resume " + killed.string());
  EXPECT_TRUE(absl::StrContains(resumed, "resuming at exchange event "))
      << resumed;
  ExpectAsynchronousResults(killed, kRounds);
  // The free-space check's estimate counts rows per event.
  const absl::StatusOr<v1::JobSpec> spec = spec::LoadYamlFile(job(kRounds));
  ASSERT_TRUE(spec.ok()) << spec.status();
  uint64_t written = 0;
  for (const auto& entry : fs::recursive_directory_iterator(killed)) {
    if (entry.is_regular_file()) written += entry.file_size();
  }
  EXPECT_GE(results::EstimatedResultsBytes(*spec), written);

  const fs::path termed = root / "termed";
  ExpectSigtermStopsAtACheckpoint(job(kRounds), termed, {"--threads=2"});
  replex("--resume " + termed.string());
  ExpectAsynchronousResults(termed, kRounds);

  const fs::path extended = root / "extended";
  replex(job(1000) + " --results=" + extended.string());
  replex("--extend=1000 " + extended.string());
  ExpectAsynchronousResults(extended, kRounds);
  fs::remove_all(root);
}

// Starts `cluster` with two single-slot workers, worker 0 with
// `worker0_flags`, and submits the harmonic example's asynchronous job
// (kRounds rounds' worth, frames every kFrameInterval by rung and by
// replica) with `more` replacements in its YAML; its id, empty on failure.
std::string StartAsynchronousClusterJob(
    testing::LocalCluster& cluster, std::vector<std::string> worker0_flags,
    const std::vector<std::pair<std::string, std::string>>& more) {
  if (absl::Status started = cluster.StartServices(); !started.ok()) {
    ADD_FAILURE() << started << cluster.Logs();
    return "";
  }
  for (std::vector<std::string> flags : {worker0_flags, {}}) {
    if (absl::Status added = cluster.AddWorker({.flags = flags}); !added.ok()) {
      ADD_FAILURE() << added << cluster.Logs();
      return "";
    }
  }
  return cluster.SubmitJob(HarmonicExampleJob(
      cluster.dir(), "asynchronous.yaml", kRounds, more,
      absl::StrCat("output: {frame_interval: ", kFrameInterval,
                   ", per_replica_trajectories: true}\n")));
}

// The job's results fetched with replexctl, as a user would (after the
// coordinator has finished them), checked as `replex run`'s are
// (ExpectAsynchronousResults).
void ExpectFetchedAsynchronousResults(const testing::LocalCluster& cluster,
                                      const std::string& id) {
  const fs::path fetched = fs::path(cluster.dir()) / "fetched";
  const auto [code, output] =
      cluster.Ctl(absl::StrCat("fetch ", id, " ", fetched.string()));
  ASSERT_EQ(code, 0) << output;
  ExpectAsynchronousResults(fetched, kRounds);
}

// The same job run by a cluster of two workers with a slot each: one worker
// killed (SIGKILL, at a seeded moment past the first checkpoint), then the
// coordinator (SIGKILL, restarted on its journal), and a replica blowing up
// (NaN), the job rolls back to its last barrier's checkpoint each time and
// ends with the same whole,
// consistent files as `replex run` (ExpectAsynchronousResults), fetched
// with replexctl.
TEST(ResultsTest, AnAsynchronousClusterJobKeepsResultsThroughLostProcesses) {
  testing::LocalCluster cluster("asynchronous-cluster");
  // Worker 0 reports a NaN energy for the first segment numbered 1900 (a
  // replica's 1901st): that replica restarts with fresh velocities.
  const std::string id = StartAsynchronousClusterJob(
      cluster, {"--test_inject_nan=1900"},
      {{"checkpoint_interval: 0", "checkpoint_interval: 100"}});
  ASSERT_FALSE(id.empty());
  std::mt19937 rng(2026);
  const int64_t kill_worker_at =
      std::uniform_int_distribution<int64_t>(150, 900)(rng);
  const int64_t kill_coordinator_at =
      std::uniform_int_distribution<int64_t>(1000, 1800)(rng);
  auto past = [&](int64_t rounds) {
    return cluster.WaitForJob(
        id,
        [&](const v1::Job& job) { return job.rounds_completed() >= rounds; },
        absl::StrCat(rounds, " rounds' worth"), absl::Minutes(5));
  };
  ASSERT_EQ(past(kill_worker_at).state(), v1::RUNNING);
  cluster.worker(1).Signal(SIGKILL);
  cluster.worker(1).Wait(absl::Seconds(10));
  ASSERT_EQ(past(kill_coordinator_at).state(), v1::RUNNING);
  cluster.StopCoordinator(SIGKILL);
  ASSERT_TRUE(cluster.StartCoordinator().ok()) << cluster.Logs();
  const v1::Job job = cluster.WaitForJob(
      id,
      [](const v1::Job& job) {
        return job.state() != v1::RUNNING && job.state() != v1::QUEUED;
      },
      "the job to end", absl::Minutes(5));
  ASSERT_EQ(job.state(), v1::SUCCEEDED) << job.error() << cluster.Logs();
  EXPECT_EQ(job.rounds_completed(), kRounds);
  const std::string logs = cluster.Logs();
  EXPECT_TRUE(absl::StrContains(logs, "rolls back to its last checkpoint"))
      << logs;
  // Each of the three went back to a newer checkpoint than the one before
  // (they come every 100 rounds' worth, and the three are further apart).
  std::set<int64_t> resumed_at;
  for (absl::string_view line : absl::StrSplit(logs, '\n')) {
    const size_t at = line.find(" resumes at round ");
    int64_t event = 0;
    if (at != absl::string_view::npos &&
        absl::SimpleAtoi(
            line.substr(at + 18, line.find(' ', at + 18) - (at + 18)),
            &event)) {
      resumed_at.insert(event);
    }
  }
  EXPECT_EQ(resumed_at.size(), 3u) << logs;
  EXPECT_TRUE(absl::StrContains(logs, "non-finite energy in round 1900"))
      << logs;
  EXPECT_TRUE(absl::StrContains(logs, "restarts with fresh velocities"))
      << logs;
  ExpectFetchedAsynchronousResults(cluster, id);
}

// A worker SIGTERMed during an asynchronous job with no checkpoint but the
// end's calls for a barrier of its own (HostDraining), hands its replicas
// back there and exits 0 within its grace; the job goes on with no rollback
// and ends with whole results (ExpectAsynchronousResults). Segments of 500
// steps make the job last long enough to drain in the middle.
TEST(ResultsTest, ASigtermedWorkerDrainsAnAsynchronousJobWithoutARollback) {
  testing::LocalCluster cluster("asynchronous-drain");
  const std::string id = StartAsynchronousClusterJob(
      cluster, {}, {{"steps_per_exchange: 50", "steps_per_exchange: 500"}});
  ASSERT_FALSE(id.empty());
  const v1::Job running = cluster.WaitForJob(
      id, [](const v1::Job& job) { return job.rounds_completed() >= 300; },
      "300 rounds' worth", absl::Minutes(5));
  ASSERT_EQ(running.state(), v1::RUNNING);
  cluster.worker(1).Signal(SIGTERM);
  // --shutdown_grace=5s (LocalCluster), plus the exit itself.
  EXPECT_EQ(cluster.worker(1).Wait(absl::Seconds(8)), 0) << cluster.Logs();
  const absl::StatusOr<v1::Job> drained = cluster.GetJob(id);
  ASSERT_TRUE(drained.ok()) << drained.status();
  EXPECT_EQ(drained->state(), v1::RUNNING) << "the job ended before the "
                                              "worker drained";
  // replexctl watch follows it to the end in rounds' worth, not events
  // (about 2,700 of them).
  const auto [watch_code, watch] = cluster.Ctl("watch " + id);
  ASSERT_EQ(watch_code, 0) << watch << cluster.Logs();
  EXPECT_TRUE(absl::StrContains(
      watch, absl::StrCat("SUCCEEDED after ", kRounds, " rounds")))
      << watch;
  int progress_lines = 0;
  for (absl::string_view line : absl::StrSplit(watch, '\n')) {
    const size_t at = line.find("[round ");
    int64_t round = 0;
    if (at == absl::string_view::npos) continue;
    ++progress_lines;
    const absl::string_view rest =
        absl::StripLeadingAsciiWhitespace(line.substr(at + 7));
    ASSERT_TRUE(absl::SimpleAtoi(rest.substr(0, rest.find('/')), &round))
        << line;
    EXPECT_LE(round, kRounds) << line;
  }
  EXPECT_GT(progress_lines, 0) << watch;
  const v1::Job job = *cluster.GetJob(id);
  ASSERT_EQ(job.state(), v1::SUCCEEDED) << job.error() << cluster.Logs();
  const std::string logs = cluster.Logs();
  EXPECT_FALSE(absl::StrContains(logs, "rolls back")) << logs;
  EXPECT_TRUE(absl::StrContains(cluster.worker(1).Log(), "drained")) << logs;
  ExpectFetchedAsynchronousResults(cluster, id);
}

// A job rolled back to round R (or resumed after a restart) supersedes every
// row and frame of rounds >= R: the finished files hold each round once.
TEST(ResultsTest, ReopeningAtARoundDropsLaterRowsAndRewritesFrames) {
  absl::StatusOr<v1::JobSpec> spec =
      spec::LoadYamlFile(SourcePath("examples/harmonic-oscillator/job.yaml"));
  ASSERT_TRUE(spec.ok()) << spec.status();
  spec->mutable_exchange()->set_n_rounds(30);
  spec->mutable_output()->set_frame_interval(5);
  const fs::path root = TempDir("rollback");
  const fs::path dir = root / "job";
  ASSERT_TRUE(results::CreateResultsDirectory(dir).ok());
  EXPECT_EQ(results::CreateResultsDirectory(dir).code(),
            absl::StatusCode::kAlreadyExists);

  // Runs rounds [from, to) of the job and writes them through a writer opened
  // at `from`, as the coordinator does after a rollback.
  auto run = [&](int from, int to) {
    absl::StatusOr<std::unique_ptr<results::ResultsWriter>> writer =
        results::ResultsWriter::Open(dir, *spec, {"job-1", {"host"}, {}}, from);
    ASSERT_TRUE(writer.ok()) << writer.status();
    runner::RunOptions options;
    options.positions_every = 5;
    options.on_round = [&](const runner::RoundReport& report) {
      if (report.outcome.round < from) return absl::OkStatus();
      if (report.outcome.round >= to) return absl::CancelledError("stop");
      return (*writer)->WriteRound(report);
    };
    runner::RunJob(*spec, options).IgnoreError();
    if (to == 30) {
      ASSERT_TRUE((*writer)->Finish("SUCCEEDED").ok());
    }
  };
  run(0, 17);
  run(10, 30);  // rolled back to round 10
  std::vector<std::string> lines = absl::StrSplit(
      ReadFile(dir / results::kExchangeFile), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 31u);
  for (int r = 0; r < 30; ++r) {
    EXPECT_TRUE(absl::StartsWith(lines[r + 1], absl::StrCat(r, "\t")));
  }
  if (PythonHas("mdtraj")) {
    const auto [code, output] = RunCommand(absl::StrCat(
        "/usr/bin/python3 -c \"import mdtraj.formats as f; "
        "t=f.NetCDFTrajectoryFile('",
        (dir / results::TrajectoryPath(0)).string(),
        "'); x,time,_,_=t.read(); print(len(time), list(time))\" 2>&1"));
    ASSERT_EQ(code, 0) << output;
    // Frames at rounds 0, 5, ..., 25: time (round + 1) * 50 steps * 2 fs.
    EXPECT_TRUE(absl::StartsWith(output, "6 [0.1, 0.6, 1.1, 1.6, 2.1, 2.6"))
        << output;
  }
  fs::remove_all(root);
}

// An asynchronous run resumed at a cut drops the frames its superseded run
// wrote past the cut's counts, even where the resumed run writes fewer:
// events of replicas 0 and 1 (rungs 0 and 1, a frame every 2 samples) write
// rung 0's samples 1, 3, 5 as frames 0-2; reopened at the cut after event 2
// (2 samples each), the next event (sample 3) is frame 1 and the last.
TEST(ResultsTest, AResumedAsynchronousRunDropsFramesPastItsCut) {
  absl::StatusOr<v1::JobSpec> spec = spec::LoadYamlFile(
      SourcePath("examples/harmonic-oscillator/asynchronous.yaml"));
  ASSERT_TRUE(spec.ok()) << spec.status();
  spec->mutable_output()->set_frame_interval(2);
  const fs::path root = TempDir("event-frames");
  const fs::path dir = root / "job";
  ASSERT_TRUE(results::CreateResultsDirectory(dir).ok());
  const exchange::Ladder ladder = *spec::BuildLadder(spec->ladder());
  const exchange::Permutation identity = exchange::Permutation::Identity(4);
  const exchange::Statistics statistics(4, 3);
  const std::vector<double> energies = {1, 2, std::nan(""), std::nan("")};
  const std::vector<engine::Box> boxes(4);
  const std::vector<int> replicas = {0, 1};
  std::vector<std::vector<engine::Vec3>> positions(4);
  // Writes events [from, to) through a writer opened at `from`.
  auto write = [&](int from, int to) {
    absl::StatusOr<std::unique_ptr<results::ResultsWriter>> writer =
        results::ResultsWriter::Open(dir, *spec, {"run", {"host"}, {}}, from);
    ASSERT_TRUE(writer.ok()) << writer.status();
    for (int e = from; e < to; ++e) {
      exchange::RoundOutcome outcome{
          e, identity, identity, {0, 0, 0}, {0, 0, 0}};
      const std::vector<int64_t> by_rung = {e + 1, e + 1, 0, 0};
      const std::vector<int64_t> by_replica = by_rung;
      for (int r : replicas) {
        positions[r] = {
            engine::Vec3{0.01 * e, 0, 0}, {0, 0, 0}, {0, 0, 0}, {0, 0, 0}};
      }
      runner::RoundReport report{
          outcome,
          energies,
          energies,
          exchange::ReducedPotentials::FromPotentialEnergies(ladder, energies),
          statistics,
          boxes,
          &positions,
          0.0};
      report.replicas = &replicas;
      report.segments_by_replica = &by_replica;
      report.segments_by_rung = &by_rung;
      ASSERT_TRUE((*writer)->WriteRound(report).ok());
    }
  };
  write(0, 6);
  write(2, 3);
  int ncid = -1, frame_dim = -1, var = -1;
  size_t frames = 0;
  ASSERT_EQ(
      nc_open((dir / results::TrajectoryPath(0)).c_str(), NC_NOWRITE, &ncid),
      NC_NOERR);
  ASSERT_EQ(nc_inq_dimid(ncid, "frame", &frame_dim), NC_NOERR);
  ASSERT_EQ(nc_inq_dimlen(ncid, frame_dim, &frames), NC_NOERR);
  EXPECT_EQ(frames, 2u);
  // Frame 1 is event 2's: x = 0.02 nm, 0.2 angstrom.
  ASSERT_EQ(nc_inq_varid(ncid, "coordinates", &var), NC_NOERR);
  float x = 0;
  const size_t at[3] = {1, 0, 0};
  ASSERT_EQ(nc_get_var1_float(ncid, var, at, &x), NC_NOERR);
  EXPECT_FLOAT_EQ(x, 0.2f);
  nc_close(ncid);
  fs::remove_all(root);
}

// report.html renders in headless Chromium with its plots: the screenshot is
// checked for size and colour variety by a stdlib-only PNG decoder.
constexpr char kPngScript[] = R"(
import sys, zlib, struct
data = open(sys.argv[1], 'rb').read()
assert data[:8] == b'\x89PNG\r\n\x1a\n'
pos, idat, w, h = 8, b'', 0, 0
while pos < len(data):
    n, kind = struct.unpack('>I4s', data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b'IHDR':
        w, h, depth, ctype = struct.unpack('>IIBB', body[:10])
        assert depth == 8 and ctype in (2, 6), (depth, ctype)
        bpp = 3 if ctype == 2 else 4
    elif kind == b'IDAT':
        idat += body
    pos += 12 + n
raw, stride, prev, colours, nonwhite = zlib.decompress(idat), w * bpp, None, set(), 0
for y in range(h):
    f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    prev = prev or bytearray(stride)
    for i in range(stride):
        a = line[i - bpp] if i >= bpp else 0
        b, c = prev[i], prev[i - bpp] if i >= bpp else 0
        if f == 1: line[i] = (line[i] + a) & 255
        elif f == 2: line[i] = (line[i] + b) & 255
        elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    for i in range(0, stride, bpp):
        px = bytes(line[i:i + 3]); colours.add(px); nonwhite += px != b'\xff\xff\xff'
    prev = line
print(w, h, len(colours), nonwhite / (w * h))
)";

TEST_F(HarmonicResultsTest, ReportRendersInHeadlessChromium) {
  if (RunCommand("command -v chromium >/dev/null").first != 0) {
    GTEST_SKIP() << "chromium is not installed";
  }
  const fs::path html = dir() / results::kReportFile;
  const std::string page = ReadFile(html);
  int svgs = 0;
  for (size_t at = page.find("<svg"); at != std::string::npos;
       at = page.find("<svg", at + 1)) {
    ++svgs;
  }
  EXPECT_EQ(svgs, 4);  // acceptance, trajectories, round trips, histograms
  EXPECT_EQ(page.find("<script"), std::string::npos);
  const std::string flags = absl::StrCat(
      "timeout 60 chromium --headless --no-sandbox --disable-gpu "
      "--user-data-dir=",
      (*root_ / "chromium").string(), " ");
  const fs::path png = *root_ / "report.png";
  const auto [code, output] = RunCommand(
      absl::StrCat(flags, "--screenshot=", png.string(),
                   " --window-size=1200,2000 file://", html.string(), " 2>&1"));
  ASSERT_EQ(code, 0) << output;
  // The rendered DOM has the four plots: Chromium parsed the page whole.
  const auto [dom_code, dom] = RunCommand(
      absl::StrCat(flags, "--dump-dom file://", html.string(), " 2>/dev/null"));
  ASSERT_EQ(dom_code, 0);
  EXPECT_NE(dom.find("Potential energy per rung"), std::string::npos);
  EXPECT_NE(dom.find("</svg>"), std::string::npos);
  EXPECT_EQ(output.find("Uncaught"), std::string::npos) << output;
  const auto [png_code, png_output] =
      RunPython(*root_, kPngScript, png.string());
  ASSERT_EQ(png_code, 0) << png_output;
  const auto rows = NumberRows(png_output);
  ASSERT_EQ(rows.size(), 1u) << png_output;
  EXPECT_EQ(rows[0][0], 1200);
  // Plots in several colours cover a visible part of the page (a blank page
  // is one colour, 0% non-white).
  EXPECT_GT(rows[0][2], 20) << png_output;
  EXPECT_GT(rows[0][3], 0.02) << png_output;
}

}  // namespace
}  // namespace replex
