#!/usr/bin/env bash
# Set up this checkout on a fresh Debian 12 or 13 machine: the system packages (PostgreSQL with
# TimescaleDB, Redis, the Compose plugin; needs root, skipped otherwise), then a virtualenv in
# .venv with macroinfra and its development tools. Safe to run again: it skips what is there.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ $(id -u) -eq 0 ]]; then
  bash scripts/install-system.sh
else
  echo "setup: not root, skipping system packages (run scripts/install-system.sh as root)" >&2
fi

if [[ ! -x .venv/bin/python ]]; then
  echo "setup: creating .venv" >&2
  python3 -m venv .venv
fi
echo "setup: installing macroinfra into .venv" >&2
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
.venv/bin/macroinfra --version >&2
