#!/usr/bin/env bash
# Builds images without a registry, as root, from a debootstrap'ed Debian 12
# (cached in $REPLEX_ROOTFS_CACHE, default /var/cache/replex-rootfs) with
# packages added by apt inside it, imported with `docker import`:
#   deploy/docker/offline-image.sh BUILD_DIR IMAGE:TAG
#     replex: the runtime packages of already built binaries, the binaries,
#     the CPU PME plugin (from $REPLEX_OPENMM_PLUGIN_DIR, default
#     /usr/local/lib/replex/openmm-plugins: tools/build-openmm-plugins.sh),
#     the entrypoint and the examples; the same runtime as
#     deploy/docker/Dockerfile's `cpu` target, for machines where `docker
#     build` cannot pull debian:bookworm-slim.
#   deploy/docker/offline-image.sh --prometheus IMAGE:TAG
#     Prometheus from Debian's `prometheus` package (2.42), for the compose
#     stack's PROMETHEUS_IMAGE where prom/prometheus cannot be pulled. It runs
#     as the `prometheus` user, takes the same flags as prom/prometheus and
#     has wget for the compose health check.
#   deploy/docker/offline-image.sh --base IMAGE:TAG
#     The plain Debian 12, e.g. as debian:bookworm-slim, the Dockerfile's
#     base: `docker build` then needs no registry, only a Debian mirror.
set -euo pipefail
usage() {
  echo "usage: $0 BUILD_DIR IMAGE:TAG | $0 --prometheus|--base IMAGE:TAG" >&2
  exit 2
}
[ $# -eq 2 ] || usage
root=$(cd "$(dirname "$0")/../.." && pwd)
cache=${REPLEX_ROOTFS_CACHE:-/var/cache/replex-rootfs}
mirror=${REPLEX_DEBIAN_MIRROR:-http://deb.debian.org/debian}

# Prints the directory of a cached Debian 12 with PACKAGES installed and
# SETUP run inside it (both part of the cache key), building it if needed.
rootfs() {
  local packages=$1 setup=$2
  mkdir -p "$cache"
  if [ ! -d "$cache/bookworm" ]; then
    debootstrap --variant=minbase bookworm "$cache/bookworm.tmp" "$mirror" >&2
    mv "$cache/bookworm.tmp" "$cache/bookworm"
  fi
  local dir=$cache/runtime-$(echo "$packages|$setup" | sha256sum | cut -c1-12)
  if [ ! -d "$dir" ]; then
    rm -rf "$dir.tmp"
    cp -a "$cache/bookworm" "$dir.tmp"
    cp /etc/resolv.conf "$dir.tmp/etc/resolv.conf"
    chroot "$dir.tmp" sh -c "apt-get update -q && DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -q --no-install-recommends $packages && apt-get clean && \
      rm -rf /var/lib/apt/lists/* && $setup" >&2
    mv "$dir.tmp" "$dir"
  fi
  echo "$dir"
}

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
if [ "$1" = --base ]; then
  image=$2
  cp -a "$(rootfs "" true)/." "$stage/"
  changes=(--change 'CMD ["bash"]')
elif [ "$1" = --prometheus ]; then
  image=$2
  # The package's postinst makes the prometheus user; /prometheus is the
  # data volume's mount point, owned by it so a new volume is too.
  runtime=$(rootfs "prometheus wget" \
    "install -d -o prometheus -g prometheus /prometheus /etc/prometheus")
  cp -a "$runtime/." "$stage/"
  changes=(--change 'USER prometheus' --change 'WORKDIR /prometheus'
    --change 'ENTRYPOINT ["/usr/bin/prometheus"]'
    --change 'CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]')
else
  build=$1 image=$2
  bins=("$build/cli/replex" "$build/cli/replexctl" "$build/coordinator/replex-coordinator"
        "$build/gateway/replex-gateway" "$build/replica-worker/replex-worker")
  # Only the CPU PME plugin: a CUDA platform built here needs this
  # machine's CUDA toolkit, which the image does not have.
  pme=${REPLEX_OPENMM_PLUGIN_DIR:-/usr/local/lib/replex/openmm-plugins}/libOpenMMPME.so
  [ -f "$pme" ] || {
    echo "$0: no $pme: build it first (tools/build-openmm-plugins.sh)" >&2
    exit 1
  }
  packages=$("$root/deploy/docker/runtime-packages.sh" "${bins[@]}" "$pme" | tr '\n' ' ')
  runtime=$(rootfs "$packages" "useradd --system --uid 10001 --user-group \
    --home-dir /var/lib/replex --create-home --shell /usr/sbin/nologin replex")
  cp -a "$runtime/." "$stage/"
  install -m 755 "${bins[@]}" "$stage/usr/local/bin/"
  strip --strip-debug "$stage"/usr/local/bin/replex*
  install -D -m 644 "$pme" "$stage/usr/local/lib/replex/openmm-plugins/libOpenMMPME.so"
  install -m 755 "$root/deploy/docker/entrypoint.sh" "$stage/usr/local/bin/replex-entrypoint"
  mkdir -p "$stage/opt/replex" && cp -r "$root/examples" "$stage/opt/replex/"
  changes=(--change 'USER 10001:10001' --change 'WORKDIR /var/lib/replex'
    --change 'ENTRYPOINT ["/usr/local/bin/replex-entrypoint"]'
    --change 'CMD ["replexctl", "--help"]')
fi
tar -C "$stage" -c . | docker import "${changes[@]}" \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  - "$image"
