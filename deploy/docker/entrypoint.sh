#!/bin/sh
# The image's entrypoint: the first argument names the service, the rest are
# its flags. `docker run IMAGE coordinator --listen=0.0.0.0:7070`; any other
# command runs as given (`docker run IMAGE replexctl list`).
set -e
case "$1" in
  coordinator) shift; exec replex-coordinator "$@" ;;
  gateway) shift; exec replex-gateway "$@" ;;
  worker) shift; exec replex-worker "$@" ;;
  "") echo "usage: IMAGE coordinator|gateway|worker|replexctl|replex [FLAGS...]" >&2; exit 2 ;;
  *) exec "$@" ;;
esac
