#!/usr/bin/env bash
# Install the system packages the test suite needs, on Debian 12 (bookworm) or 13 (trixie):
# PostgreSQL + TimescaleDB (Apache edition), Redis server, the Docker engine (Debian's docker.io,
# for the compose tests; scripts/build-test-images.sh needs debootstrap), Docker Compose v2 plugin.
# Run as root. Idempotent: every step whose result is already there is skipped.
# Starts no server and creates no cluster (Debian's postgresql package may create "main"; the
# docker.io package cannot start dockerd without an init system, and the tests start their own).
set -euo pipefail
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"  # debootstrap, dockerd: a root shell may lack them
export DEBIAN_FRONTEND=noninteractive

log() { echo "install-system: $*" >&2; }
die() { log "error: $*"; exit 1; }

[[ $(id -u) -eq 0 ]] || die "must run as root"
# shellcheck source=/dev/null
CODENAME=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
case "$CODENAME" in
  bookworm) PG_MAJOR=15 ;;
  trixie) PG_MAJOR=17 ;;
  *) die "unsupported Debian release '${CODENAME}' (need bookworm or trixie)" ;;
esac
PG_BINDIR=/usr/lib/postgresql/$PG_MAJOR/bin
PG_CONFIG=$PG_BINDIR/pg_config
PLUGIN_DIR=/usr/local/lib/docker/cli-plugins
WORK=""  # private apt + build folder (bookworm only), made on first use
trap '[[ -z $WORK ]] || rm -rf "$WORK"' EXIT

installed() { [[ $(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null) == ii* ]]; }
compose_works() { docker compose version >/dev/null 2>&1; }
tsdb_control() {  # the target server's timescaledb.control, if any
  local share=/usr/share/postgresql/$PG_MAJOR
  [[ ! -x $PG_CONFIG ]] || share=$("$PG_CONFIG" --sharedir)
  local f=$share/extension/timescaledb.control
  [[ -f $f ]] && echo "$f"
}

# Install whichever of the given packages are missing (apt-get update once, only if needed).
APT_UPDATED=0
apt_install() {
  local missing=() p
  for p in "$@"; do installed "$p" || missing+=("$p"); done
  ((${#missing[@]})) || return 0
  if ((!APT_UPDATED)); then log "apt-get update"; apt-get update -qq; APT_UPDATED=1; fi
  log "installing ${missing[*]}"
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The machine's own Debian mirror and keyring (never hard-coded), as "URI KEYRING".
mirror_and_keyring() {
  local src=/etc/apt/sources.list.d/debian.sources out=""
  if [[ -f $src ]]; then  # deb822: first stanza with a URIs: field
    out=$(awk 'BEGIN{RS=""} /(^|\n)URIs:/ {u=""; k=""; n=split($0, l, "\n")
            for (i=1;i<=n;i++) { split(l[i], f, /[ \t]+/)
              if (f[1]=="URIs:") u=f[2]; if (f[1]=="Signed-By:") k=f[2] }
            print u, k; exit}' "$src")
  elif [[ -f /etc/apt/sources.list ]]; then  # one-line format: first "deb" line
    out=$(awk '$1=="deb" { k=""; if (match($0, /signed-by=[^] \t]+/)) k=substr($0, RSTART+10, RLENGTH-10)
            sub(/\[[^]]*\]/, ""); print $2, k; exit }' /etc/apt/sources.list)
  fi
  read -r MIRROR KEYRING <<<"$out" || true
  [[ -n ${MIRROR:-} ]] || die "no Debian mirror found in the apt sources"
  [[ ${KEYRING:-} == /* && -f ${KEYRING:-} ]] || KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
}

# apt-get against a private trixie sources list; the system's apt sources and lists stay untouched.
papt() {
  apt-get -q -o Dir::Etc::sourcelist="$WORK/sources.list" -o Dir::Etc::sourceparts=/nonexistent \
    -o Dir::State::Lists="$WORK/lists" -o Dir::Cache="$WORK/cache" "$@"
}
private_apt_ready() {
  [[ -z $WORK ]] || return 0
  WORK=$(mktemp -d /tmp/install-system.XXXXXX)
  mirror_and_keyring
  mkdir -p "$WORK/lists/partial" "$WORK/cache/archives/partial" "$WORK/dl"
  chmod 755 "$WORK"; chown _apt "$WORK/dl" 2>/dev/null || true  # lets apt download sandboxed
  printf '%s [signed-by=%s] %s trixie main\n' deb "$KEYRING" "$MIRROR" deb-src "$KEYRING" "$MIRROR" \
    >"$WORK/sources.list"
  log "reading Debian 13 package lists into $WORK (keyring $KEYRING)"
  papt update >"$WORK/update.log" 2>&1 || { cat "$WORK/update.log" >&2; die "private apt-get update failed"; }
}

# Debian 12: build TimescaleDB from Debian 13's source package.
build_timescaledb() {
  private_apt_ready
  log "fetching Debian 13 source of timescaledb"
  (cd "$WORK/dl" && papt source --download-only timescaledb) >"$WORK/source.log" 2>&1 \
    || { cat "$WORK/source.log" >&2; die "apt-get source timescaledb failed"; }
  local orig src
  orig=$(find "$WORK/dl" -maxdepth 1 -name 'timescaledb_*.orig.tar.xz' -print -quit)
  [[ -n $orig ]] || die "no timescaledb .orig.tar.xz downloaded"
  mkdir -p "$WORK/src" && tar -xJf "$orig" -C "$WORK/src"
  src=$(dirname "$(find "$WORK/src" -maxdepth 2 -name bootstrap -print -quit)")
  log "building $(basename "$orig") for PostgreSQL $PG_MAJOR (log: $WORK/build.log)"
  # Telemetry off as in Debian's own build: no traffic to the vendor from test servers.
  if ! (cd "$src" && BUILD_FORCE_REMOVE=true ./bootstrap -DAPACHE_ONLY=ON -DREGRESS_CHECKS=OFF \
          -DTAP_CHECKS=OFF -DWARNINGS_AS_ERRORS=OFF -DUSE_TELEMETRY=OFF \
          -DSEND_TELEMETRY_DEFAULT=OFF -DPG_CONFIG="$PG_CONFIG" && make -C build -j2 install) \
        >"$WORK/build.log" 2>&1; then
    tail -n 40 "$WORK/build.log" >&2; die "timescaledb build failed"
  fi
}

# Debian 12: take the plugin binary out of Debian 13's docker-compose package.
fetch_compose_plugin() {
  private_apt_ready
  log "fetching Debian 13 docker-compose package"
  (cd "$WORK/dl" && papt download docker-compose) >"$WORK/download.log" 2>&1 \
    || { cat "$WORK/download.log" >&2; die "apt-get download docker-compose failed"; }
  dpkg-deb -x "$(find "$WORK/dl" -maxdepth 1 -name 'docker-compose_*.deb' -print -quit)" "$WORK/deb"
  local bin; bin=$(find "$WORK/deb" -path '*/cli-plugins/docker-compose' -type f -print -quit)
  [[ -n $bin ]] || die "no cli-plugins/docker-compose in the docker-compose package"
  install -D -m 755 "$bin" "$PLUGIN_DIR/docker-compose"
}

# Debian 13: the package puts the plugin where the packaged docker CLI looks; make sure ours does.
link_compose_plugin() {
  local bin; bin=$(dpkg -L docker-compose | awk '/\/cli-plugins\/docker-compose$/ && !n++')
  [[ -n $bin ]] || die "docker-compose package has no CLI plugin"
  log "linking $bin into $PLUGIN_DIR"
  mkdir -p "$PLUGIN_DIR" && ln -sfn "$bin" "$PLUGIN_DIR/docker-compose"
}

main() {
  # openssl makes the local runtime's certificates (MACROINFRA_LOCAL_TLS) and the tests' own.
  local pkgs=("postgresql-$PG_MAJOR" redis-server debootstrap openssl)
  # The engine: a docker client already on PATH (e.g. Docker's own in /usr/local/bin) is kept
  # and still found first; docker.io adds dockerd, containerd, runc and docker-proxy.
  command -v dockerd >/dev/null || pkgs+=(docker.io)
  if [[ $CODENAME == trixie ]]; then
    pkgs+=("postgresql-$PG_MAJOR-timescaledb" docker-compose)
  elif ! tsdb_control >/dev/null; then
    pkgs+=("postgresql-server-dev-$PG_MAJOR" cmake gcc make libssl-dev xz-utils)
  fi
  apt_install "${pkgs[@]}"

  if tsdb_control >/dev/null; then log "timescaledb present"
  elif [[ $CODENAME == trixie ]]; then die "postgresql-$PG_MAJOR-timescaledb installed no timescaledb.control"
  else build_timescaledb; fi
  if compose_works; then log "docker compose plugin already works"
  elif [[ $CODENAME == trixie ]]; then link_compose_plugin
  else fetch_compose_plugin; fi

  id postgres >/dev/null 2>&1 || die "system user 'postgres' is missing after install"
  local ctl; ctl=$(tsdb_control) || die "timescaledb.control not found after install"
  command -v docker >/dev/null || die "no docker client on PATH (the plugin alone is not enough)"
  command -v dockerd >/dev/null || die "no dockerd on PATH after installing docker.io"
  command -v debootstrap >/dev/null || die "no debootstrap on PATH after install"
  compose_works || die "'docker compose version' still fails"
  log "done: postgres bindir $PG_BINDIR;" \
    "timescaledb $(sed -n "s/^default_version *= *'\(.*\)'/\1/p" "$ctl");" \
    "$(redis-server --version | cut -d' ' -f1-3); $(docker compose version);" \
    "$(dockerd --version)"
}

case "${1:-}" in
  "") main ;;
  # The Debian mirror and keyring this machine's apt uses, as "URI KEYRING" (for
  # scripts/build-test-images.sh, so the mirror is found in one place).
  --print-mirror) mirror_and_keyring && echo "$MIRROR $KEYRING" ;;
  *) die "usage: install-system.sh [--print-mirror]" ;;
esac
