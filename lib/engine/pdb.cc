// The fixed-column PDB reader: Å in the file, nm out; an orthorhombic CRYST1
// box or none. Errors name the line and the columns.
#include "lib/engine/pdb.h"

#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace replex::engine {
namespace {

// PDB columns (1-based, inclusive) per the wwPDB format.
struct PdbField {
  const char* name;
  size_t first_column;
  size_t last_column;
};

// Reads one fixed-column number from a PDB record.
absl::StatusOr<double> PdbNumber(absl::string_view line, int line_number,
                                 const PdbField& field) {
  absl::string_view text;
  if (line.size() >= field.first_column) {
    text = absl::StripAsciiWhitespace(line.substr(
        field.first_column - 1, field.last_column - field.first_column + 1));
  }
  double value = 0;
  if (text.empty() || !absl::SimpleAtod(text, &value)) {
    return absl::InvalidArgumentError(
        absl::StrCat("pdb line ", line_number, ": ", field.name, " (columns ",
                     field.first_column, "-", field.last_column, ") is '", text,
                     "', not a number"));
  }
  if (!std::isfinite(value)) {
    return absl::InvalidArgumentError(
        absl::StrCat("pdb line ", line_number, ": ", field.name, " is ", text,
                     "; coordinates must be finite"));
  }
  return value;
}

constexpr double kNmPerAngstrom = 0.1;

}  // namespace

absl::StatusOr<PdbCoordinates> ParsePdb(absl::string_view pdb) {
  static constexpr PdbField kXyz[] = {
      {"x", 31, 38}, {"y", 39, 46}, {"z", 47, 54}};
  static constexpr PdbField kCell[] = {
      {"CRYST1 a", 7, 15},     {"CRYST1 b", 16, 24},
      {"CRYST1 c", 25, 33},    {"CRYST1 alpha", 34, 40},
      {"CRYST1 beta", 41, 47}, {"CRYST1 gamma", 48, 54}};
  PdbCoordinates out;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(pdb, '\n')) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const absl::string_view record = line.substr(0, 6);
    if (record == "ENDMDL" ||
        absl::StripTrailingAsciiWhitespace(record) == "END") {
      break;  // only the first model is the starting structure
    }
    if (record == "ATOM  " || record == "HETATM") {
      Vec3 position{};
      for (int d = 0; d < 3; ++d) {
        absl::StatusOr<double> value = PdbNumber(line, line_number, kXyz[d]);
        if (!value.ok()) return value.status();
        position[d] = *value * kNmPerAngstrom;
      }
      out.positions_nm.push_back(position);
    } else if (record == "CRYST1") {
      double cell[6];
      for (int i = 0; i < 6; ++i) {
        absl::StatusOr<double> value = PdbNumber(line, line_number, kCell[i]);
        if (!value.ok()) return value.status();
        cell[i] = *value;
      }
      for (int i = 0; i < 3; ++i) {
        if (cell[i] <= 0) {
          return absl::InvalidArgumentError(absl::StrCat(
              "pdb line ", line_number, ": ", kCell[i].name, " is ", cell[i],
              " Å; box lengths must be positive"));
        }
      }
      // Angles are printed with two decimals.
      for (int i = 3; i < 6; ++i) {
        if (std::abs(cell[i] - 90) > 0.005) {
          return absl::InvalidArgumentError(absl::StrCat(
              "pdb line ", line_number, ": CRYST1 angles are ", cell[3], ", ",
              cell[4], ", ", cell[5],
              " degrees; only orthorhombic boxes (all 90) are read from PDB: "
              "give the starting coordinates as State XML instead"));
        }
      }
      out.box_nm = std::array<Vec3, 3>{Vec3{cell[0] * kNmPerAngstrom, 0, 0},
                                       Vec3{0, cell[1] * kNmPerAngstrom, 0},
                                       Vec3{0, 0, cell[2] * kNmPerAngstrom}};
    }
  }
  if (out.positions_nm.empty()) {
    return absl::InvalidArgumentError(
        "pdb: no ATOM or HETATM records; give one per particle of the System");
  }
  return out;
}

}  // namespace replex::engine
