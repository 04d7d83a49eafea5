#!/usr/bin/env bash
# Build macroinfra's TEST images, from Debian packages only, into the Docker engine that
# DOCKER_HOST (or the default socket) names.
#
# These images are NOT what users run. They stand in for the pinned upstream images of
# compose/docker-compose.yml (timescale/timescaledb, redis) on machines that reach no container
# registry, so the compose tests can run the real file against a real engine. They honour the
# same contract as the upstream images for what the compose file uses (see the entrypoints in
# scripts/test-images/), but they are Debian 13's PostgreSQL 17 + TimescaleDB (Apache edition,
# no compression) and Debian 13's Redis. Pass them through the image variables:
#     eval "$(scripts/build-test-images.sh)"   # sets TIMESCALEDB_IMAGE and REDIS_IMAGE
#
# Base: `debootstrap --variant=minbase trixie` from this machine's own Debian mirror (read from
# its apt sources by install-system.sh), imported with `docker import`. Each image is tagged by
# a hash of its build inputs and skipped when that tag exists, so a second run takes seconds
# and a changed Dockerfile or entrypoint rebuilds. Builds use the host's network (the engine
# may run without iptables, so containers on a bridge cannot reach the mirror).
# Needs a running Docker engine, and to build the base, root and debootstrap. Prints NAME=image
# lines on stdout; progress goes to stderr. Exit status: 0 built or present, 3 this machine cannot
# build them (no engine, not root, no debootstrap; the message says which), 1 a build failed.
set -euo pipefail
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"  # debootstrap: a root shell may lack sbin

HERE=$(cd "$(dirname "$0")" && pwd)
CONTEXTS=$HERE/test-images
SUITE=trixie  # PostgreSQL 17 + TimescaleDB are packaged in Debian 13, on any host release
# Everything the base image is made of; change it and the base (and all above it) is rebuilt.
BASE_RECIPE="debootstrap --variant=minbase $SUITE; apt caches removed; CMD /bin/bash"
# variable, repository, tag prefix, build context (scripts/test-images/<context>)
IMAGES=(
  "TIMESCALEDB_IMAGE macroinfra-test/timescaledb pg17 timescaledb"
  "REDIS_IMAGE macroinfra-test/redis 8 redis"
)
export DOCKER_BUILDKIT=0  # the classic builder: BuildKit is not installed on these machines

log() { echo "build-test-images: $*" >&2; }
die() { log "error: $*"; exit 1; }
cannot() { log "cannot build here: $*"; exit 3; }

ROOTFS=""
trap '[[ -z $ROOTFS ]] || rm -rf --one-file-system "$ROOTFS"' EXIT

exists() { docker image inspect "$1" >/dev/null 2>&1; }
prune() {  # $1: the current repo:prefix-hash; removes that image's superseded builds
  local repo=${1%%:*} tag=${1#*:} old
  docker image ls --format '{{.Repository}}:{{.Tag}}' "$repo" | while read -r old; do
    if [[ ${old#*:} == "${tag%-*}"-* && $old != "$1" ]]; then
      log "removing superseded $old"; docker image rm "$old" >/dev/null || true
    fi
  done
}
short_hash() { sha256sum | cut -c1-12; }
context_hash() {  # names, modes and contents of every file of a build context
  (cd "$1" && find . -type f -printf '%m %p\n' | sort && find . -type f -print0 | sort -z |
    xargs -0 cat) | short_hash
}

# The host's apt options that decide whether its mirror is accepted (e.g. a mirror whose
# Release is past Valid-Until), for apt-get inside the builds.
apt_options() {
  apt-config dump | awk '$1 ~ /^Acquire::Check-(Valid-Until|Date)$/ {
    v = $2; gsub(/[";]/, "", v); printf "-o %s=%s ", $1, v }'
}

build_base() {  # $1: tag
  local mirror keyring started=$SECONDS
  read -r mirror keyring < <(bash "$HERE/install-system.sh" --print-mirror) \
    || die "could not read the Debian mirror from this machine's apt sources"
  ROOTFS=$(mktemp -d /var/tmp/macroinfra-test-rootfs.XXXXXX)
  log "debootstrap --variant=minbase $SUITE (from this machine's mirror) into $ROOTFS"
  if ! debootstrap --variant=minbase --keyring="$keyring" "$SUITE" "$ROOTFS" "$mirror" \
      >"$ROOTFS.log" 2>&1; then
    tail -n 30 "$ROOTFS.log" >&2; die "debootstrap failed (log: $ROOTFS.log)"
  fi
  rm -f "$ROOTFS.log"
  rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/*
  log "importing the base as $1"
  tar -C "$ROOTFS" --numeric-owner -c . | docker import --change 'CMD ["/bin/bash"]' - "$1" >/dev/null
  rm -rf --one-file-system "$ROOTFS"
  ROOTFS=""
  log "base ready in $((SECONDS - started)) s"
}

build_image() {  # $1: tag, $2: friendly tag, $3: context, $4: base
  local started=$SECONDS out
  log "building $1"
  out=$(mktemp)
  if ! docker build --network host --build-arg "BASE=$4" --build-arg "APT_OPTS=$(apt_options)" \
      -t "$1" -t "$2" "$3" >"$out" 2>&1; then
    tail -n 30 "$out" >&2; rm -f "$out"; die "docker build of $1 failed"
  fi
  rm -f "$out"
  log "$1 built in $((SECONDS - started)) s"
}

main() {
  command -v docker >/dev/null || cannot "no docker client on PATH"
  docker info >/dev/null 2>&1 || cannot "no Docker engine answers at ${DOCKER_HOST:-the default socket}"

  local base line var repo prefix context tag current=()
  base=macroinfra-test/debian:$SUITE-$(short_hash <<<"$BASE_RECIPE")
  if exists "$base"; then log "base $base present"
  else
    [[ $(id -u) -eq 0 ]] || cannot "building the base image needs root (debootstrap)"
    command -v debootstrap >/dev/null || cannot "no debootstrap (run scripts/install-system.sh)"
    build_base "$base"
  fi
  for line in "${IMAGES[@]}"; do
    read -r var repo prefix context <<<"$line"
    tag=$repo:$prefix-$( (echo "$base"; context_hash "$CONTEXTS/$context") | short_hash)
    if exists "$tag"; then log "$tag present"
    else build_image "$tag" "$repo:$prefix" "$CONTEXTS/$context" "$base"; fi
    echo "$var=$tag"
    current+=("$tag")
  done
  for tag in "${current[@]}" "$base"; do prune "$tag"; done  # images first: they hold the base
}

main "$@"
