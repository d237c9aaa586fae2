// Debian's libopenmm-dev ships openmm/reference/SimTKOpenMMUtilities.h but not
// the sfmt/SFMT.h it includes. The engine only calls that class's static
// functions, for which the generator's type may stay incomplete, so a forward
// declaration is enough. An installed real SFMT.h (next to the including
// header) is found before this one.
#pragma once

namespace OpenMM_SFMT {
class SFMT;
}  // namespace OpenMM_SFMT
