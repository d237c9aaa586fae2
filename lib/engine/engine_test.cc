// Tests for the engine on OpenMM's Reference and CPU platforms (GPU platforms
// are smoke-tested and skipped when absent). The Systems are particles in a
// harmonic well with a global spring constant K, built here with OpenMM's API
// so energies can be checked by hand.
#include "lib/engine/engine.h"

#include <OpenMM.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/engine/test_util.h"
#include "lib/threads/slot_pool.h"

namespace replex::engine {
namespace {

using exchange::Ladder;
using exchange::Rung;
using test_util::AtomLine;
using test_util::MessageOf;
using test_util::Options;
using test_util::Pdb;
using test_util::ToXml;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr double kSpringK = 100;  // kJ/mol/nm^2, the System's default K

// Starting positions in Å, printed exactly by "%8.3f".
const std::vector<Vec3> kPositionsAngstrom = {
    {1.0, 2.0, -1.5}, {0.5, -0.5, 3.0}, {-2.0, 1.0, 0.25}};

OpenMM::System WellSystem(const std::vector<double>& masses) {
  OpenMM::System system;
  auto* well = new OpenMM::CustomExternalForce("0.5*K*(x^2+y^2+z^2)");
  well->addGlobalParameter("K", kSpringK);
  for (size_t i = 0; i < masses.size(); ++i) {
    system.addParticle(masses[i]);
    well->addParticle(static_cast<int>(i));
  }
  system.addForce(well);  // takes ownership
  return system;
}

const std::vector<double> kMasses = {1.0, 2.0, 12.0};

std::shared_ptr<const Model> WellModel(
    const std::vector<double>& masses = kMasses) {
  std::vector<Vec3> positions(kPositionsAngstrom.begin(),
                              kPositionsAngstrom.begin() + masses.size());
  absl::StatusOr<std::shared_ptr<const Model>> model =
      Model::Load(ToXml(WellSystem(masses)), "", Pdb(positions));
  EXPECT_TRUE(model.ok()) << model.status();
  return model.ok() ? *model : nullptr;
}

// Temperature and K rise together.
Ladder SpringLadder() {
  return *Ladder::Create(
      {"K"}, {Rung{300, {100}}, Rung{330, {200}}, Rung{360, {400}}});
}

Ladder TemperatureLadder() {
  return *Ladder::Create({}, {Rung{300, {}}, Rung{330, {}}, Rung{360, {}}});
}

double KineticEnergy(const PortableState& state,
                     const std::vector<double>& masses) {
  double sum = 0;
  for (size_t i = 0; i < masses.size(); ++i) {
    for (double v : state.velocities_nm_per_ps[i])
      sum += 0.5 * masses[i] * v * v;
  }
  return sum;
}

double SquaredRadiusSum(const PortableState& state) {
  double sum = 0;
  for (const Vec3& r : state.positions_nm) {
    for (double x : r) sum += x * x;
  }
  return sum;
}

// Bitwise equality, without gtest dumping the encodings on failure.
bool SameBits(const PortableState& a, const PortableState& b) {
  return a.Serialize() == b.Serialize();
}

uint64_t Bits(double x) {
  uint64_t bits;
  std::memcpy(&bits, &x, sizeof(bits));
  return bits;
}

// ---------------------------------------------------------------------------
// Model::Load

TEST(ModelLoadTest, ReadsPdbCoordinatesInNanometresAndOrthorhombicBox) {
  const std::string cryst1 =
      "CRYST1   20.000   30.000   40.000  90.00  90.00  90.00 P 1           "
      "1\n";
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<const Model> model,
                       Model::Load(ToXml(WellSystem(kMasses)), "",
                                   Pdb(kPositionsAngstrom, cryst1)));
  EXPECT_EQ(model->num_particles(), 3);
  EXPECT_FALSE(model->has_initial_velocities());
  const PortableState& initial = model->initial_state();
  for (size_t i = 0; i < kPositionsAngstrom.size(); ++i) {
    for (int d = 0; d < 3; ++d) {
      EXPECT_DOUBLE_EQ(initial.positions_nm[i][d],
                       kPositionsAngstrom[i][d] / 10);
    }
  }
  EXPECT_EQ(initial.box_vectors_nm[0], (Vec3{2, 0, 0}));
  EXPECT_EQ(initial.box_vectors_nm[1], (Vec3{0, 3, 0}));
  EXPECT_EQ(initial.box_vectors_nm[2], (Vec3{0, 0, 4}));
}

TEST(ModelLoadTest, RejectsMalformedSystemXml) {
  const std::string pdb = Pdb(kPositionsAngstrom);
  for (const std::string& xml : {std::string("not xml at all"),
                                 ToXml(WellSystem(kMasses)).substr(0, 200)}) {
    absl::StatusOr<std::shared_ptr<const Model>> model =
        Model::Load(xml, "", pdb);
    EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument) << xml;
    EXPECT_THAT(MessageOf(model.status()), StartsWith("system_xml: "));
  }
}

// OpenMM would otherwise hand back a State cast to a System.
TEST(ModelLoadTest, RejectsAStateGivenAsTheSystem) {
  OpenMM::System system = WellSystem(kMasses);
  OpenMM::VerletIntegrator integrator(0.001);
  OpenMM::Context context(system, integrator,
                          OpenMM::Platform::getPlatformByName("Reference"));
  context.setPositions(std::vector<OpenMM::Vec3>(3));
  std::ostringstream state_xml;
  const OpenMM::State state = context.getState(OpenMM::State::Positions);
  OpenMM::XmlSerializer::serialize<OpenMM::State>(&state, "State", state_xml);
  absl::StatusOr<std::shared_ptr<const Model>> model =
      Model::Load(state_xml.str(), "", Pdb(kPositionsAngstrom));
  EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(MessageOf(model.status()),
              AllOf(StartsWith("system_xml: "), HasSubstr("State")));
}

// A serialized State of the well with velocities and K = 123.
std::string WellStateXml(const std::vector<Vec3>& velocities) {
  OpenMM::System system = WellSystem(kMasses);
  OpenMM::VerletIntegrator integrator(0.001);
  OpenMM::Context context(system, integrator,
                          OpenMM::Platform::getPlatformByName("Reference"));
  std::vector<OpenMM::Vec3> positions, openmm_velocities;
  for (size_t i = 0; i < kPositionsAngstrom.size(); ++i) {
    const Vec3& r = kPositionsAngstrom[i];
    positions.emplace_back(r[0] / 10, r[1] / 10, r[2] / 10);
    openmm_velocities.emplace_back(velocities[i][0], velocities[i][1],
                                   velocities[i][2]);
  }
  context.setPositions(positions);
  context.setVelocities(openmm_velocities);
  context.setParameter("K", 123);
  const OpenMM::State state =
      context.getState(OpenMM::State::Positions | OpenMM::State::Velocities |
                       OpenMM::State::Parameters);
  std::ostringstream out;
  OpenMM::XmlSerializer::serialize<OpenMM::State>(&state, "State", out);
  return out.str();
}

TEST(ModelLoadTest, RejectsMalformedStateXml) {
  const std::string state_xml = WellStateXml({{1, 0, 0}, {0, 1, 0}, {0, 0, 1}});
  for (const std::string& xml :
       {state_xml.substr(0, state_xml.size() / 2), std::string("<State>")}) {
    absl::StatusOr<std::shared_ptr<const Model>> model =
        Model::Load(ToXml(WellSystem(kMasses)), xml, "");
    EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument) << xml;
    EXPECT_THAT(MessageOf(model.status()), StartsWith("state_xml: "));
  }
}

TEST(ModelLoadTest, StateXmlCarriesVelocitiesAndParametersIntoTheReplica) {
  const std::vector<Vec3> velocities = {{0.5, -1, 2}, {0, 0.25, 0}, {-3, 1, 1}};
  ASSERT_OK_AND_ASSIGN(
      std::shared_ptr<const Model> model,
      Model::Load(ToXml(WellSystem(kMasses)), WellStateXml(velocities), ""));
  EXPECT_TRUE(model->has_initial_velocities());
  ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<Replica> replica,
      Replica::Create(model, Options("Reference"), TemperatureLadder(), 0, 1));
  ASSERT_OK_AND_ASSIGN(PortableState state, replica->Save());
  EXPECT_EQ(state.velocities_nm_per_ps,
            model->initial_state().velocities_nm_per_ps);
  for (size_t i = 0; i < velocities.size(); ++i) {
    for (int d = 0; d < 3; ++d) {
      EXPECT_DOUBLE_EQ(state.velocities_nm_per_ps[i][d], velocities[i][d]);
    }
  }
  EXPECT_EQ(state.parameters.at("K"), 123);
}

TEST(ModelLoadTest, RejectsABadPdbLineByNumber) {
  std::string pdb = AtomLine(1, kPositionsAngstrom[0]) +
                    AtomLine(2, kPositionsAngstrom[1]) +
                    AtomLine(3, kPositionsAngstrom[2]);
  pdb.replace(pdb.find('\n') + 1 + 30, 8, "   1.2.3");  // line 2, x
  absl::StatusOr<std::shared_ptr<const Model>> model =
      Model::Load(ToXml(WellSystem(kMasses)), "", pdb);
  EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(MessageOf(model.status()),
              AllOf(StartsWith("pdb line 2: "), HasSubstr("1.2.3")));
}

// Each replica begins at its own start (an umbrella window's structure) and
// a start that does not fit the System is named by its index.
TEST(ModelLoadTest, EachReplicaBeginsAtItsOwnStart) {
  const auto pdb_shifted_by = [](double angstrom) {
    std::vector<Vec3> positions = kPositionsAngstrom;
    for (Vec3& p : positions) p[0] += angstrom;
    return Pdb(positions);
  };
  const std::string system = ToXml(WellSystem(kMasses));
  const std::string start0 = pdb_shifted_by(1), start1 = pdb_shifted_by(2);
  ASSERT_OK_AND_ASSIGN(
      std::shared_ptr<const Model> model,
      Model::Load(system, "", Pdb(kPositionsAngstrom),
                  {Coordinates{"", start0}, Coordinates{"", start1}}));
  ASSERT_EQ(model->num_replica_starts(), 2);
  for (int replica = 0; replica < 2; ++replica) {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<Replica> r,
                         Replica::Create(model, Options("Reference"),
                                         SpringLadder(), 0, 1, replica));
    ASSERT_OK_AND_ASSIGN(PortableState state, r->Save());
    for (size_t i = 0; i < kPositionsAngstrom.size(); ++i) {
      // Å to nm; the shift is replica + 1 Å along x.
      EXPECT_NEAR(state.positions_nm[i][0],
                  (kPositionsAngstrom[i][0] + replica + 1) / 10, 1e-12);
    }
  }
  EXPECT_EQ(
      Replica::Create(model, Options("Reference"), SpringLadder(), 0, 1, 2)
          .status()
          .code(),
      absl::StatusCode::kInvalidArgument);

  absl::StatusOr<std::shared_ptr<const Model>> bad = Model::Load(
      system, "", Pdb(kPositionsAngstrom),
      {Coordinates{"", start0}, Coordinates{"", Pdb({kPositionsAngstrom[0]})}});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(MessageOf(bad.status()),
              AllOf(StartsWith("replica_starts[1]: pdb: has 1 particle"),
                    HasSubstr("System has 3")));
}

TEST(ModelLoadTest, RejectsNonFiniteAndTruncatedPdbRecords) {
  std::string nan_line = AtomLine(1, kPositionsAngstrom[0]);
  nan_line.replace(38, 8, "     nan");  // y
  for (const std::string& pdb :
       {nan_line, AtomLine(1, kPositionsAngstrom[0]).substr(0, 40) + "\n"}) {
    absl::StatusOr<std::shared_ptr<const Model>> model =
        Model::Load(ToXml(WellSystem({1.0})), "", pdb);
    EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument) << pdb;
    EXPECT_THAT(MessageOf(model.status()), StartsWith("pdb line 1: "));
  }
}

TEST(ModelLoadTest, RejectsTriclinicPdbBox) {
  const std::string cryst1 =
      "CRYST1   20.000   30.000   40.000  60.00  90.00  90.00 P 1           "
      "1\n";
  absl::StatusOr<std::shared_ptr<const Model>> model = Model::Load(
      ToXml(WellSystem(kMasses)), "", Pdb(kPositionsAngstrom, cryst1));
  EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(MessageOf(model.status()),
              AllOf(StartsWith("pdb line 1: "), HasSubstr("orthorhombic")));
}

TEST(ModelLoadTest, RejectsParticleCountMismatch) {
  absl::StatusOr<std::shared_ptr<const Model>> model =
      Model::Load(ToXml(WellSystem(kMasses)), "",
                  Pdb({kPositionsAngstrom[0], kPositionsAngstrom[1]}));
  EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(MessageOf(model.status()),
              AllOf(StartsWith("pdb: "), HasSubstr("2 particle positions"),
                    HasSubstr("3 particles"), HasSubstr("must match")));
}

// Two dimers bonded through the periodic boundaries of a 3 nm box: a
// periodic System for NPT.
OpenMM::System DimerBox() {
  OpenMM::System system;
  system.setDefaultPeriodicBoxVectors(
      OpenMM::Vec3(3, 0, 0), OpenMM::Vec3(0, 3, 0), OpenMM::Vec3(0, 0, 3));
  auto* bonds = new OpenMM::CustomBondForce("0.5*kb*r^2");
  bonds->addGlobalParameter("kb", 1000);
  bonds->setUsesPeriodicBoundaryConditions(true);
  for (int i = 0; i < 4; ++i) system.addParticle(12);
  bonds->addBond(0, 1, {});
  bonds->addBond(2, 3, {});
  system.addForce(bonds);
  return system;
}

const std::vector<Vec3> kDimerAngstrom = {
    {5, 5, 5}, {5.5, 5, 5}, {15, 15, 15}, {15, 15.7, 15}};

TEST(ModelLoadTest, ReadsTheSystemsBarostat) {
  OpenMM::System system = DimerBox();
  system.addForce(new OpenMM::MonteCarloBarostat(2.5, 300, 7));
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<const Model> model,
                       Model::Load(ToXml(system), "", Pdb(kDimerAngstrom)));
  ASSERT_TRUE(model->barostat().has_value());
  EXPECT_EQ(model->barostat()->kind, Barostat::Kind::kIsotropic);
  EXPECT_EQ(model->barostat()->pressure_bar, 2.5);
  EXPECT_EQ(model->barostat()->frequency, 7);
  EXPECT_TRUE(model->periodic());
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<const Model> nvt,
                       Model::Load(ToXml(DimerBox()), "", Pdb(kDimerAngstrom)));
  EXPECT_FALSE(nvt->barostat().has_value());
}

TEST(ModelLoadTest, RefusesBarostatsReplicaExchangeCannotHonour) {
  // OpenMM::System owns its forces and must not be copied: each case builds
  // its own.
  auto load = [](OpenMM::System& system, const std::vector<Vec3>& positions) {
    return Model::Load(ToXml(system), "", Pdb(positions)).status();
  };
  OpenMM::System no_box = WellSystem(kMasses);
  no_box.addForce(new OpenMM::MonteCarloBarostat(1, 300));
  OpenMM::System anisotropic = DimerBox();
  anisotropic.addForce(
      new OpenMM::MonteCarloAnisotropicBarostat(OpenMM::Vec3(1, 1, 2), 300));
  OpenMM::System two = DimerBox();
  two.addForce(new OpenMM::MonteCarloBarostat(1, 300));
  two.addForce(new OpenMM::MonteCarloBarostat(1, 300));
  const std::pair<absl::Status, const char*> cases[] = {
      {load(no_box, kPositionsAngstrom), "periodic"},
      {load(anisotropic, kDimerAngstrom), "same pressure"},
      {load(two, kDimerAngstrom), "second barostat"}};
  for (const auto& [status, message] : cases) {
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << message;
    EXPECT_THAT(MessageOf(status),
                AllOf(StartsWith("system_xml: "), HasSubstr(message)));
  }
}

// NPT: the reduced potential is beta_k (U + p_k V) at every rung, with each
// rung's own pressure when the ladder gives them; the barostat runs at the
// replica's rung; a ladder with pressures needs a barostat.
TEST(NptReplicaTest, ReducedPotentialsAddPVAtEachRungsPressure) {
  OpenMM::System system = DimerBox();
  system.addForce(new OpenMM::MonteCarloBarostat(1.0, 300, 1));
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<const Model> model,
                       Model::Load(ToXml(system), "", Pdb(kDimerAngstrom)));
  ASSERT_OK_AND_ASSIGN(
      Ladder ladder, Ladder::Create({}, {Rung{300, {}, 1.0}, Rung{330, {}, 2.0},
                                         Rung{360, {}, 4.0}}));
  ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<Replica> replica,
      Replica::Create(model, Options("Reference"), ladder, 1, 3));
  ASSERT_OK(replica->Run(20, 5));
  ASSERT_OK_AND_ASSIGN(EnergyTerms terms, replica->Energies());
  const double volume = BoxVolume(terms.box_nm);
  EXPECT_GT(volume, 0);
  EXPECT_NEAR(terms.pv_kj_mol, 2.0 * exchange::kKJPerMolPerBarNm3 * volume,
              1e-12 * terms.pv_kj_mol);
  ASSERT_OK_AND_ASSIGN(std::vector<double> u,
                       replica->ReducedPotentials({0, 1, 2}));
  for (int k = 0; k < 3; ++k) {
    const double pv = ladder.rung(k).pressure_bar.value() *
                      exchange::kKJPerMolPerBarNm3 * volume;
    EXPECT_NEAR(u[k], ladder.beta(k) * (terms.potential_kj_mol + pv),
                1e-9 * std::abs(u[k]))
        << k;
  }
  ASSERT_OK(replica->SetRung(2));
  ASSERT_OK_AND_ASSIGN(PortableState state, replica->Save());
  EXPECT_EQ(state.parameters.at(OpenMM::MonteCarloBarostat::Temperature()),
            360);
  EXPECT_EQ(state.parameters.at(OpenMM::MonteCarloBarostat::Pressure()), 4.0);

  absl::StatusOr<std::unique_ptr<Replica>> nvt =
      Replica::Create(*Model::Load(ToXml(DimerBox()), "", Pdb(kDimerAngstrom)),
                      Options("Reference"), ladder, 0, 1);
  EXPECT_EQ(nvt.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(MessageOf(nvt.status()), HasSubstr("pressures_bar"));
}

TEST(ModelLoadTest, RequiresExactlyOneCoordinateSource) {
  const std::string system_xml = ToXml(WellSystem(kMasses));
  EXPECT_EQ(Model::Load(system_xml, "", "").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Model::Load(system_xml, WellStateXml({{}, {}, {}}),
                        Pdb(kPositionsAngstrom))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------------------
// Platforms and Replica::Create errors

TEST(PlatformTest, ReferenceAndCpuAreAvailable) {
  const std::vector<std::string> platforms = AvailablePlatforms();
  EXPECT_THAT(platforms, ::testing::IsSupersetOf({"Reference", "CPU"}));
}

TEST(ReplicaCreateTest, UnknownPlatformIsUnavailableAndListsTheOthers) {
  absl::StatusOr<std::unique_ptr<Replica>> replica = Replica::Create(
      WellModel(), Options("NoSuchPlatform"), SpringLadder(), 0, 1);
  EXPECT_EQ(replica.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(MessageOf(replica.status()),
              AllOf(HasSubstr("'NoSuchPlatform'"), HasSubstr("Reference"),
                    HasSubstr("CPU")));
}

TEST(ReplicaCreateTest, UnknownPlatformPropertyIsNamed) {
  EngineOptions options = Options("CPU");
  options.platform_properties["Bogus"] = "1";
  absl::StatusOr<std::unique_ptr<Replica>> replica =
      Replica::Create(WellModel(), options, SpringLadder(), 0, 1);
  EXPECT_EQ(replica.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(MessageOf(replica.status()),
              AllOf(HasSubstr("'Bogus'"), HasSubstr("Threads")));
}

TEST(ReplicaCreateTest, MissingLadderParameterListsTheSystemsParameters) {
  const Ladder ladder =
      *Ladder::Create({"lambda"}, {Rung{300, {0}}, Rung{300, {1}}});
  absl::StatusOr<std::unique_ptr<Replica>> replica =
      Replica::Create(WellModel(), Options("Reference"), ladder, 0, 1);
  EXPECT_EQ(replica.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(MessageOf(replica.status()),
              AllOf(HasSubstr("'lambda'"), HasSubstr("(it has K)")));
}

TEST(ReplicaCreateTest, RejectsRungOutsideTheLadder) {
  EXPECT_EQ(
      Replica::Create(WellModel(), Options("Reference"), SpringLadder(), 3, 1)
          .status()
          .code(),
      absl::StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------------------
// Replica behaviour, on every CPU-side platform.

class ReplicaTest : public ::testing::TestWithParam<std::string> {
 protected:
  absl::StatusOr<std::unique_ptr<Replica>> Make(const Ladder& ladder,
                                                int rung = 0,
                                                uint64_t seed = 11) {
    return Replica::Create(WellModel(), Options(GetParam()), ladder, rung,
                           seed);
  }
};

TEST_P(ReplicaTest, SetRungRescalesVelocitiesAndSetsParameters) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Replica> replica, Make(SpringLadder()));
  ASSERT_OK(replica->Run(20, 1));
  ASSERT_OK_AND_ASSIGN(PortableState before, replica->Save());
  ASSERT_OK(replica->SetRung(2));
  ASSERT_OK_AND_ASSIGN(PortableState after, replica->Save());
  EXPECT_EQ(replica->rung(), 2);
  EXPECT_NEAR(KineticEnergy(after, kMasses) / KineticEnergy(before, kMasses),
              360.0 / 300.0, 1e-13);
  EXPECT_EQ(after.positions_nm, before.positions_nm);
  EXPECT_EQ(after.parameters.at("K"), 400);
}

// An adaptive ladder moves a rung's temperature away from the ladder the
// replica was made with: SetRung's temperature_k puts it there, rescaling
// the velocities from wherever they were.
TEST_P(ReplicaTest, SetRungAtAnotherTemperatureRescalesToIt) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Replica> replica, Make(SpringLadder()));
  EXPECT_EQ(replica->temperature_k(), 300);
  ASSERT_OK(replica->Run(20, 1));
  ASSERT_OK_AND_ASSIGN(PortableState before, replica->Save());
  ASSERT_OK(replica->SetRung(0, 450));
  ASSERT_OK_AND_ASSIGN(PortableState hotter, replica->Save());
  EXPECT_EQ(replica->rung(), 0);
  EXPECT_EQ(replica->temperature_k(), 450);
  EXPECT_NEAR(KineticEnergy(hotter, kMasses) / KineticEnergy(before, kMasses),
              450.0 / 300.0, 1e-13);
  // Without a temperature, the ladder's: rung 2 is at 360 K.
  ASSERT_OK(replica->SetRung(2));
  ASSERT_OK_AND_ASSIGN(PortableState after, replica->Save());
  EXPECT_EQ(replica->temperature_k(), 360);
  EXPECT_NEAR(KineticEnergy(after, kMasses) / KineticEnergy(hotter, kMasses),
              360.0 / 450.0, 1e-13);
  for (double bad : {-5.0, std::nan(""), HUGE_VAL}) {
    EXPECT_EQ(replica->SetRung(1, bad).code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
  }
  EXPECT_EQ(replica->rung(), 2);
  EXPECT_EQ(replica->temperature_k(), 360);
}

TEST_P(ReplicaTest, ReducedPotentialsAreBetaTimesEnergyAtEachRung) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Replica> replica,
                       Make(SpringLadder(), /*rung=*/1));
  ASSERT_OK(replica->Run(10, 2));
  ASSERT_OK_AND_ASSIGN(PortableState state, replica->Save());
  const double r2 = SquaredRadiusSum(state);
  ASSERT_OK_AND_ASSIGN(std::vector<double> u,
                       replica->ReducedPotentials({2, 0, 1}));
  const Ladder ladder = SpringLadder();
  ASSERT_EQ(u.size(), 3u);
  const int order[] = {2, 0, 1};
  for (int i = 0; i < 3; ++i) {
    const int k = order[i];
    const double expected =
        0.5 * ladder.rung(k).parameters[0] * r2 /
        (exchange::kMolarGasConstantKJPerMolK * ladder.rung(k).temperature_k);
    EXPECT_NEAR(u[i], expected, 1e-9 * expected) << "rung " << k;
  }
  // The replica is back at rung 1's K = 200.
  ASSERT_OK_AND_ASSIGN(double energy, replica->PotentialEnergy());
  EXPECT_NEAR(energy, 0.5 * 200 * r2, 1e-9 * energy);
  ASSERT_OK_AND_ASSIGN(PortableState after, replica->Save());
  EXPECT_EQ(after.parameters.at("K"), 200);

  EXPECT_EQ(replica->ReducedPotentials({0, 3}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_P(ReplicaTest, TemperatureOnlyReducedPotentialsScaleOneEnergy) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Replica> replica,
                       Make(TemperatureLadder()));
  ASSERT_OK_AND_ASSIGN(double energy, replica->PotentialEnergy());
  ASSERT_OK_AND_ASSIGN(std::vector<double> u,
                       replica->ReducedPotentials({0, 1, 2}));
  const Ladder ladder = TemperatureLadder();
  for (int k = 0; k < 3; ++k) EXPECT_EQ(u[k], ladder.beta(k) * energy);
}

TEST_P(ReplicaTest, SaveRestoreSaveIsBitExact) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Replica> replica, Make(SpringLadder()));
  ASSERT_OK(replica->Run(10, 1));
  ASSERT_OK_AND_ASSIGN(PortableState saved, replica->Save());
  ASSERT_OK(replica->Run(10, 2));
  ASSERT_OK_AND_ASSIGN(PortableState moved, replica->Save());
  ASSERT_FALSE(SameBits(moved, saved));
  ASSERT_OK(replica->Restore(saved));
  ASSERT_OK_AND_ASSIGN(PortableState restored, replica->Save());
  EXPECT_TRUE(SameBits(restored, saved));
}

TEST_P(ReplicaTest, RestoreRejectsABadStateAndLeavesTheReplicaAlone) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Replica> replica, Make(SpringLadder()));
  ASSERT_OK(replica->Run(5, 1));
  ASSERT_OK_AND_ASSIGN(PortableState good, replica->Save());

  PortableState short_state = good;
  short_state.positions_nm.pop_back();
  PortableState nan_state = good;
  nan_state.velocities_nm_per_ps[1][2] = std::nan("");
  PortableState unknown_parameter = good;
  unknown_parameter.parameters["nope"] = 1;
  // Not in OpenMM's reduced form: rejected by OpenMM itself, after checks.
  PortableState skewed_box = good;
  skewed_box.box_vectors_nm = {Vec3{1, 0, 0}, Vec3{5, 1, 0}, Vec3{0, 0, 1}};

  for (const PortableState* bad :
       {&short_state, &nan_state, &unknown_parameter, &skewed_box}) {
    EXPECT_EQ(replica->Restore(*bad).code(),
              absl::StatusCode::kInvalidArgument);
    ASSERT_OK_AND_ASSIGN(PortableState now, replica->Save());
    EXPECT_TRUE(SameBits(now, good));
  }
  EXPECT_THAT(MessageOf(replica->Restore(unknown_parameter)),
              HasSubstr("'nope'"));
}

TEST_P(ReplicaTest, NonFiniteEnergyIsReportedAndTheReplicaCanRestart) {
  // Rung 1's hugely negative spring throws the particles out to infinity.
  const Ladder ladder =
      *Ladder::Create({"K"}, {Rung{300, {100}}, Rung{310, {-1e12}}});
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Replica> replica, Make(ladder));
  ASSERT_OK_AND_ASSIGN(PortableState checkpoint, replica->Save());
  ASSERT_OK(replica->SetRung(1));
  const absl::Status status = replica->Run(200, 3);
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(MessageOf(status), HasSubstr("200"));

  ASSERT_OK(replica->SetRung(0));
  ASSERT_OK(replica->Restore(checkpoint));
  ASSERT_OK(replica->Run(10, 4));
  ASSERT_OK_AND_ASSIGN(double energy, replica->PotentialEnergy());
  EXPECT_TRUE(std::isfinite(energy));
}

INSTANTIATE_TEST_SUITE_P(CpuPlatforms, ReplicaTest,
                         ::testing::Values("Reference", "CPU"),
                         [](const auto& info) { return info.param; });

// ---------------------------------------------------------------------------
// Reference determinism

// A stop flag makes Run integrate in chunks of kStopCheckSteps: the same
// trajectory bit for bit (Reference, and CPU's barostat path, whose chunks
// fall between the barostat's moves), and a flag set while the segment runs
// ends it early with CANCELLED. Were the flag only read before the first
// step, the 2^31-step segment would run for hours and the test time out.
TEST(StoppableRunTest, ChunksKeepTheTrajectoryAndAStopEndsTheSegment) {
  const int steps = 3 * Replica::kStopCheckSteps + 17;
  std::atomic<bool> never{false};
  OpenMM::System npt = DimerBox();
  npt.addForce(new OpenMM::MonteCarloBarostat(1.0, 300, 600));
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<const Model> npt_model,
                       Model::Load(ToXml(npt), "", Pdb(kDimerAngstrom)));
  ASSERT_OK_AND_ASSIGN(
      Ladder npt_ladder,
      Ladder::Create({}, {Rung{300, {}, 1.0}, Rung{330, {}, 2.0}}));
  struct Case {
    std::shared_ptr<const Model> model;
    std::string platform;
    Ladder ladder;
  };
  for (const Case& c : {Case{WellModel(), "Reference", SpringLadder()},
                        Case{npt_model, "CPU", npt_ladder}}) {
    SCOPED_TRACE(c.platform);
    ASSERT_OK_AND_ASSIGN(
        std::unique_ptr<Replica> whole,
        Replica::Create(c.model, Options(c.platform), c.ladder, 0, 5));
    ASSERT_OK_AND_ASSIGN(
        std::unique_ptr<Replica> chunked,
        Replica::Create(c.model, Options(c.platform), c.ladder, 0, 5));
    for (uint64_t segment = 0; segment < 2; ++segment) {
      ASSERT_OK(whole->Run(steps, 42 + segment));
      ASSERT_OK(chunked->Run(steps, 42 + segment, &never));
    }
    ASSERT_OK_AND_ASSIGN(PortableState whole_state, whole->Save());
    ASSERT_OK_AND_ASSIGN(PortableState chunked_state, chunked->Save());
    EXPECT_TRUE(SameBits(whole_state, chunked_state));
  }

  ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<Replica> replica,
      Replica::Create(WellModel(), Options("Reference"), SpringLadder(), 0, 5));
  std::atomic<bool> stop{false};
  absl::Status status;
  std::thread run([&] {
    status = replica->Run(std::numeric_limits<int>::max(), 7, &stop);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  stop = true;
  run.join();
  EXPECT_EQ(status.code(), absl::StatusCode::kCancelled) << status;
  EXPECT_THAT(MessageOf(status), HasSubstr("segment was stopped"));
}

TEST(ReferenceDeterminismTest, SegmentsDependOnlyOnStateRungAndSeed) {
  const EngineOptions options = Options("Reference");
  const Ladder ladder = SpringLadder();
  std::shared_ptr<const Model> model = WellModel();
  // One particle, one step: three Gaussians, an odd number, so OpenMM's
  // generator is left holding a cached second Gaussian.
  std::shared_ptr<const Model> odd = WellModel({1.0});
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Replica> a,
                       Replica::Create(model, options, ladder, 0, 5));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Replica> b,
                       Replica::Create(model, options, ladder, 0, 5));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Replica> other,
                       Replica::Create(odd, options, ladder, 1, 6));

  ASSERT_OK(a->Run(10, 42));
  ASSERT_OK(other->Run(1, 7));
  absl::Status b_status;
  std::thread([&] { b_status = b->Run(10, 42); }).join();
  ASSERT_OK(b_status);
  ASSERT_OK_AND_ASSIGN(PortableState a_state, a->Save());
  ASSERT_OK_AND_ASSIGN(PortableState b_state, b->Save());
  EXPECT_TRUE(SameBits(a_state, b_state));

  // The other order, with a rung change in between.
  ASSERT_OK(a->SetRung(1));
  ASSERT_OK(b->SetRung(1));
  ASSERT_OK(b->Run(7, 43));
  ASSERT_OK(other->Run(1, 8));
  ASSERT_OK(a->Run(7, 43));
  ASSERT_OK_AND_ASSIGN(a_state, a->Save());
  ASSERT_OK_AND_ASSIGN(b_state, b->Save());
  EXPECT_TRUE(SameBits(a_state, b_state));

  // A restored state replays its segment; another seed gives another path.
  ASSERT_OK(b->Run(5, 44));
  ASSERT_OK_AND_ASSIGN(PortableState replayed, b->Save());
  ASSERT_OK(a->Run(1, 45));
  ASSERT_OK(a->Restore(a_state));
  ASSERT_OK(a->Run(5, 44));
  ASSERT_OK_AND_ASSIGN(PortableState a_replayed, a->Save());
  EXPECT_TRUE(SameBits(a_replayed, replayed));
  ASSERT_OK(a->Restore(a_state));
  ASSERT_OK(a->Run(5, 46));
  ASSERT_OK_AND_ASSIGN(PortableState a_other_seed, a->Save());
  EXPECT_NE(a_other_seed.positions_nm, replayed.positions_nm);
}

// Replica i's state after three segments, run from its own thread or not.
absl::StatusOr<PortableState> ThreeSegments(
    const std::shared_ptr<const Model>& model, int i) {
  absl::StatusOr<std::unique_ptr<Replica>> replica = Replica::Create(
      model, Options("Reference"), SpringLadder(), i % 3, 100 + i);
  if (!replica.ok()) return replica.status();
  for (uint64_t segment = 0; segment < 3; ++segment) {
    absl::Status status = (*replica)->Run(200, 1000 * i + segment);
    if (!status.ok()) return status;
  }
  return (*replica)->Save();
}

TEST(ReferenceDeterminismTest, ConcurrentReplicasMatchSequentialOnes) {
  constexpr int kReplicas = 4;
  std::shared_ptr<const Model> model = WellModel();
  std::vector<PortableState> sequential;
  for (int i = 0; i < kReplicas; ++i) {
    ASSERT_OK_AND_ASSIGN(PortableState state, ThreeSegments(model, i));
    sequential.push_back(state);
  }
  // Creation and segments of all replicas race for OpenMM's global generator.
  // Without the engine's lock this fails often, not always: races are
  // timing-dependent. With it, it always passes.
  std::vector<absl::StatusOr<PortableState>> concurrent(kReplicas);
  std::vector<std::thread> threads;
  for (int i = 0; i < kReplicas; ++i) {
    threads.emplace_back([&, i] { concurrent[i] = ThreeSegments(model, i); });
  }
  for (std::thread& thread : threads) thread.join();
  for (int i = 0; i < kReplicas; ++i) {
    ASSERT_OK(concurrent[i].status());
    EXPECT_TRUE(SameBits(*concurrent[i], sequential[i])) << "replica " << i;
  }
}

TEST(ReplicaEnergyTest, TheEnergyAfterARunFollowsRungAndStateChanges) {
  ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<Replica> replica,
      Replica::Create(WellModel(), Options("Reference"), SpringLadder(), 0, 1));
  ASSERT_OK(replica->Run(10, 3));
  ASSERT_OK_AND_ASSIGN(const double after_run, replica->PotentialEnergy());
  // The same configuration evaluated afresh (Restore drops what Run kept).
  ASSERT_OK_AND_ASSIGN(PortableState state, replica->Save());
  ASSERT_OK(replica->Restore(state));
  ASSERT_OK_AND_ASSIGN(const double fresh, replica->PotentialEnergy());
  EXPECT_EQ(Bits(after_run), Bits(fresh));
  // Rung 1 doubles K, and with it the energy of the same positions.
  ASSERT_OK(replica->Run(10, 4));
  ASSERT_OK_AND_ASSIGN(const double at_rung0, replica->PotentialEnergy());
  ASSERT_OK(replica->SetRung(1));
  ASSERT_OK_AND_ASSIGN(const double at_rung1, replica->PotentialEnergy());
  EXPECT_DOUBLE_EQ(at_rung1, 2 * at_rung0);
}

// ---------------------------------------------------------------------------
// CPU platform: Contexts made and destroyed while others step

// Charged particles in the well: the CPU platform's nonbonded kernel looks its
// Context up in the platform's process-global map on every evaluation.
std::shared_ptr<const Model> ChargedWellModel(int particles) {
  OpenMM::System system = WellSystem(std::vector<double>(particles, 12.0));
  auto* nonbonded = new OpenMM::NonbondedForce();
  nonbonded->setNonbondedMethod(OpenMM::NonbondedForce::NoCutoff);
  std::vector<Vec3> angstrom;
  for (int i = 0; i < particles; ++i) {
    nonbonded->addParticle(i % 2 ? 0.2 : -0.2, 0.3, 0.5);
    angstrom.push_back({4.0 * (i % 4), 4.0 * (i / 4 % 4), 4.0 * (i / 16)});
  }
  system.addForce(nonbonded);  // takes ownership
  absl::StatusOr<std::shared_ptr<const Model>> model =
      Model::Load(ToXml(system), "", Pdb(angstrom));
  EXPECT_TRUE(model.ok()) << model.status();
  return model.ok() ? *model : nullptr;
}

TEST(CpuPlatformTest, ContextsComeAndGoWhileOthersStep) {
  std::shared_ptr<const Model> model = ChargedWellModel(32);
  ASSERT_NE(model, nullptr);
  // Two threads each make and drop Contexts while two more replicas step, as
  // a worker's slots do when a job loads. Without the engine's CPU Context
  // map lock this crashed the process (a null PlatformData in OpenMM's
  // CpuPlatform) in 1 of 10 runs on a 2-core machine: races are
  // timing-dependent, so a pass without the lock is possible, a crash with it
  // is not.
  constexpr int kThreads = 2;
  constexpr int kCycles = 600;
  std::atomic<bool> done{false};
  std::vector<absl::Status> stepped(kThreads), made(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      absl::StatusOr<std::unique_ptr<Replica>> replica = Replica::Create(
          model, Options("CPU"), TemperatureLadder(), t, 100 + t);
      stepped[t] = replica.status();
      while (stepped[t].ok() && !done.load()) {
        stepped[t] = (*replica)->Run(5, 0);
      }
    });
    threads.emplace_back([&, t] {
      for (int i = 0; i < kCycles && made[t].ok(); ++i) {
        made[t] = Replica::Create(model, Options("CPU"), TemperatureLadder(),
                                  i % 3, i)
                      .status();
      }
    });
  }
  // The makers end on their own; then the steppers are told to stop.
  threads[1].join();
  threads[3].join();
  done = true;
  threads[0].join();
  threads[2].join();
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_TRUE(stepped[t].ok()) << stepped[t];
    EXPECT_TRUE(made[t].ok()) << made[t];
  }
}

TEST(CpuPlatformTest, AContextIsMadeBetweenAnotherReplicasStepsNotAfterIt) {
  std::shared_ptr<const Model> model = ChargedWellModel(32);
  ASSERT_NE(model, nullptr);
  // A segment of about a second here; a Context takes milliseconds to make.
  constexpr int kSteps = 10000;
  std::atomic<bool> stepping{false}, segment_ended{false};
  absl::Status ran;
  // Each on a slot of its own, pinned as a worker's slots are: the slot
  // making the Contexts then wakes at once on an idle core, which is when a
  // stepping slot that takes the lock straight back keeps it.
  auto segment = [&] {
    absl::StatusOr<std::unique_ptr<Replica>> replica =
        Replica::Create(model, Options("CPU"), TemperatureLadder(), 0, 1);
    ran = replica.status();
    stepping = true;
    if (ran.ok()) ran = (*replica)->Run(kSteps, 0);
    segment_ended = true;
  };
  constexpr int kMade = 8;
  absl::Status made;
  bool made_during_the_segment = false;
  auto maker = [&] {
    while (!stepping.load()) absl::SleepFor(absl::Milliseconds(1));
    // Made once the segment is under way (or, on a machine too loaded to
    // start it within this wait, before it: the test then passes untested).
    absl::SleepFor(absl::Milliseconds(100));
    // Several, each made and destroyed, as a worker loads and drops
    // replicas: a stepping thread that took the lock straight back kept some
    // of them waiting for the rest of the segment, not all.
    for (int i = 0; i < kMade && made.ok(); ++i) {
      made = Replica::Create(model, Options("CPU"), TemperatureLadder(), 1, i)
                 .status();
    }
    made_during_the_segment = !segment_ended.load();
  };
  threads::SlotPool slots(2, /*pin=*/true);
  threads::ParallelFor(
      slots, 2, [](int i) { return static_cast<uint64_t>(i); },
      [&](int i) { i == 0 ? segment() : maker(); });
  ASSERT_TRUE(made.ok()) << made;
  ASSERT_TRUE(ran.ok()) << ran;
  EXPECT_TRUE(made_during_the_segment)
      << "the Contexts were made only after the other replica's whole "
      << kSteps << "-step segment";
}

// ---------------------------------------------------------------------------
// GPU platforms: CUDA is skipped without a driver and a device. OpenCL runs
// wherever an OpenCL driver is installed (PoCL on the CPU in CI,
// tools/install-deps.sh), and only then may it be skipped.

bool OpenClDriverInstalled() {
  std::error_code error;
  return std::filesystem::is_directory("/etc/OpenCL/vendors", error) &&
         !std::filesystem::is_empty("/etc/OpenCL/vendors", error);
}

class GpuPlatformTest : public ::testing::TestWithParam<std::string> {
 protected:
  bool MustRun() const {
    return GetParam() == "OpenCL" && OpenClDriverInstalled();
  }
  // Why the platform cannot run here, or "" when it can.
  std::string Unavailable() const {
    const std::vector<std::string> available = AvailablePlatforms();
    if (std::find(available.begin(), available.end(), GetParam()) !=
        available.end()) {
      return "";
    }
    return absl::StrCat(GetParam(), " platform not available (have ",
                        absl::StrJoin(available, ", "), "; plugin failures: ",
                        absl::StrJoin(PluginLoadFailures(), "; "), ")");
  }
};

TEST_P(GpuPlatformTest, RunsAndAgreesWithReference) {
  if (const std::string why = Unavailable(); !why.empty()) {
    if (MustRun()) FAIL() << why << ", although an OpenCL driver is installed";
    GTEST_SKIP() << why;
  }
  absl::StatusOr<std::unique_ptr<Replica>> gpu =
      Replica::Create(WellModel(), Options(GetParam()), SpringLadder(), 0, 1);
  if (gpu.status().code() == absl::StatusCode::kUnavailable && !MustRun()) {
    GTEST_SKIP() << "no usable " << GetParam()
                 << " device: " << gpu.status().message();
  }
  ASSERT_OK(gpu.status());
  ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<Replica> reference,
      Replica::Create(WellModel(), Options("Reference"), SpringLadder(), 0, 1));
  ASSERT_OK_AND_ASSIGN(std::vector<double> u_gpu,
                       (*gpu)->ReducedPotentials({0, 1, 2}));
  ASSERT_OK_AND_ASSIGN(std::vector<double> u_reference,
                       reference->ReducedPotentials({0, 1, 2}));
  for (int k = 0; k < 3; ++k) {
    EXPECT_NEAR(u_gpu[k], u_reference[k], 1e-5 * std::abs(u_reference[k]));
  }
  ASSERT_OK((*gpu)->Run(100, 2));
}

// Embedded mode and workers make their replicas' Contexts on several threads
// at once; OpenMM's GPU platforms must not see that.
TEST_P(GpuPlatformTest, ContextsMadeOnSeveralThreadsAtOnceAllWork) {
  if (const std::string why = Unavailable(); !why.empty()) {
    if (MustRun()) FAIL() << why << ", although an OpenCL driver is installed";
    GTEST_SKIP() << why;
  }
  constexpr int kThreads = 4;
  std::vector<absl::Status> made(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      absl::StatusOr<std::unique_ptr<Replica>> replica = Replica::Create(
          WellModel(), Options(GetParam()), SpringLadder(), t % 3, t);
      made[t] = replica.ok() ? (*replica)->Run(10, t) : replica.status();
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) {
    if (made[t].code() == absl::StatusCode::kUnavailable && !MustRun()) {
      GTEST_SKIP() << "no usable " << GetParam()
                   << " device: " << made[t].message();
    }
    EXPECT_TRUE(made[t].ok()) << "thread " << t << ": " << made[t];
  }
}

INSTANTIATE_TEST_SUITE_P(Gpu, GpuPlatformTest,
                         ::testing::Values("OpenCL", "CUDA"),
                         [](const auto& info) { return info.param; });

// ---------------------------------------------------------------------------
// PortableState codec

PortableState OddState() {
  PortableState state;
  state.positions_nm = {{-0.0, 5e-324, std::numeric_limits<double>::max()},
                        {1.0 / 3, -2.5e-300, 0.1}};
  state.velocities_nm_per_ps = {{std::numeric_limits<double>::quiet_NaN(),
                                 std::numeric_limits<double>::infinity(), -1},
                                {0, 1e300, -7.25}};
  state.box_vectors_nm = {Vec3{3, 0, 0}, Vec3{0.5, 3, 0}, Vec3{0.1, 0.2, 3}};
  state.parameters = {{"K", -0.0}, {"lambda", 0.1}, {"x_1.b-2", 2}};
  state.time_ps = 1e-300;
  return state;
}

// OpenMM's own reader gets back every bit of a state written as State XML.
TEST(PortableStateTest, StateXmlReadsBackBitExactThroughOpenMM) {
  PortableState state;
  state.positions_nm = {{1.0 / 3, -2.0 / 7, 1e-300},
                        {0.1, 5e-324, -123456.789},
                        {-0.0, 2.5, 1.0 / 9}};
  state.velocities_nm_per_ps = {
      {1.0 / 11, 0, -3}, {7, 8, 9}, {-1e-8, 0.3, 0.7}};
  state.box_vectors_nm = {Vec3{3.1, 0, 0}, Vec3{0.5, 3.2, 0},
                          Vec3{0.1, 0.2, 1.0 / 3}};
  state.parameters = {{"K", 1.0 / 13}};
  state.time_ps = 1234.5678901234567;
  ASSERT_OK_AND_ASSIGN(
      std::shared_ptr<const Model> model,
      Model::Load(ToXml(WellSystem(kMasses)), state.ToStateXml(), ""));
  const PortableState& read = model->initial_state();
  EXPECT_TRUE(model->has_initial_velocities());
  for (size_t i = 0; i < state.positions_nm.size(); ++i) {
    for (int d = 0; d < 3; ++d) {
      EXPECT_EQ(Bits(read.positions_nm[i][d]), Bits(state.positions_nm[i][d]));
      EXPECT_EQ(Bits(read.velocities_nm_per_ps[i][d]),
                Bits(state.velocities_nm_per_ps[i][d]));
    }
  }
  for (int v = 0; v < 3; ++v) {
    for (int d = 0; d < 3; ++d) {
      EXPECT_EQ(Bits(read.box_vectors_nm[v][d]),
                Bits(state.box_vectors_nm[v][d]));
    }
  }
  EXPECT_EQ(Bits(read.parameters.at("K")), Bits(1.0 / 13));
  EXPECT_EQ(Bits(read.time_ps), Bits(state.time_ps));
}

TEST(PortableStateTest, RoundTripIsBitExact) {
  const PortableState state = OddState();
  const std::string bytes = state.Serialize();
  ASSERT_OK_AND_ASSIGN(PortableState decoded,
                       PortableState::Deserialize(bytes));
  EXPECT_EQ(decoded.Serialize(), bytes);
  for (size_t i = 0; i < state.positions_nm.size(); ++i) {
    for (int d = 0; d < 3; ++d) {
      EXPECT_EQ(Bits(decoded.positions_nm[i][d]),
                Bits(state.positions_nm[i][d]));
      EXPECT_EQ(Bits(decoded.velocities_nm_per_ps[i][d]),
                Bits(state.velocities_nm_per_ps[i][d]));
      EXPECT_EQ(Bits(decoded.box_vectors_nm[i][d]),
                Bits(state.box_vectors_nm[i][d]));
    }
  }
  ASSERT_EQ(decoded.parameters.size(), state.parameters.size());
  EXPECT_EQ(Bits(decoded.parameters.at("K")), Bits(-0.0));
  EXPECT_EQ(decoded.parameters.at("lambda"), 0.1);
  EXPECT_EQ(Bits(decoded.time_ps), Bits(1e-300));

  ASSERT_OK_AND_ASSIGN(PortableState empty,
                       PortableState::Deserialize(PortableState().Serialize()));
  EXPECT_TRUE(empty.positions_nm.empty());
}

TEST(PortableStateTest, EncodingIsLittleEndianWithAMagicHeader) {
  PortableState state;
  state.time_ps = 1.0;  // 0x3ff0000000000000
  const std::string bytes = state.Serialize();
  EXPECT_EQ(bytes.substr(0, 8), std::string("RPXS\x01\x00\x00\x00", 8));
  // magic, version, 0 positions, 0 velocities, 9 box doubles, then time.
  EXPECT_EQ(bytes.substr(8 + 8 + 8 + 72, 8),
            std::string("\x00\x00\x00\x00\x00\x00\xf0\x3f", 8));
}

TEST(PortableStateTest, RejectsEveryTruncation) {
  const std::string bytes = OddState().Serialize();
  for (size_t size = 0; size < bytes.size(); ++size) {
    EXPECT_EQ(PortableState::Deserialize(bytes.substr(0, size)).status().code(),
              absl::StatusCode::kInvalidArgument)
        << "prefix of " << size << " bytes";
  }
}

TEST(PortableStateTest, RejectsCorruptInput) {
  const std::string good = OddState().Serialize();
  std::string bad_magic = good;
  bad_magic[0] = 'X';
  std::string bad_version = good;
  bad_version[4] = 2;
  std::string huge_count = good;
  huge_count.replace(8, 8, std::string(8, '\xff'));
  std::string trailing = good + '\0';
  for (const std::string* bytes :
       {&bad_magic, &bad_version, &huge_count, &trailing}) {
    const absl::Status status = PortableState::Deserialize(*bytes).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(MessageOf(status), StartsWith("portable state: "));
  }
}

}  // namespace
}  // namespace replex::engine
