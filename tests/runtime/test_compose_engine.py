"""The compose runtime against a real Docker engine: the real CLI, the real compose file and the
services timescaledb and redis, run from the locally built test images (scripts/
build-test-images.sh; stand-ins for the pinned upstream images) passed through the image
variables, on free ports on 127.0.0.1.

The engine is started by the `engine` fixture on a private socket (tests/docker_engine.py) and
DOCKER_HOST reaches it only through the environment of each command here. The Compose project
name is fixed (`macroinfra`), so the tests share one stack and run in file order: brought up
once, then taken down and up again, then deleted; each phase asserts what it changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from typing import NoReturn

import psycopg
import pytest
from docker_engine import Engine, EngineUnavailable, build_test_images, compose_works, find_or_start
from helpers import Cli, free_port

from macroinfra.runtime.compose import PROJECT, compose_file

pytestmark = [pytest.mark.docker, pytest.mark.timeout(600)]  # the first image build is in here

SERVICES = ["timescaledb", "redis"]
PG_PASSWORD = "pg pass$1\"'%"  # quoting trouble for the healthcheck, URLs and the shell
REDIS_PASSWORD = 'redis "pass\\%'  # needs escaping in the redis.conf the service writes
NOTHING = {"containers": [], "networks": [], "volumes": []}


def _unavailable(reason: str) -> NoReturn:
    """Skip where no engine can run; under CI that is a failure, never a silent skip."""
    if os.environ.get("CI"):
        pytest.fail(f"Docker engine tests cannot run under CI: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    try:
        found = find_or_start()
    except EngineUnavailable as exc:
        _unavailable(str(exc))
    try:
        problem = compose_works(found)
        if problem is None and not found.private and found.project_resources(PROJECT) != NOTHING:
            problem = (
                f"the engine at {found.host} holds a `{PROJECT}` Compose project, which these "
                "tests would delete; take it down, or unset DOCKER_HOST so they start their own"
            )
        if problem:
            _unavailable(problem)
        yield found
    finally:
        found.stop()


@pytest.fixture(scope="session")
def images(engine: Engine) -> dict[str, str]:
    try:
        return build_test_images(engine)
    except EngineUnavailable as exc:
        _unavailable(str(exc))


@pytest.fixture(scope="module")
def env(engine: Engine, images: dict[str, str]) -> Iterator[dict[str, str]]:
    """The environment of every command: engine, images, free ports, awkward passwords. The
    project is deleted before (a run that was killed may have left it) and after."""
    state = tempfile.mkdtemp(prefix="macroinfra-compose-state-")
    env = {
        **engine.env,
        **images,
        "MACROINFRA_STATE_DIR": state,  # where `up` records that compose owns the stack
        "POSTGRES_PORT": str(free_port()),
        "REDIS_PORT": str(free_port()),
        "POSTGRES_PASSWORD": PG_PASSWORD,
        "REDIS_PASSWORD": REDIS_PASSWORD,
    }
    delete_project(env)
    yield env
    delete_project(env)
    shutil.rmtree(state, ignore_errors=True)
    assert engine.project_resources(PROJECT) == NOTHING


def delete_project(env: dict[str, str]) -> None:
    result = Cli(None)("down", "--volumes", "--yes", "--runtime", "compose", env=env)
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def cli(env: dict[str, str]):
    """The real CLI (in this process) with the module's environment."""

    def run(*args: str, extra: dict[str, str] | None = None):
        return Cli(None)(*args, env={**env, **(extra or {})})

    return run


def compose(engine: Engine, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """Plain `docker compose` on the same file and project, for what the CLI does not do."""
    return engine.docker(
        "compose", "--file", str(compose_file()), "--project-name", PROJECT, *args, env=env
    )


def services(doc: dict) -> dict[str, dict]:
    return {s["name"]: s for s in doc["services"]}


def started_at(engine: Engine, service: str) -> str:
    name = f"{PROJECT}-{service}-1"
    return engine.docker("inspect", "--format", "{{.State.StartedAt}}", name).stdout.strip()


def pg_url(env: dict[str, str]) -> str:
    from macroinfra.settings import load_settings

    return load_settings(
        None, postgres_port=int(env["POSTGRES_PORT"]), postgres_password=PG_PASSWORD
    ).libpq_url


# -- brought up once -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def first_up(engine: Engine, env: dict[str, str], cli):
    """`up` from nothing: no container, network or volume of the project before it."""
    assert engine.project_resources(PROJECT) == NOTHING
    return cli("up", *SERVICES, "--runtime", "compose", "--json", "--timeout", "90")


def test_up_from_nothing_waits_until_every_service_is_healthy(first_up, env):
    assert first_up.exit_code == 0, first_up.output
    doc = json.loads(first_up.stdout)
    assert doc["runtime"] == "compose"
    assert doc["started"] == SERVICES and doc["already_running"] == []
    state = services(doc)
    for name in SERVICES:
        assert (state[name]["state"], state[name]["health"]) == ("running", "healthy"), state
    assert state["mongodb"]["state"] == "not created"
    for secret in (PG_PASSWORD, REDIS_PASSWORD):
        assert secret not in first_up.output


def test_second_up_reports_what_already_runs(first_up, cli):
    result = cli("up", *SERVICES, "--runtime", "compose", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["already_running"] == SERVICES and doc["started"] == []


def test_ps_json_shows_state_health_and_the_published_loopback_ports(first_up, cli, env):
    result = cli("ps", "--runtime", "compose", "--json")
    assert result.exit_code == 0, result.output
    state = services(json.loads(result.stdout))
    assert state["timescaledb"]["ports"] == [f"127.0.0.1:{env['POSTGRES_PORT']}->5432/tcp"]
    assert state["redis"]["ports"] == [f"127.0.0.1:{env['REDIS_PORT']}->6379/tcp"]
    assert all(state[s]["state"] == "running" for s in SERVICES)
    assert all(state[s]["health"] == "healthy" for s in SERVICES)


def test_auto_picks_compose_when_the_engine_answers(first_up, cli, tmp_path):
    # With no stack recorded (a state folder of its own), auto asks the engine.
    fresh = cli("ps", "--json", extra={"MACROINFRA_STATE_DIR": str(tmp_path)})
    assert fresh.exit_code == 0, fresh.output
    assert "runtime compose (auto: a Docker engine answers)" in fresh.stderr
    assert services(json.loads(fresh.stdout))["timescaledb"]["health"] == "healthy"
    # The stack `up` started is owned by compose: auto keeps to it, and says so.
    result = cli("ps", "--json")
    doc = json.loads(result.stdout)
    assert doc["runtime"] == "compose" and "started under it" in doc["selected_because"]


def _with_status_env(cli, command: str) -> subprocess.CompletedProcess:
    """`command` in a shell that has eval'd `macroinfra status --env`, as its help suggests."""
    variables = cli("status", "--env")
    assert variables.exit_code == 0, variables.output
    return subprocess.run(
        ["sh", "-c", f'eval "$VARIABLES" && {command}'],
        capture_output=True,
        text=True,
        env={"PATH": os.environ["PATH"], "VARIABLES": variables.stdout},
    )


def test_status_env_database_url_works_with_psql(first_up, cli):
    out = _with_status_env(cli, 'psql "$DATABASE_URL" -XtAc "select current_user"')
    assert out.returncode == 0 and out.stdout.strip() == "macro_user", out.stderr


def test_status_env_redis_url_works_with_redis_cli(first_up, cli):
    out = _with_status_env(cli, 'redis-cli -u "$REDIS_URL" --no-auth-warning ping')
    assert out.returncode == 0 and out.stdout.strip() == "PONG", out.stdout + out.stderr


def test_services_reach_each_other_by_service_name(first_up, engine, env):
    """The engine runs without iptables: Compose's network must still give each container the
    others' names (Docker's embedded DNS) and a route to them."""
    found = compose(engine, env, "exec", "-T", "redis", "getent", "hosts", "timescaledb")
    assert found.stdout.split()[1:] == ["timescaledb"], found.stdout
    # From the TimescaleDB container, Redis's own answer over TCP (it wants a password).
    talk = 'exec 3<>/dev/tcp/redis/6379; printf "PING\\r\\n" >&3; read -t 5 line <&3; echo "$line"'
    answer = compose(engine, env, "exec", "-T", "timescaledb", "bash", "-c", talk)
    assert answer.stdout.startswith("-NOAUTH"), answer.stdout + answer.stderr


def test_doctor_passes_with_the_credentials_and_names_a_wrong_password(first_up, cli):
    ok = cli("doctor", *SERVICES, "--runtime", "compose", "--json")
    assert ok.exit_code == 0, ok.output
    checks = {c["name"]: c for c in json.loads(ok.stdout)["checks"]}
    assert checks["redis"]["status"] == "ok"
    assert checks["timescaledb"]["info"]["license"] == "apache"  # Debian's TimescaleDB

    bad = cli(
        "doctor", *SERVICES, "--runtime", "compose", "--json", extra={"POSTGRES_PASSWORD": "x"}
    )
    assert bad.exit_code == 1, bad.output
    checks = {c["name"]: c for c in json.loads(bad.stdout)["checks"]}
    assert checks["timescaledb"]["status"] == "failed"
    assert "authentication failed" in checks["timescaledb"]["detail"]
    assert checks["redis"]["status"] == "ok"


def test_migrate_schema_show_and_strict_doctor_against_the_container(first_up, cli):
    migrated = cli("migrate")
    assert migrated.exit_code == 0, migrated.output
    assert "compression not applied" in migrated.stderr  # the Apache edition, said plainly

    shown = cli("schema", "show", "--json")
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.count('"hypertable"') >= 7, shown.stdout

    strict = cli("doctor", "--strict", *SERVICES, "--runtime", "compose", "--json")
    assert strict.exit_code == 1, strict.output
    checks = {c["name"]: c for c in json.loads(strict.stdout)["checks"]}
    assert checks["schema: migrations"]["status"] == "ok"
    assert checks["schema: hypertables"]["status"] == "ok"
    for name in ("schema: compression", "schema: compression policies"):
        assert checks[name]["status"] == "failed" and checks[name]["reason"] == "edition"
        assert "Community edition" in checks[name]["hint"]


def test_logs_tail(first_up, cli):
    result = cli("logs", "timescaledb", "--tail", "5", "--runtime", "compose")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 5 and all(ln.startswith("timescaledb") for ln in lines), lines


def test_restart_waits_until_healthy_again(first_up, engine, cli):
    before = started_at(engine, "redis")
    result = cli("restart", "redis", "--runtime", "compose", "--json", "--timeout", "60")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["restarted"] == ["redis"]
    assert services(doc)["redis"]["health"] == "healthy"
    assert started_at(engine, "redis") != before  # really restarted, and healthy on return


# -- taken down and up again, then deleted -------------------------------------------------------


def test_data_survives_down_and_up(first_up, engine, env, cli):
    with psycopg.connect(pg_url(env), autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (note text)")
        conn.execute("INSERT INTO kept VALUES ('written before down')")

    down = cli("down", "--runtime", "compose", "--json")
    assert down.exit_code == 0, down.output
    assert json.loads(down.stdout)["stopped"] == SERVICES
    left = engine.project_resources(PROJECT)
    assert left["containers"] == [] and left["networks"] == []
    assert f"{PROJECT}_timescaledb-data" in left["volumes"]

    up = cli("up", *SERVICES, "--runtime", "compose", "--json", "--timeout", "90")
    assert up.exit_code == 0, up.output
    with psycopg.connect(pg_url(env)) as conn:
        assert conn.execute("SELECT note FROM kept").fetchall() == [("written before down",)]


def test_down_volumes_leaves_nothing_of_the_project(first_up, engine, cli):
    result = cli("down", "--volumes", "--yes", "--runtime", "compose", "--json")
    assert result.exit_code == 0, result.output
    assert f"{PROJECT}_timescaledb-data" in json.loads(result.stdout)["deleted"]
    assert engine.project_resources(PROJECT) == NOTHING


def test_a_taken_port_is_refused_before_anything_is_created(first_up, engine, cli):
    assert engine.project_resources(PROJECT) == NOTHING
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cli("up", *SERVICES, "--runtime", "compose", extra={"POSTGRES_PORT": str(port)})
    assert result.exit_code == 1, result.output
    assert f"timescaledb port {port} is already in use" in result.output
    assert "POSTGRES_PORT" in result.output
    assert engine.project_resources(PROJECT) == NOTHING


@pytest.fixture(scope="module")
def unhealthy_redis_image(engine: Engine, images: dict[str, str]) -> str:
    """The test Redis image with a redis-cli that always fails: its healthcheck never passes."""
    dockerfile = (
        f"FROM {images['REDIS_IMAGE']}\n"
        "RUN printf '#!/bin/sh\\necho \"stand-in redis-cli: never answers\" >&2\\nexit 1\\n' "
        "> /usr/local/bin/redis-cli && chmod 755 /usr/local/bin/redis-cli\n"
    )
    tag = "macroinfra-test/redis-unhealthy:" + hashlib.sha256(dockerfile.encode()).hexdigest()[:12]
    if engine.docker("image", "inspect", tag, check=False).returncode != 0:
        engine.docker("build", "-t", tag, "-", input=dockerfile, env={"DOCKER_BUILDKIT": "0"})
    return tag


def test_an_unhealthy_service_fails_up_within_its_timeout(
    first_up, engine, cli, unhealthy_redis_image
):
    timeout = 8  # the healthcheck first runs after its 5 s interval
    started = time.monotonic()
    result = cli(
        "up",
        "redis",
        "--runtime",
        "compose",
        "--timeout",
        str(timeout),
        extra={"REDIS_IMAGE": unhealthy_redis_image},
    )
    elapsed = time.monotonic() - started
    try:
        assert result.exit_code == 1, result.output
        assert f"not ready after {timeout} s: redis (starting)" in result.output
        assert "redis last healthcheck: stand-in redis-cli: never answers" in result.output
        assert "redis last " in result.output and "log lines:" in result.output
        assert "Ready to accept connections" in result.output  # the server's own log line
        assert REDIS_PASSWORD not in result.output
        # The wait starts once Compose has created the container, and the diagnosis reads its
        # logs: allow for both, far below the ~45 s until Docker itself would call it unhealthy.
        assert elapsed < timeout + 8, elapsed
    finally:
        delete = cli("down", "--volumes", "--yes", "--runtime", "compose")
        assert delete.exit_code == 0, delete.output
    assert engine.project_resources(PROJECT) == NOTHING
