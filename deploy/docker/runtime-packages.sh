#!/usr/bin/env bash
# Prints, one a line, the Debian packages that provide the shared libraries
# the given binaries load, so a runtime image installs exactly those (and
# picks up a new library without an edit here). OpenMM's platform plugins are
# dlopen()ed, not linked, so libopenmm-plugins is always added.
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: $0 BINARY..." >&2; exit 2; }
# Per library, the names dpkg may know it by: Debian 12 has merged /usr, so
# ldd may name /lib/... where dpkg knows /usr/lib/..., or a symlink where
# dpkg knows its target.
candidates=$(for binary in "$@"; do
  ldd "$binary" | awk '$2 == "=>" && $3 ~ /^\// {print $3}'
done | sort -u | while read -r lib; do echo "$lib /usr$lib $(readlink -f "$lib")"; done)
# One dpkg -S for all of them: one per name takes minutes.
owners=$(tr ' ' '\n' <<<"$candidates" | sort -u | xargs dpkg -S 2>/dev/null |
  grep -v '^diversion' || true)
{
  awk 'NR == FNR { split($0, f, ": "); owner[f[2]] = f[1]; next }
    { p = ""; for (i = 1; i <= NF && p == ""; i++) p = owner[$i]
      if (p == "") { print "runtime-packages: no package provides " $1 > "/dev/stderr"; bad = 1 }
      else { sub(/:.*/, "", p); print p } }
    END { exit bad }' <(echo "$owners") <(echo "$candidates")
  echo libopenmm-plugins
} | sort -u
