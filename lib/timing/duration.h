// Durations as people read them in progress lines, tables and logs.
#pragma once

#include <string>

namespace replex::timing {

// "4.2s" under 10 s, then "42s", "3m05s", "2h07m", "3d04h"; "-" when
// negative or not finite.
std::string FormatDuration(double seconds);

}  // namespace replex::timing
