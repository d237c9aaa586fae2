# Finds OpenMM's C++ library, which ships no CMake config file.
# Defines OpenMM::OpenMM and OpenMM_PLUGIN_DIR (informational; the engine asks
# OpenMM itself for its default plugin directory at run time).
find_path(OpenMM_INCLUDE_DIR OpenMM.h PATH_SUFFIXES openmm)
find_library(OpenMM_LIBRARY NAMES OpenMM)
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(OpenMM REQUIRED_VARS OpenMM_LIBRARY OpenMM_INCLUDE_DIR)
if(OpenMM_FOUND AND NOT TARGET OpenMM::OpenMM)
  add_library(OpenMM::OpenMM UNKNOWN IMPORTED)
  set_target_properties(OpenMM::OpenMM PROPERTIES
    IMPORTED_LOCATION "${OpenMM_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${OpenMM_INCLUDE_DIR}")
endif()
mark_as_advanced(OpenMM_INCLUDE_DIR OpenMM_LIBRARY)
