"""`macroinfra up | down | ps | logs | restart | status` through the real CLI. Under the compose
runtime the python-on-whales client is RecordingDockerClient (no engine runs here); the
external runtime and `status --env` need no Docker at all."""

from __future__ import annotations

import io
import json
import socket
import subprocess

import psycopg
import pytest
import redis
import sqlalchemy
from compose_double import FakeEngine
from dotenv import dotenv_values
from helpers import error_lines, free_port, own_local_stack

from macroinfra.cli.stack import env_quote
from macroinfra.runtime.compose import engine as docker_engine
from macroinfra.runtime.local import LocalRuntime
from macroinfra.settings import load_settings

SECRET = "s3cr%t p'w"  # quoting trouble for URLs, shells and .env parsers alike


@pytest.fixture
def engine(monkeypatch) -> FakeEngine:
    engine = FakeEngine()
    monkeypatch.setattr(docker_engine, "docker_client", engine.client)
    return engine


@pytest.fixture
def env() -> dict[str, str]:
    """Free ports for every service, the compose runtime, and secrets."""
    return {
        "POSTGRES_PORT": str(free_port()),
        "REDIS_PORT": str(free_port()),
        "MONGO_PORT": str(free_port()),
        "MINIO_ENDPOINT": f"127.0.0.1:{free_port()}",
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",
        "POSTGRES_PASSWORD": SECRET,
        "REDIS_PASSWORD": SECRET,
        "MONGO_PASSWORD": SECRET,
        "MINIO_ROOT_PASSWORD": SECRET,
        "MACROINFRA_RUNTIME": "compose",
    }


def healthy_stack(engine: FakeEngine, env: dict[str, str], kafka: bool = False) -> None:
    ports = {
        "timescaledb": env["POSTGRES_PORT"],
        "redis": env["REDIS_PORT"],
        "mongodb": env["MONGO_PORT"],
        "minio": env["MINIO_ENDPOINT"].rpartition(":")[2],
        "kafka": env["KAFKA_BOOTSTRAP_SERVERS"].rpartition(":")[2],
    }
    for service, port in ports.items():
        if service != "kafka" or kafka:
            engine.set(service, host_port=int(port))
    engine.set("minio-init", "exited", None, exit_code=0)


# -- up ----------------------------------------------------------------------------------------


def test_up_json_reports_what_it_started(cli, engine, env):
    healthy_stack(engine, env)
    result = cli("up", "--json", "--timeout", "5", env=env)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["runtime"] == "compose"
    assert doc["already_running"] == ["timescaledb", "redis", "mongodb", "minio"]
    assert {s["name"]: s["health"] for s in doc["services"]} == {
        "timescaledb": "healthy",
        "redis": "healthy",
        "mongodb": "healthy",
        "kafka": None,
        "minio": "healthy",
    }
    (up,) = engine.called("compose.up")
    assert up.args == (None,) and up.kwargs == {"detach": True, "stream_logs": True}
    assert up.profiles == []


def test_up_profile_full_and_named_services(cli, engine, env):
    healthy_stack(engine, env, kafka=True)
    assert cli("up", "--profile", "full", "--no-wait", env=env).exit_code == 0
    assert cli("up", "redis", "minio", env=env).exit_code == 0
    first, second = engine.called("compose.up")
    assert (first.args, first.profiles) == ((None,), ["full"])
    assert (second.args, second.profiles) == ((["redis", "minio", "minio-init"],), [])
    assert engine.apis()[:3] == ["compose.ps", "compose.up", "compose.ps"]  # --no-wait: 1 ps


def test_up_human_output_is_a_table_and_status_lines(cli, engine, env):
    healthy_stack(engine, env)
    result = cli("up", env=env)
    assert result.exit_code == 0, result.output
    assert "already running: timescaledb, redis, mongodb, minio" in result.stderr
    assert "runtime: compose" in result.stdout
    row = next(ln for ln in result.stdout.splitlines() if ln.startswith("redis"))
    assert row.split()[:4] == [
        "redis",
        "running",
        "healthy",
        f"127.0.0.1:{env['REDIS_PORT']}->6379/tcp",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["up", "postgres"], "'postgres' is not one of 'timescaledb', 'redis'"),
        (["up", "--profile", "all"], "'all' is not one of 'full'"),
        (["restart", "redis", "pg"], "'pg' is not one of 'timescaledb'"),
        (["logs", "pg"], "'pg' is not one of 'timescaledb'"),
    ],
)
def test_bad_names_are_usage_errors_before_any_docker_call(cli, engine, env, args, message):
    result = cli(*args, env=env)
    assert result.exit_code == 2, result.output
    assert message in result.stderr  # Typer's own choice check, before the command runs
    assert engine.configs == []


def test_a_taken_port_names_the_variable_in_the_env_file(cli, engine, env, tmp_path):
    healthy_stack(engine, {**env})
    engine.containers.clear()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        dotenv = tmp_path / "stack.env"
        dotenv.write_text(f"POSTGRES_PORT={port}\n")
        without_port = {k: v for k, v in env.items() if k != "POSTGRES_PORT"}
        result = cli("--env-file", str(dotenv), "up", env=without_port)
    assert result.exit_code == 1, result.output
    assert error_lines(result.stderr) == [
        f"error: timescaledb port {port} is already in use",
        "hint: stop whatever listens there, or set POSTGRES_PORT to a free port (in .env)",
    ]
    assert engine.configs[0]["compose_env_files"] == [dotenv.absolute()]
    assert "compose.up" not in engine.apis()


def test_an_unhealthy_service_prints_its_logs_and_exits_1(cli, engine, env):
    healthy_stack(engine, env)
    engine.set("redis", health="unhealthy", health_output="NOAUTH Authentication required.")
    engine.logs["redis"] = "1:M * Ready to accept connections tcp\n"
    result = cli("up", "--json", env=env)
    assert result.exit_code == 1
    # Only the failure's own JSON document on stdout: no half a result before it.
    assert json.loads(result.stdout) == {
        "schema_version": 1,
        "error": "redis unhealthy",
        "hint": "fix the cause above, then run `macroinfra up` again; `macroinfra logs SERVICE` "
        "shows more",
        "problems": [
            "redis last healthcheck: NOAUTH Authentication required.",
            "redis last 1 log lines:",
            "  1:M * Ready to accept connections tcp",
        ],
        "exit_code": 1,
    }
    stderr = error_lines(result.stderr)
    assert stderr[0] == "starting containers"  # progress, as status lines without a terminal
    assert stderr[stderr.index("error: redis unhealthy") :] == [
        "error: redis unhealthy",
        "  redis last healthcheck: NOAUTH Authentication required.",
        "  redis last 1 log lines:",
        "    1:M * Ready to accept connections tcp",
        "hint: fix the cause above, then run `macroinfra up` again; `macroinfra logs SERVICE` "
        "shows more",
    ]


# -- down ----------------------------------------------------------------------------------------


def test_down_keeps_data_and_stops_every_profile(cli, engine, env):
    healthy_stack(engine, env, kafka=True)
    result = cli("down", "--json", env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["stopped"] == [
        "timescaledb",
        "redis",
        "mongodb",
        "kafka",
        "minio",
    ]
    (down,) = engine.called("compose.down")
    assert down.kwargs["volumes"] is False and down.profiles == ["full"]


def test_down_volumes_refuses_without_a_terminal_unless_yes(cli, engine, env):
    engine.volumes = ["macroinfra_timescaledb-data", "macroinfra_minio-data"]
    refused = cli("down", "--volumes", env=env, input="y\n")
    assert refused.exit_code == 2
    assert "refusing to delete data volumes without confirmation" in refused.stderr
    assert "compose.down" not in engine.apis()

    done = cli("down", "--volumes", "--yes", "--json", env=env)
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["deleted"] == [
        "macroinfra_minio-data",
        "macroinfra_timescaledb-data",
    ]
    (down,) = engine.called("compose.down")
    assert down.kwargs["volumes"] is True


# -- ps, logs, restart ---------------------------------------------------------------------------


def test_ps_json(cli, engine, env):
    healthy_stack(engine, env)
    result = cli("ps", "--json", env=env)
    assert result.exit_code == 0
    services = {s["name"]: s for s in json.loads(result.stdout)["services"]}
    assert services["kafka"]["state"] == "not created"
    assert services["timescaledb"]["ports"] == [f"127.0.0.1:{env['POSTGRES_PORT']}->5432/tcp"]


def test_logs_prints_the_lines_with_tail_and_follow(cli, engine, env):
    healthy_stack(engine, env)
    engine.logs["redis"] = "a\nb\nc\n"
    result = cli("logs", "redis", "-n", "2", "-f", env=env)
    assert result.exit_code == 0, result.output
    assert result.stdout == "b\nc\n"
    (call,) = engine.called("compose.logs")
    assert call.kwargs == {"tail": "2", "follow": True, "stream": True}


def test_restart_waits_and_reports(cli, engine, env):
    healthy_stack(engine, env)
    result = cli("restart", "mongodb", "--json", env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["restarted"] == ["mongodb"]
    assert engine.called("compose.restart")[0].args == (["mongodb"],)


# -- status --------------------------------------------------------------------------------------


def test_status_env_prints_the_connection_variables_with_their_secrets(cli, env):
    result = cli("status", "--env", env=env)  # no Docker call: nothing is patched
    assert result.exit_code == 0, result.output
    assert cli("status", "-o", "env", env=env).stdout == result.stdout
    values = dotenv_values(stream=io.StringIO(result.stdout))
    assert list(values) == [
        "DATABASE_URL",
        "SQLALCHEMY_DATABASE_URL",
        "REDIS_URL",
        "MONGO_URL",
        "AWS_ENDPOINT_URL_S3",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "S3_BUCKET",
        "AWS_REGION",
        "KAFKA_BOOTSTRAP_SERVERS",
    ]
    where = f"macro_user:s3cr%25t%20p%27w@127.0.0.1:{env['POSTGRES_PORT']}/macro_trading"
    assert values["DATABASE_URL"] == f"postgresql://{where}"  # libpq's: psql, psycopg
    assert values["SQLALCHEMY_DATABASE_URL"] == f"postgresql+psycopg://{where}"
    assert values["AWS_SECRET_ACCESS_KEY"] == SECRET
    assert values["KAFKA_BOOTSTRAP_SERVERS"] == env["KAFKA_BOOTSTRAP_SERVERS"]
    assert values["AWS_REGION"] == "us-east-1"  # MinIO's default, as boto3 must sign for it
    # ... and a POSIX shell reads the same values.
    shell = subprocess.run(
        ["sh", "-c", 'eval "$(cat)"; printf "%s\\n" "$AWS_SECRET_ACCESS_KEY" "$MONGO_URL"'],
        input=result.stdout,
        capture_output=True,
        text=True,
        check=True,
    )
    assert shell.stdout.splitlines() == [SECRET, values["MONGO_URL"]]


def test_status_env_carries_the_managed_services_security(cli, env, tmp_path):
    """Kafka's protocol, mechanism and user, MongoDB's TLS and the store's CA reach the
    variables a notebook reads; the SASL password only as a secret."""
    from tls.certs import make_certs

    ca = make_certs(tmp_path / "certs").ca
    secure = {
        **env,
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_MECHANISM": "SCRAM-SHA-256",
        "KAFKA_SASL_USERNAME": "reader",
        "KAFKA_SASL_PASSWORD": "kafka-pw-9f1",
        "MONGO_TLS": "true",
        "MONGO_TLS_CA": str(ca),
        "MINIO_SECURE": "true",
        "MINIO_CA": str(ca),
    }
    revealed = dotenv_values(stream=io.StringIO(cli("status", "--env", env=secure).stdout))
    assert revealed["KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert revealed["KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-256"
    assert revealed["KAFKA_SASL_PASSWORD"] == "kafka-pw-9f1"
    assert revealed["AWS_CA_BUNDLE"] == str(ca)
    assert revealed["AWS_ENDPOINT_URL_S3"].startswith("https://")
    mongo = revealed["MONGO_URL"]
    assert "tls=true" in mongo and "tlsCAFile=" in mongo, mongo
    shown = cli("status", env=secure)
    assert shown.exit_code in (0, 1) and "kafka-pw-9f1" not in shown.output


def test_status_env_database_urls_connect_with_psql_and_sqlalchemy(stack_cli):
    result = stack_cli("status", "--env")
    assert result.exit_code == 0, result.output
    values = dotenv_values(stream=io.StringIO(result.stdout))
    psql = subprocess.run(
        ["psql", values["DATABASE_URL"], "-tAc", "select 1"], capture_output=True, text=True
    )
    assert (psql.returncode, psql.stdout.strip()) == (0, "1"), psql.stderr
    engine = sqlalchemy.create_engine(values["SQLALCHEMY_DATABASE_URL"])
    try:
        with engine.connect() as conn:
            assert conn.execute(sqlalchemy.text("select 1")).scalar() == 1
    finally:
        engine.dispose()


def test_status_without_env_never_shows_a_secret(cli, engine, env):
    healthy_stack(engine, env)
    table = cli("status", env=env)
    doc = cli("status", "--json", env=env)
    assert table.exit_code == doc.exit_code == 0, table.output
    for output in (table.output, doc.output):
        assert SECRET not in output and "s3cr%25t" not in output
    connection = {v["name"]: v for v in json.loads(doc.stdout)["connection"]}
    assert connection["DATABASE_URL"]["value"].startswith("postgresql://macro_user:***@")
    assert connection["SQLALCHEMY_DATABASE_URL"]["value"].startswith(
        "postgresql+psycopg://macro_user:***@"
    )
    assert connection["AWS_SECRET_ACCESS_KEY"] == {
        "name": "AWS_SECRET_ACCESS_KEY",
        "value": "***",
        "secret": True,
        "service": "minio",
    }
    assert json.loads(doc.stdout)["stack"]["runtime"] == "compose"


def test_status_takes_one_output_form(cli, env):
    for args in (["--env", "--json"], ["-o", "yaml"], ["-o", "env", "--json"]):
        result = cli("status", *args, env=env)
        assert result.exit_code == 2, args
        assert result.stderr.startswith("error: choose one output")


# -- the external runtime ------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["up", "down", "restart"])
def test_external_explains_and_does_nothing(cli, engine, command):
    result = cli(command, "--runtime", "external")
    assert result.exit_code == 0, result.output
    assert "services are managed elsewhere (runtime 'external')" in result.stderr
    assert engine.configs == []


def test_external_has_no_logs(cli):
    result = cli("logs", "--runtime", "external")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: services are managed elsewhere")


@pytest.mark.parametrize(
    "value",
    [
        "plain",
        "with space",
        "it's",
        "back\\slash",
        "dollar$HOME",
        "brace${HOME}",
        'q"uote',
        "all'of$`\"\\them",
        "",
    ],
)
def test_env_quoting_is_read_back_by_the_shell(value):
    line = f"V={env_quote(value)}\n"
    shell = subprocess.run(
        ["sh", "-c", 'eval "$(cat)"; printf "%s" "$V"'],
        input=line,
        capture_output=True,
        text=True,
        check=True,
    )
    assert shell.stdout == value
    dotenv_can = "${" not in value and not ("'" in value and any(c in value for c in '$`"\\'))
    if dotenv_can:  # python-dotenv reads the same value
        assert dotenv_values(stream=io.StringIO(line), interpolate=True)["V"] == value


# -- the local runtime: logs and restart, for real -----------------------------------------------


def test_local_logs_tail_one_service_or_all_with_prefixes(stack_cli, stack_settings):
    one = stack_cli("logs", "timescaledb", "--tail", "2")
    assert one.exit_code == 0, one.output
    pg_log = (stack_settings.state_dir / "postgres.log").read_text().splitlines()
    assert one.stdout.splitlines() == pg_log[-2:]
    both = stack_cli("logs", "-n", "1")
    assert both.exit_code == 0, both.output
    lines = both.stdout.splitlines()
    assert [ln.split(" | ")[0] for ln in lines] == ["timescaledb", "redis"]
    not_here = stack_cli("logs", "kafka")
    assert not_here.exit_code == 2 and "does not run kafka" in not_here.stderr


def test_local_logs_follow_yields_appended_lines(tmp_path):
    runtime = LocalRuntime(load_settings(None, state_dir=tmp_path))
    runtime.server("redis").log.write_text("old 1\nold 2\n")
    lines = runtime.logs("redis", follow=True, tail=1)
    assert next(lines) == "old 2"
    with runtime.server("redis").log.open("a") as f:
        f.write("new 1\npartial")
    assert next(lines) == "new 1"  # whole lines only: "partial" waits for its newline
    with runtime.server("redis").log.open("a") as f:
        f.write(" line\n")
    assert next(lines) == "partial line"
    lines.close()


def test_local_restart_restarts_only_the_named_server():
    with own_local_stack(start=True) as settings:
        runtime = LocalRuntime(settings)
        postgres, redis_server = runtime.server("timescaledb"), runtime.server("redis")
        pg_pid, redis_pid = postgres.pid(), redis_server.pid()
        result = runtime.restart(["redis"], timeout=60)
        assert result.restarted == ["redis"]
        assert postgres.pid() == pg_pid and redis_server.pid() != redis_pid
        assert redis.Redis(host="127.0.0.1", port=settings.redis_port).ping()
        everything = runtime.restart(timeout=60)
        assert everything.restarted == ["timescaledb", "redis"]
        assert postgres.pid() != pg_pid
        with psycopg.connect(settings.libpq_url) as conn:
            assert conn.execute("select 1").fetchone() == (1,)


def test_status_exits_1_when_the_stack_is_not_running(cli, tmp_path):
    stopped = {
        "MACROINFRA_RUNTIME": "local",
        "MACROINFRA_STATE_DIR": str(tmp_path),
        "POSTGRES_PORT": str(free_port()),
        "REDIS_PORT": str(free_port()),
    }
    table = cli("status", env=stopped)
    doc = cli("status", "--json", env=stopped)
    assert table.exit_code == doc.exit_code == 1
    assert "the stack is not running: start it with `macroinfra up`" in table.stderr
    assert json.loads(doc.stdout)["running"] is False


def test_status_exits_0_when_the_stack_runs(stack_cli):
    result = stack_cli("status", "--json", "--runtime", "local")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["running"] is True
