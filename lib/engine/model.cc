// Model loading: a System from XmlSerializer output, checked for forces the
// engine cannot honour, and its starting coordinates from State XML or PDB.
#include <OpenMM.h>

#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "lib/engine/engine.h"
#include "lib/engine/openmm_util.h"
#include "lib/engine/pdb.h"
#include "lib/xml/xml.h"

namespace replex::engine {
namespace {

// Checks `xml` before OpenMM sees it: irrXML crashes on malformed documents
// (lib/xml), and XmlSerializer picks the class to build from the root's
// `type` attribute while deserialize<T>() casts the result to T unchecked.
template <typename T>
absl::StatusOr<std::unique_ptr<T>> DeserializeXml(absl::string_view input_name,
                                                  absl::string_view type,
                                                  absl::string_view xml) {
  absl::StatusOr<xml::Root> root = xml::CheckDocument(xml);
  if (!root.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        input_name, ": not well-formed XML: ", root.status().message()));
  }
  const auto root_type = root->attributes.find("type");
  if (root_type == root->attributes.end() || root_type->second != type) {
    return absl::InvalidArgumentError(absl::StrCat(
        input_name, ": expected OpenMM XmlSerializer output for a ", type,
        " (root element with type=\"", type, "\"), found ",
        root_type == root->attributes.end()
            ? absl::StrCat("<", root->name, "> without a type")
            : absl::StrCat("type=\"", root_type->second, "\"")));
  }
  return Guarded(
      absl::StatusCode::kInvalidArgument, input_name,
      [&]() -> absl::StatusOr<std::unique_ptr<T>> {
        std::istringstream in{std::string(xml)};
        return std::unique_ptr<T>(OpenMM::XmlSerializer::deserialize<T>(in));
      });
}

// Forces the engine cannot honour, and the System's barostat. Andersen: the
// engine thermostats with its Langevin integrator (and the Reference
// generator it uses is unguarded). Barostats: exchange needs one scalar
// pressure per rung, and the reduced potential of the ensemble the barostat
// samples, u = beta (U + p V - gamma A).
absl::StatusOr<std::optional<Barostat>> CheckForces(
    const OpenMM::System& system) {
  std::optional<Barostat> barostat;
  for (int i = 0; i < system.getNumForces(); ++i) {
    const OpenMM::Force* force = &system.getForce(i);
    if (dynamic_cast<const OpenMM::AndersenThermostat*>(force)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "system_xml: force ", i,
          " is an AndersenThermostat; the engine thermostats with a Langevin "
          "integrator at each rung's temperature: remove the thermostat"));
    }
    std::optional<Barostat> found;
    if (auto* b = dynamic_cast<const OpenMM::MonteCarloBarostat*>(force)) {
      found = Barostat{Barostat::Kind::kIsotropic, b->getDefaultPressure(), 0,
                       b->getFrequency()};
    } else if (auto* b =
                   dynamic_cast<const OpenMM::MonteCarloFlexibleBarostat*>(
                       force)) {
      found = Barostat{Barostat::Kind::kFlexible, b->getDefaultPressure(), 0,
                       b->getFrequency()};
    } else if (auto* b =
                   dynamic_cast<const OpenMM::MonteCarloMembraneBarostat*>(
                       force)) {
      found = Barostat{Barostat::Kind::kMembrane, b->getDefaultPressure(),
                       b->getDefaultSurfaceTension(), b->getFrequency()};
    } else if (auto* b =
                   dynamic_cast<const OpenMM::MonteCarloAnisotropicBarostat*>(
                       force)) {
      const OpenMM::Vec3& p = b->getDefaultPressure();
      if (p[0] != p[1] || p[1] != p[2]) {
        return absl::InvalidArgumentError(absl::StrCat(
            "system_xml: force ", i,
            " is an anisotropic barostat with pressures ", p[0], ", ", p[1],
            ", ", p[2],
            " bar; replica exchange needs one pressure per rung: give the "
            "three axes the same pressure, or use a MonteCarloBarostat"));
      }
      found =
          Barostat{Barostat::Kind::kAnisotropic, p[0], 0, b->getFrequency()};
    }
    if (!found.has_value()) continue;
    if (barostat.has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat("system_xml: force ", i,
                       " is a second barostat; keep one Monte Carlo barostat"));
    }
    if (!system.usesPeriodicBoundaryConditions()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "system_xml: force ", i,
          " is a barostat, but the System has no periodic boundaries (no "
          "force uses them): NPT needs a periodic box, e.g. PME for the "
          "nonbonded force"));
    }
    barostat = found;
  }
  return barostat;
}

// One set of starting coordinates, checked against the System. `where`
// prefixes the input's name in errors ("replica_starts[3]: ").
absl::StatusOr<Start> ParseStart(const OpenMM::System& system,
                                 absl::string_view where,
                                 const Coordinates& coordinates) {
  const absl::string_view state_xml = coordinates.state_xml;
  const absl::string_view pdb = coordinates.pdb;
  if (state_xml.empty() == pdb.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, "give the starting coordinates as exactly one of state_xml or "
        "pdb (", pdb.empty() ? "neither" : "both", " given)"));
  }
  Start start;
  PortableState& initial = start.state;
  std::string source;
  if (!state_xml.empty()) {
    source = absl::StrCat(where, "state_xml");
    absl::StatusOr<std::unique_ptr<OpenMM::State>> state =
        DeserializeXml<OpenMM::State>(source, "State", state_xml);
    if (!state.ok()) return state.status();
    const OpenMM::State& s = **state;
    const int types = s.getDataTypes();
    if (!(types & OpenMM::State::Positions)) {
      return absl::InvalidArgumentError(absl::StrCat(
          source,
          ": the State has no positions; serialize it with "
          "getState(State::Positions | State::Velocities)"));
    }
    initial.positions_nm = FromOpenMM(s.getPositions());
    if (types & OpenMM::State::Velocities) {
      initial.velocities_nm_per_ps = FromOpenMM(s.getVelocities());
      start.has_velocities = true;
    }
    if (types & OpenMM::State::Parameters)
      initial.parameters = s.getParameters();
    initial.box_vectors_nm = BoxOf(s);
    initial.time_ps = s.getTime();
  } else {
    source = absl::StrCat(where, "pdb");
    absl::StatusOr<PdbCoordinates> parsed = ParsePdb(pdb);
    if (!parsed.ok()) {
      return absl::Status(parsed.status().code(),
                          absl::StrCat(where, parsed.status().message()));
    }
    initial.positions_nm = std::move(parsed->positions_nm);
    if (parsed->box_nm) {
      initial.box_vectors_nm = *parsed->box_nm;
    } else {
      OpenMM::Vec3 a, b, c;
      system.getDefaultPeriodicBoxVectors(a, b, c);
      initial.box_vectors_nm = {FromOpenMM(a), FromOpenMM(b), FromOpenMM(c)};
    }
  }

  const int n = system.getNumParticles();
  if (static_cast<int>(initial.positions_nm.size()) != n) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": has ", initial.positions_nm.size(),
        " particle positions but the System has ", n,
        " particles; the coordinates must match the System one to one"));
  }
  if (int i = FirstNonFinite(initial.positions_nm); i >= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": the position of particle ", i, " is not finite"));
  }
  if (int i = FirstNonFinite(initial.velocities_nm_per_ps); i >= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": the velocity of particle ", i, " is not finite"));
  }
  for (const Vec3& v : initial.box_vectors_nm) {
    if (!IsFinite(v)) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": the periodic box vectors are not finite"));
    }
  }
  return start;
}

}  // namespace

Model::Model() = default;
Model::~Model() = default;

int Model::num_particles() const { return system_->getNumParticles(); }

absl::StatusOr<std::shared_ptr<const Model>> Model::Load(
    absl::string_view system_xml, absl::string_view state_xml,
    absl::string_view pdb, const std::vector<Coordinates>& replica_starts) {
  std::shared_ptr<Model> model(new Model());
  absl::StatusOr<std::unique_ptr<OpenMM::System>> system =
      DeserializeXml<OpenMM::System>("system_xml", "System", system_xml);
  if (!system.ok()) return system.status();
  model->system_ = *std::move(system);
  absl::StatusOr<std::optional<Barostat>> barostat =
      CheckForces(*model->system_);
  if (!barostat.ok()) return barostat.status();
  model->barostat_ = *barostat;
  model->periodic_ = model->system_->usesPeriodicBoundaryConditions();

  absl::StatusOr<Start> initial =
      ParseStart(*model->system_, "", Coordinates{state_xml, pdb});
  if (!initial.ok()) return initial.status();
  model->initial_ = *std::move(initial);
  for (size_t i = 0; i < replica_starts.size(); ++i) {
    absl::StatusOr<Start> start = ParseStart(
        *model->system_, absl::StrCat("replica_starts[", i, "]: "),
        replica_starts[i]);
    if (!start.ok()) return start.status();
    model->replica_starts_.push_back(*std::move(start));
  }
  return std::shared_ptr<const Model>(std::move(model));
}

const Start& Model::start(int replica) const {
  if (replica_starts_.empty()) return initial_;
  return replica_starts_.at(replica);
}

}  // namespace replex::engine
