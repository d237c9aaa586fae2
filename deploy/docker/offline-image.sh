#!/usr/bin/env bash
# Builds replex:TAG-cpu without a registry, as root: a debootstrap'ed Debian
# 12 (cached in $REPLEX_ROOTFS_CACHE, default /var/cache/replex-rootfs) plus
# the runtime packages of already built binaries, the binaries, the
# entrypoint and the examples, imported with `docker import`. The same
# runtime as deploy/docker/Dockerfile's `cpu` target, for machines where
# `docker build` cannot pull debian:bookworm-slim.
#   deploy/docker/offline-image.sh BUILD_DIR IMAGE:TAG
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 BUILD_DIR IMAGE:TAG" >&2; exit 2; }
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$1 image=$2
cache=${REPLEX_ROOTFS_CACHE:-/var/cache/replex-rootfs}
mirror=${REPLEX_DEBIAN_MIRROR:-http://deb.debian.org/debian}
bins=("$build/cli/replex" "$build/cli/replexctl" "$build/coordinator/replex-coordinator"
      "$build/gateway/replex-gateway" "$build/replica-worker/replex-worker")

mkdir -p "$cache"
if [ ! -d "$cache/bookworm" ]; then
  debootstrap --variant=minbase bookworm "$cache/bookworm.tmp" "$mirror"
  mv "$cache/bookworm.tmp" "$cache/bookworm"
fi
packages=$("$root/deploy/docker/runtime-packages.sh" "${bins[@]}" | tr '\n' ' ')
key=$(echo "$packages" | sha256sum | cut -c1-12)
runtime=$cache/runtime-$key
if [ ! -d "$runtime" ]; then
  rm -rf "$runtime.tmp"
  cp -a "$cache/bookworm" "$runtime.tmp"
  cp /etc/resolv.conf "$runtime.tmp/etc/resolv.conf"
  chroot "$runtime.tmp" sh -c "apt-get update -q && DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends $packages && apt-get clean && \
    rm -rf /var/lib/apt/lists/* && useradd --system --uid 10001 --user-group \
    --home-dir /var/lib/replex --create-home --shell /usr/sbin/nologin replex"
  mv "$runtime.tmp" "$runtime"
fi
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cp -a "$runtime/." "$stage/"
install -m 755 "${bins[@]}" "$stage/usr/local/bin/"
strip --strip-debug "$stage"/usr/local/bin/replex*
install -m 755 "$root/deploy/docker/entrypoint.sh" "$stage/usr/local/bin/replex-entrypoint"
mkdir -p "$stage/opt/replex" && cp -r "$root/examples" "$stage/opt/replex/"
tar -C "$stage" -c . | docker import \
  --change 'USER 10001:10001' --change 'WORKDIR /var/lib/replex' \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENTRYPOINT ["/usr/local/bin/replex-entrypoint"]' \
  --change 'CMD ["replexctl", "--help"]' - "$image"
