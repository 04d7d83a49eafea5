"""Importing only what is used: the runtime interface imports no runtime, and `doctor` imports
the probe (and client library) of each service it checks, and no other."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from helpers import free_port

CLIENT_LIBRARIES = ("redis", "pymongo", "kafka", "minio")
OTHER_PROBES = tuple(f"macroinfra.probes.{s}" for s in ("redis", "mongodb", "kafka", "minio"))


def python(code: str, env: dict[str, str] | None = None) -> list[str]:
    """Run `code` in a fresh interpreter; its last stdout line, read as JSON."""
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **(env or {})},
    )
    return json.loads(done.stdout.splitlines()[-1])


def test_the_runtime_interface_imports_no_runtime():
    loaded = python(
        "import json, sys, macroinfra.runtime.base; "
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith("
        "('macroinfra.runtime.local', 'macroinfra.runtime.compose', "
        "'macroinfra.runtime.external', 'python_on_whales')))))"
    )
    assert loaded == []


def test_doctor_timescaledb_imports_no_other_services_client():
    """`doctor timescaledb` imports the TimescaleDB probe only: no Redis, MongoDB, Kafka or
    MinIO library (nor their probes) is loaded, even with every service's settings at hand."""
    code = f"""
import json, sys
from macroinfra.cli import main
sys.argv = ["macroinfra", "doctor", "timescaledb", "--runtime", "local", "--timeout", "2"]
try:
    main()
except SystemExit:
    pass
print(json.dumps(sorted(
    m for m in sys.modules
    if m.split(".")[0] in {CLIENT_LIBRARIES!r} or m in {OTHER_PROBES!r}
)))
"""
    closed = {"POSTGRES_PORT": str(free_port()), "REDIS_PORT": str(free_port())}
    assert python(code, env=closed) == []
    # The same wrapper does see a client library when its service is probed.
    with_redis = code.replace('"timescaledb", "--runtime"', '"redis", "--runtime"')
    assert {"redis", "macroinfra.probes.redis"} <= set(python(with_redis, env=closed))
