"""`macroinfra doctor` against real TimescaleDB and Redis: healthy, wrong credentials, stopped,
and hung (a socket that accepts and never answers)."""

from __future__ import annotations

import json
import time

import pytest
from helpers import Cli, checks_by_name, free_port
from responders import FakeKafkaBroker, FakeMinioServer, FakeMongoServer, SilentServer

from macroinfra.probes.result import Check, DoctorReport, Group, Status


@pytest.fixture
def migrated_cli(migrated) -> Cli:
    return Cli(migrated)


def test_healthy_stack_passes_with_the_apache_edition_as_a_warning(migrated_cli, migrated):
    result = migrated_cli("doctor", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["runtime"] == "local" and doc["ok"] is True
    by_name = checks_by_name(result)
    ts = by_name["timescaledb"]
    assert ts["status"] == "warning" and ts["reason"] == "edition"
    assert ts["info"]["license"] == "apache" and ts["info"]["extension_version"]
    assert "TimescaleDB" in ts["detail"] and "Apache edition" in ts["detail"]
    assert "Community edition" in ts["hint"]
    assert ts["latency_ms"] is not None and ts["latency_ms"] >= 0
    redis = by_name["redis"]
    assert redis["status"] == "ok" and redis["info"]["authenticated"] is True
    assert redis["detail"].startswith("Redis ")
    for service in ("mongodb", "kafka", "minio"):
        assert by_name[service]["status"] == "skipped"
        assert by_name[service]["detail"] == "not provided by the local runtime"
    names = ["timescaledb", "timescaledb: jobs", "redis", "mongodb", "kafka", "minio"]
    assert list(by_name) == names


def test_human_output_is_one_line_per_check_with_a_fix_under_problems(migrated_cli, migrated):
    result = migrated_cli("doctor", env={"REDIS_PASSWORD": "not-the-password"})
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    redis = next(i for i, line in enumerate(lines) if line.startswith("[✗] redis:"))
    assert "authentication failed" in lines[redis] and lines[redis].endswith(" ms)")
    assert lines[redis + 1] == "    fix: check REDIS_PASSWORD"
    ts = next(i for i, line in enumerate(lines) if line.startswith("[!] timescaledb:"))
    assert lines[ts + 1].startswith("    fix: use the Community edition")
    assert "[-] mongodb: not provided by the local runtime" in lines
    assert lines[-1].endswith(": checks failed.")


def test_wrong_postgres_password_is_an_authentication_failure(migrated_cli, migrated):
    wrong = "wrong-pg-secret"
    result = migrated_cli("doctor", "timescaledb", "--json", env={"POSTGRES_PASSWORD": wrong})
    assert result.exit_code == 1
    ts = checks_by_name(result)["timescaledb"]
    assert ts["status"] == "failed" and ts["reason"] == "auth"
    assert "authentication failed" in ts["detail"]
    assert ts["hint"] == "check POSTGRES_USER and POSTGRES_PASSWORD"
    assert wrong not in result.output
    assert migrated.postgres_password.get_secret_value() not in result.output


def test_wrong_redis_password_is_an_authentication_failure(stack_cli, stack_settings):
    result = stack_cli("doctor", "redis", "--json", env={"REDIS_PASSWORD": "wrong-redis"})
    assert result.exit_code == 1
    redis = checks_by_name(result)["redis"]
    assert (redis["status"], redis["reason"]) == ("failed", "auth")
    assert redis["hint"] == "check REDIS_PASSWORD"
    assert "wrong-redis" not in result.output


def test_missing_redis_password_is_an_authentication_failure(stack_cli):
    result = stack_cli("doctor", "redis", "--json", env={"REDIS_PASSWORD": None})
    assert result.exit_code == 1
    redis = checks_by_name(result)["redis"]
    assert (redis["status"], redis["reason"]) == ("failed", "auth")
    assert "requires a password" in redis["detail"] and redis["hint"] == "set REDIS_PASSWORD"


def test_stopped_servers_are_refused_at_once(stack_cli):
    started = time.monotonic()
    result = stack_cli(
        "doctor", "--json", env={"POSTGRES_PORT": str(free_port()), "REDIS_PORT": str(free_port())}
    )
    elapsed = time.monotonic() - started
    assert result.exit_code == 1
    found = checks_by_name(result)
    for service in ("timescaledb", "redis"):
        assert (found[service]["status"], found[service]["reason"]) == ("failed", "refused")
        assert "macroinfra up" in found[service]["hint"]
    assert elapsed < 2.0  # refused is immediate: no waiting for the timeout (5 s)


def test_a_hung_server_cannot_hold_the_doctor_past_its_timeout(stack_cli):
    timeout = 1.0
    with SilentServer() as pg, SilentServer() as redis:
        started = time.monotonic()
        result = stack_cli(
            "doctor",
            "--json",
            "--strict",
            "--timeout",
            str(timeout),
            env={"POSTGRES_PORT": str(pg.port), "REDIS_PORT": str(redis.port)},
        )
        elapsed = time.monotonic() - started
        assert pg.connections and redis.connections  # both clients did connect, and waited
    assert result.exit_code == 1
    assert elapsed < timeout + 0.5
    found = checks_by_name(result)
    for service in ("timescaledb", "redis"):
        assert (found[service]["status"], found[service]["reason"]) == ("failed", "timeout")
    # libpq waits at least 2 s to connect: the runner's deadline, not the client, ended it.
    # 1 s less the exit reserve (a quarter of it, at most 0.4 s)
    assert found["timescaledb"]["detail"] == "did not answer within 0.75 s"
    assert json.loads(result.stdout)["timeout_seconds"] == timeout
    # A healthy but slow service times out too: every timeout also names the limit to raise.
    assert found["timescaledb"]["hint"] == (
        "check that POSTGRES_HOST/POSTGRES_PORT point at PostgreSQL, "
        "or raise --timeout (it was 1 s)"
    )
    assert found["redis"]["hint"].endswith(", or raise --timeout (it was 1 s)")


def test_named_services_are_probed_even_if_the_runtime_does_not_run_them(stack_cli):
    port = free_port()
    result = stack_cli("doctor", "mongodb", "--json", env={"MONGO_PORT": str(port)})
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert [c["name"] for c in doc["checks"]] == ["mongodb"]
    assert doc["checks"][0]["reason"] == "refused"
    assert f"127.0.0.1:{port}" in doc["checks"][0]["detail"]


def test_unknown_service_and_bad_timeout_are_usage_errors(cli):
    result = cli("doctor", "postgres")
    assert result.exit_code == 2 and "'postgres' is not one of" in result.stderr
    assert "'timescaledb', 'redis', 'mongodb', 'kafka', 'minio'" in result.stderr
    assert cli("doctor", "--timeout", "0").exit_code == 2
    assert cli("doctor", "--runtime", "docker").exit_code == 2


def test_external_runtime_probes_everything(stack_cli):
    closed = {
        "MONGO_PORT": str(free_port()),
        "MINIO_ENDPOINT": f"127.0.0.1:{free_port()}",
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",
    }
    result = stack_cli("doctor", "--runtime", "external", "--json", env=closed)
    assert result.exit_code == 1
    found = checks_by_name(result)
    assert json.loads(result.stdout)["runtime"] == "external"
    assert found["redis"]["status"] == "ok"
    for service in ("mongodb", "kafka", "minio"):
        assert (found[service]["status"], found[service]["reason"]) == ("failed", "refused")


@pytest.mark.filterwarnings("ignore:(read|open)_text is deprecated:DeprecationWarning")
def test_all_five_services_answer_under_the_external_runtime(migrated_cli):
    with (
        FakeMongoServer("macro_user", "mongo-pass") as mongo,
        FakeKafkaBroker() as kafka,
        FakeMinioServer("minio-user", "minio-pass", {"macro-data"}) as minio,
    ):
        env = {
            "MONGO_PORT": str(mongo.port),
            "MONGO_PASSWORD": "mongo-pass",
            "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{kafka.port}",
            "MINIO_ENDPOINT": f"127.0.0.1:{minio.port}",
            "MINIO_ROOT_USER": "minio-user",
            "MINIO_ROOT_PASSWORD": "minio-pass",
        }
        result = migrated_cli("doctor", "--runtime", "external", "--json", env=env)
    assert result.exit_code == 0, result.output
    found = checks_by_name(result)
    found.pop("timescaledb: jobs")  # its own tests: tests/cli/test_doctor_jobs.py
    assert [c["status"] for c in found.values()] == ["warning", "ok", "ok", "ok", "ok"]
    for secret in ("mongo-pass", "minio-pass"):
        assert secret not in result.output


def test_every_service_hung_still_ends_within_the_timeout(stack_cli):
    servers = [SilentServer() for _ in range(5)]
    for server in servers:
        server.__enter__()
    pg, redis, mongo, kafka, minio = (s.port for s in servers)
    env = {
        "POSTGRES_PORT": str(pg),
        "REDIS_PORT": str(redis),
        "MONGO_PORT": str(mongo),
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{kafka}",
        "MINIO_ENDPOINT": f"127.0.0.1:{minio}",
    }
    try:
        started = time.monotonic()
        result = stack_cli("doctor", "--runtime", "external", "--timeout", "1", env=env)
        elapsed = time.monotonic() - started
    finally:
        for server in servers:
            server.close()
    assert result.exit_code == 1
    assert elapsed < 1.5
    lines = [line for line in result.stdout.splitlines() if line.startswith("[✗]")]
    assert len(lines) == 5
    assert all("within" in line for line in lines)


def test_human_output_groups_checks_by_their_group_not_their_name(cli, monkeypatch):
    import macroinfra.probes
    from macroinfra.cli.doctor import GROUPS

    assert set(GROUPS) == set(Group)  # no group of checks goes unshown
    report = DoctorReport(
        "external",
        True,
        5,
        12.0,
        [
            Check("timescaledb", "timescaledb", Status.OK, "PostgreSQL 17", 3.0),
            Check(
                "schema: migrations",
                "timescaledb",
                Status.OK,
                "at head (0001)",
                2.0,
                group=Group.SCHEMA,
            ),
            Check(
                "schema: tables",
                "timescaledb",
                Status.OK,
                "all 10 declared tables present",
                group=Group.SCHEMA,
            ),
            Check(
                "schema",
                "timescaledb",
                Status.FAILED,
                "not checked: boom",
                hint="fix it",
                reason="error",
                group=Group.SCHEMA,
            ),
            Check("schema-registry", "kafka", Status.OK, "answers", 1.0),  # a service, by its group
        ],
    )
    monkeypatch.setattr(macroinfra.probes, "run_doctor", lambda *args, **kwargs: report)
    result = cli("doctor", "--strict")
    assert result.exit_code == 1
    assert result.stdout.splitlines()[1:-1] == [
        "[✓] timescaledb: PostgreSQL 17 (3 ms)",
        "[✓] schema-registry: answers (1 ms)",
        "Schema against the declared spec:",
        "[✓] migrations: at head (0001) (2 ms)",
        "[✓] tables: all 10 declared tables present",  # no latency of its own
        "[✗] not checked: boom",
        "    fix: fix it",
    ]
