#!/bin/sh
# Entrypoint of macroinfra's TEST Redis image (a stand-in for the pinned upstream image).
# `redis-server [CONF] [options]` (or a config file or options alone) runs as the redis user in
# /data, with files private to it. Redis's protected mode is off unless the configuration says
# otherwise, as in the upstream image, so clients reach it through a published port; set a
# password (the compose file's REDIS_PASSWORD) for anything but tests. Other commands run as
# they are.
set -eu

case "${1:-}" in
  -* | *.conf) set -- redis-server "$@" ;;
esac
[ "${1:-}" = redis-server ] || exec "$@"

if [ "$(id -u)" = 0 ]; then  # own /data, then run this script again as redis
  find . ! -user redis -exec chown redis:redis '{}' +
  exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
fi

says_protected_mode() {
  for arg in "$@"; do
    case "$arg" in --protected-mode) return 0 ;; esac
  done
  [ $# -ge 2 ] && [ -f "$2" ] && grep -qiE '^[[:space:]]*protected-mode[[:space:]]' "$2"
}
says_protected_mode "$@" || set -- "$@" --protected-mode no
umask 0077
exec "$@"
