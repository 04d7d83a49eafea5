#!/bin/bash
# Entrypoint of macroinfra's TEST TimescaleDB image (a stand-in for the pinned upstream image).
# It honours what compose/docker-compose.yml relies on:
#   - the command is `postgres [options]` (or options alone), run as the postgres user;
#   - on first start (no PG_VERSION in $PGDATA) a UTF-8 cluster is made whose superuser is
#     POSTGRES_USER with POSTGRES_PASSWORD, TCP logins need that password (SCRAM), the database
#     POSTGRES_DB exists, and timescaledb is preloaded and created in it; during this
#     initialisation the server listens on no TCP port, so a TCP healthcheck passes only once
#     the real server runs;
#   - any other command is run as it is.
set -Eeuo pipefail

log() { echo "test-timescaledb: $*" >&2; }

if [[ ${1:-} == -* ]]; then set -- postgres "$@"; fi
if [[ ${1:-} != postgres ]]; then exec "$@"; fi

if [[ $(id -u) == 0 ]]; then  # own the data folder, then run this script again as postgres
  install -d -o postgres -g postgres -m 700 "$PGDATA"
  install -d -o postgres -g postgres -m 2775 /var/run/postgresql
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

first_start() {
  local user=${POSTGRES_USER:-postgres}
  local db=${POSTGRES_DB:-$user}
  if [[ -z ${POSTGRES_PASSWORD:-} ]]; then
    log "POSTGRES_PASSWORD is empty: set it (TCP logins need a password)"
    exit 1
  fi
  log "first start: creating the cluster in $PGDATA for user $user, database $db"
  # Minimal images have no locale but C.UTF-8: without it the cluster would be SQL_ASCII.
  initdb -D "$PGDATA" -U "$user" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") \
    -E UTF8 --locale=C.UTF-8 --auth-local=trust --auth-host=scram-sha-256 >/dev/null
  printf '%s\n' '# TCP from anywhere (other containers, the published port): password only' \
    'host all all all scram-sha-256' >>"$PGDATA/pg_hba.conf"
  {
    echo "listen_addresses = '*'"
    echo "shared_preload_libraries = 'timescaledb'"
    [[ ${TIMESCALEDB_TELEMETRY:-} != off ]] || echo "timescaledb.telemetry_level = 'off'"
  } >>"$PGDATA/postgresql.conf"

  # A private server on the Unix socket only (no TCP) for the initial objects.
  pg_ctl -D "$PGDATA" -w -s -o "-c listen_addresses=''" start
  local psql=(psql -X -q -v ON_ERROR_STOP=1 -U "$user")
  if [[ $db != postgres ]]; then
    "${psql[@]}" -d postgres -v db="$db" <<<'CREATE DATABASE :"db";'
  fi
  local each
  for each in postgres template1 "$db"; do
    "${psql[@]}" -d "$each" <<<'CREATE EXTENSION IF NOT EXISTS timescaledb;'
  done
  pg_ctl -D "$PGDATA" -w -s -m fast stop
  log "first start done"
}

[[ -s $PGDATA/PG_VERSION ]] || first_start
exec "$@"
