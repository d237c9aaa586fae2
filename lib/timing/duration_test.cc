#include "lib/timing/duration.h"

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace replex::timing {
namespace {

TEST(FormatDurationTest, PicksTheUnitsThatMatter) {
  const std::vector<std::pair<double, std::string>> cases = {
      {0, "0.0s"},     {4.24, "4.2s"},
      {9.96, "10.0s"}, {42.4, "42s"},
      {185, "3m05s"},  {3600, "1h00m"},
      {7620, "2h07m"}, {86400 + 4 * 3600, "1d04h"},
      {-1, "-"},       {std::nan(""), "-"},
      {INFINITY, "-"},
  };
  for (const auto& [seconds, text] : cases) {
    EXPECT_EQ(FormatDuration(seconds), text) << seconds;
  }
}

}  // namespace
}  // namespace replex::timing
