// Tests for the engine's OpenMM-free formats, linked without OpenMM: the PDB
// reader called directly (the codec's tests are in engine_test.cc, next to
// the replicas whose states it carries).
#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/engine/pdb.h"

namespace replex::engine {
namespace {

using ::testing::DoubleEq;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// gmock's string matchers take std::string, not Debian absl's string_view.
std::string MessageOf(const absl::Status& status) {
  return std::string(status.message());
}

testing::Matcher<Vec3> Near(double x, double y, double z) {
  return ElementsAre(DoubleEq(x), DoubleEq(y), DoubleEq(z));
}

TEST(ParsePdbTest, ReadsAtomsInNanometresAndTheCryst1Box) {
  const absl::StatusOr<PdbCoordinates> pdb = ParsePdb(
      "CRYST1   20.000   30.000   40.000  90.00  90.00  90.00 P 1           1\n"
      "ATOM      1  C   UNK A   1       1.000   2.000  -1.500  1.00  0.00\n"
      "HETATM    2  O   HOH A   2      -0.500  10.250   3.000  1.00  0.00\n"
      "END\n");
  ASSERT_TRUE(pdb.ok()) << pdb.status();
  EXPECT_THAT(pdb->positions_nm,
              ElementsAre(Near(0.1, 0.2, -0.15), Near(-0.05, 1.025, 0.3)));
  ASSERT_TRUE(pdb->box_nm.has_value());
  EXPECT_THAT(*pdb->box_nm,
              ElementsAre(Near(2, 0, 0), Near(0, 3, 0), Near(0, 0, 4)));
}

TEST(ParsePdbTest, ReadsOnlyTheFirstModelAndAcceptsCrlf) {
  const absl::StatusOr<PdbCoordinates> pdb = ParsePdb(
      "MODEL        1\r\n"
      "ATOM      1  C   UNK A   1       1.000   2.000   3.000  1.00  0.00\r\n"
      "ENDMDL\r\n"
      "MODEL        2\r\n"
      "ATOM      1  C   UNK A   1       9.000   9.000   9.000  1.00  0.00\r\n");
  ASSERT_TRUE(pdb.ok()) << pdb.status();
  EXPECT_THAT(pdb->positions_nm, ElementsAre(Near(0.1, 0.2, 0.3)));
  EXPECT_FALSE(pdb->box_nm.has_value());
}

TEST(ParsePdbTest, RejectsABoxLengthThatIsNotPositive) {
  const absl::Status status =
      ParsePdb(
          "CRYST1    0.000   30.000   40.000  90.00  90.00  90.00 P 1      1\n"
          "ATOM      1  C   UNK A   1       1.000   2.000   3.000  1.00  "
          "0.00\n")
          .status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(MessageOf(status), StartsWith("pdb line 1: CRYST1 a is 0 "));
}

TEST(ParsePdbTest, RejectsAFileWithoutAtoms) {
  const absl::Status status = ParsePdb("REMARK nothing here\nEND\n").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(MessageOf(status),
              AllOf(StartsWith("pdb: "), HasSubstr("no ATOM or HETATM")));
}

}  // namespace
// OpenMM's State XML holds parameters as attributes, so a decoded name must
// be an identifier (fuzz/state_fuzzer.cc found one with '<' that made
// ToStateXml write invalid XML).
TEST(PortableStateTest, AParameterNameThatIsNotAnIdentifierIsCorrupt) {
  PortableState state;
  state.positions_nm = {{0, 0, 0}};
  state.parameters = {{"lambda_sterics", 0.5}, {"K.1-a", 2}};
  ASSERT_TRUE(PortableState::Deserialize(state.Serialize()).ok());
  for (const char* name : {"K<!", "", "1x", "a b", "a\"b"}) {
    state.parameters = {{name, 1.0}};
    absl::StatusOr<PortableState> decoded =
        PortableState::Deserialize(state.Serialize());
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument)
        << name;
    EXPECT_THAT(decoded.status().message(),
                ::testing::HasSubstr("not an identifier"))
        << name;
  }
}

}  // namespace replex::engine
