#!/usr/bin/env bash
# Prints, one a line, the Debian packages that provide the shared libraries
# the given binaries load, so a runtime image installs exactly those (and
# picks up a new library without an edit here). OpenMM's platform plugins are
# dlopen()ed, not linked, so libopenmm-plugins is always added.
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: $0 BINARY..." >&2; exit 2; }
{
  for binary in "$@"; do
    ldd "$binary" | awk '$2 == "=>" && $3 ~ /^\// {print $3}'
  done | sort -u | while read -r lib; do
    # Debian 12 has merged /usr: ldd may name /lib/... where dpkg knows /usr/lib/...
    dpkg -S "$lib" 2>/dev/null || dpkg -S "/usr$lib" 2>/dev/null ||
      dpkg -S "$(readlink -f "$lib")" 2>/dev/null ||
      { echo "runtime-packages: no package provides $lib" >&2; exit 1; }
  done | cut -d: -f1
  echo libopenmm-plugins
} | sort -u
