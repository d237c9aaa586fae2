#include "lib/exchange/ladder.h"

#include <cmath>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace replex::exchange {
namespace {

using ::testing::HasSubstr;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

TEST(LadderTest, TemperatureLadderHasBetasAndIsTemperatureOnly) {
  absl::StatusOr<Ladder> ladder =
      Ladder::Create({}, {Rung{300, {}}, Rung{350, {}}, Rung{400, {}}});
  ASSERT_TRUE(ladder.ok()) << ladder.status();
  EXPECT_EQ(ladder->size(), 3);
  EXPECT_TRUE(ladder->temperature_only());
  EXPECT_EQ(ladder->rung(1).temperature_k, 350);
  for (int k = 0; k < 3; ++k) {
    EXPECT_DOUBLE_EQ(ladder->beta(k), 1 / (kMolarGasConstantKJPerMolK *
                                           ladder->rung(k).temperature_k));
  }
  // 1/(RT) at 300 K is the familiar ~0.4009 mol/kJ.
  EXPECT_NEAR(ladder->beta(0), 0.40090, 1e-5);
}

TEST(LadderTest, SingleRungIsValid) {
  absl::StatusOr<Ladder> ladder = Ladder::Create({}, {Rung{300, {}}});
  ASSERT_TRUE(ladder.ok()) << ladder.status();
  EXPECT_EQ(ladder->size(), 1);
}

TEST(LadderTest, DifferingParametersMakeAHamiltonianLadder) {
  // Equal temperatures are fine when a parameter tells the rungs apart.
  absl::StatusOr<Ladder> ladder = Ladder::Create(
      {"lambda", "scale"},
      {Rung{300, {0, 1}}, Rung{300, {0.5, 1}}, Rung{310, {1, 1}}});
  ASSERT_TRUE(ladder.ok()) << ladder.status();
  EXPECT_FALSE(ladder->temperature_only());
  EXPECT_EQ(ladder->parameter_names(),
            (std::vector<std::string>{"lambda", "scale"}));
}

TEST(LadderTest, ConstantParametersKeepTheLadderTemperatureOnly) {
  absl::StatusOr<Ladder> ladder =
      Ladder::Create({"lambda"}, {Rung{300, {1}}, Rung{320, {1}}});
  ASSERT_TRUE(ladder.ok()) << ladder.status();
  EXPECT_TRUE(ladder->temperature_only());
}

struct InvalidLadderCase {
  std::string name;
  std::vector<std::string> parameter_names;
  std::vector<Rung> rungs;
  std::string message;  // a part of the error that tells what to fix
};

class InvalidLadderTest : public ::testing::TestWithParam<InvalidLadderCase> {};

TEST_P(InvalidLadderTest, FailsWithAMessageNamingTheProblem) {
  const InvalidLadderCase& c = GetParam();
  absl::StatusOr<Ladder> ladder = Ladder::Create(c.parameter_names, c.rungs);
  ASSERT_FALSE(ladder.ok());
  EXPECT_EQ(ladder.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ladder.status().message(), HasSubstr(c.message));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, InvalidLadderTest,
    ::testing::Values(
        InvalidLadderCase{"NoRungs", {}, {}, "no rungs"},
        InvalidLadderCase{"ZeroTemperature",
                          {},
                          {{300, {}}, {0, {}}},
                          "rung 1: temperature 0"},
        InvalidLadderCase{"NegativeTemperature",
                          {},
                          {{-300, {}}},
                          "rung 0: temperature -300"},
        InvalidLadderCase{"NaNTemperature",
                          {},
                          {{300, {}}, {kNaN, {}}},
                          "rung 1: temperature nan"},
        InvalidLadderCase{
            "InfiniteTemperature", {}, {{kInf, {}}}, "not a positive finite"},
        InvalidLadderCase{"DecreasingTemperature",
                          {},
                          {{300, {}}, {350, {}}, {340, {}}},
                          "rung 2: temperature 340 K is below rung 1"},
        InvalidLadderCase{"TooFewParameterValues",
                          {"lambda", "scale"},
                          {{300, {0, 1}}, {310, {1}}},
                          "rung 1 has 1 parameter values but the ladder "
                          "names 2"},
        InvalidLadderCase{"ParameterValueWithoutName",
                          {},
                          {{300, {0.5}}},
                          "rung 0 has 1 parameter values but the ladder "
                          "names 0"},
        InvalidLadderCase{"NaNParameter",
                          {"lambda"},
                          {{300, {0}}, {300, {kNaN}}},
                          "rung 1: parameter 'lambda' is nan"},
        InvalidLadderCase{"DuplicateName",
                          {"lambda", "lambda"},
                          {{300, {0, 0}}},
                          "'lambda' is given twice"},
        InvalidLadderCase{"EmptyName", {""}, {{300, {0}}}, "empty name"},
        InvalidLadderCase{"IdenticalConsecutiveRungs",
                          {"lambda"},
                          {{300, {0}}, {310, {1}}, {310, {1}}},
                          "rungs 1 and 2 are identical"}),
    [](const ::testing::TestParamInfo<InvalidLadderCase>& info) {
      return info.param.name;
    });

TEST(LadderTest, GeometricHasExactEndpointsAndConstantRatio) {
  const std::vector<double> t = Ladder::Geometric(300, 600, 8);
  ASSERT_EQ(t.size(), 8u);
  EXPECT_EQ(t.front(), 300);
  EXPECT_EQ(t.back(), 600);  // exact, not pow's rounding
  const double ratio = std::pow(2.0, 1.0 / 7);
  for (size_t k = 1; k < t.size(); ++k) {
    EXPECT_NEAR(t[k] / t[k - 1], ratio, 1e-13) << "k = " << k;
  }
}

TEST(LadderTest, LinearHasExactEndpointsAndConstantSpacing) {
  const std::vector<double> lambda = Ladder::Linear(0, 1, 5);
  EXPECT_EQ(lambda, (std::vector<double>{0, 0.25, 0.5, 0.75, 1}));
  const std::vector<double> down = Ladder::Linear(1, 0.1, 4);
  ASSERT_EQ(down.size(), 4u);
  EXPECT_EQ(down.back(), 0.1);
  for (size_t k = 1; k < down.size(); ++k) {
    EXPECT_NEAR(down[k - 1] - down[k], 0.3, 1e-15);
  }
}

TEST(LadderTest, GeneratorsWithOneOrNoValues) {
  EXPECT_EQ(Ladder::Geometric(300, 600, 1), std::vector<double>{300});
  EXPECT_EQ(Ladder::Linear(0, 1, 1), std::vector<double>{0});
  EXPECT_TRUE(Ladder::Geometric(300, 600, 0).empty());
  EXPECT_TRUE(Ladder::Linear(0, 1, -2).empty());
}

TEST(LadderTest, GeometricTemperaturesMakeAValidLadder) {
  std::vector<Rung> rungs;
  for (double t : Ladder::Geometric(280, 450, 16)) rungs.push_back({t, {}});
  absl::StatusOr<Ladder> ladder = Ladder::Create({}, rungs);
  ASSERT_TRUE(ladder.ok()) << ladder.status();
  EXPECT_EQ(ladder->size(), 16);
}

TEST(LadderTest, AnOrdinaryLadderHasOneAxisAndPairsKAndKPlusOne) {
  absl::StatusOr<Ladder> ladder =
      Ladder::Create({}, {Rung{300, {}}, Rung{350, {}}, Rung{400, {}}});
  ASSERT_TRUE(ladder.ok()) << ladder.status();
  EXPECT_EQ(ladder->shape(), std::vector<int>{3});
  ASSERT_EQ(ladder->pairs().size(), 2u);
  for (int k = 0; k < 2; ++k) {
    EXPECT_EQ(ladder->pairs()[k].lower, k);
    EXPECT_EQ(ladder->pairs()[k].upper, k + 1);
    EXPECT_EQ(ladder->PairIndex(k + 1, k), k);
  }
  EXPECT_EQ(ladder->PairIndex(0, 2), -1);
  EXPECT_EQ(ladder->PairIndex(2, 3), -1);  // no rung 3
}

// 2 temperatures x 3 lambdas, rung = 3 t + l.
std::vector<Rung> GridRungs() {
  std::vector<Rung> rungs;
  for (double t : {300.0, 330.0}) {
    for (double l : {0.0, 0.5, 1.0}) rungs.push_back(Rung{t, {l}});
  }
  return rungs;
}

TEST(LadderTest, AGridPairsNeighboursAlongEachAxis) {
  absl::StatusOr<Ladder> ladder =
      Ladder::Create({"lambda"}, GridRungs(), {2, 3});
  ASSERT_TRUE(ladder.ok()) << ladder.status();
  EXPECT_EQ(ladder->axes(), 2);
  EXPECT_EQ(ladder->Stride(0), 3);
  EXPECT_EQ(ladder->Stride(1), 1);
  EXPECT_EQ(ladder->Coordinate(5, 0), 1);
  EXPECT_EQ(ladder->Coordinate(5, 1), 2);
  std::vector<std::vector<int>> pairs;
  for (const Ladder::Pair& pair : ladder->pairs()) {
    pairs.push_back({pair.lower, pair.upper, pair.axis});
  }
  // Temperature pairs first, then lambda pairs, each by lower rung.
  EXPECT_EQ(pairs, (std::vector<std::vector<int>>{{0, 3, 0},
                                                  {1, 4, 0},
                                                  {2, 5, 0},
                                                  {0, 1, 1},
                                                  {1, 2, 1},
                                                  {3, 4, 1},
                                                  {4, 5, 1}}));
  for (size_t p = 0; p < ladder->pairs().size(); ++p) {
    EXPECT_EQ(
        ladder->PairIndex(ladder->pairs()[p].upper, ladder->pairs()[p].lower),
        static_cast<int>(p));
  }
  EXPECT_EQ(ladder->PairIndex(2, 3), -1);  // adjacent indices, not neighbours
  EXPECT_EQ(ladder->PairIndex(0, 4), -1);
}

TEST(LadderTest, AGridChecksItsShapeAndEachAxis) {
  absl::StatusOr<Ladder> ladder =
      Ladder::Create({"lambda"}, GridRungs(), {2, 2});
  EXPECT_THAT(ladder.status().message(),
              HasSubstr("grid shape 2 x 2 does not hold the ladder's 6 rungs"));
  ladder = Ladder::Create({"lambda"}, GridRungs(), {0, 6});
  EXPECT_THAT(ladder.status().message(), HasSubstr("at least one rung"));

  // Temperature falls along axis 0: rungs 0-2 at 330 K, 3-5 at 300 K.
  std::vector<Rung> rungs = GridRungs();
  for (int l = 0; l < 3; ++l) std::swap(rungs[l], rungs[3 + l]);
  ladder = Ladder::Create({"lambda"}, rungs, {2, 3});
  EXPECT_THAT(ladder.status().message(),
              HasSubstr("rung 3: temperature 300 K is below rung 0's 330 K: "
                        "list rungs in increasing temperature along axis 0"));
  rungs = GridRungs();
  rungs[2].parameters = {0.5};
  ladder = Ladder::Create({"lambda"}, rungs, {2, 3});
  EXPECT_THAT(ladder.status().message(),
              HasSubstr("rungs 1 and 2 are identical along axis 1"));
}

}  // namespace
}  // namespace replex::exchange
