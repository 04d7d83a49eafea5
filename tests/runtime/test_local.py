"""The local runtime for real: PostgreSQL + TimescaleDB and Redis as processes on 127.0.0.1."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import psycopg
import pytest
import redis
from helpers import Cli, free_port, own_local_stack

from macroinfra.settings import load_settings


@pytest.fixture
def own_stack():
    """Settings for a stack of this test's own (not started), torn down afterwards."""
    with own_local_stack(postgres_password="local%pw", redis_password="redis pw") as settings:
        yield settings


def _states(result) -> dict[str, str]:
    return {s["name"]: s["state"] for s in json.loads(result.stdout)["services"]}


def test_up_ps_down_keeps_data_and_down_volumes_deletes_it(own_stack):
    cli = Cli(own_stack)
    up = cli("up", "--json")
    assert up.exit_code == 0, up.output
    doc = json.loads(up.stdout)
    assert doc["runtime"] == "local" and doc["started"] == ["timescaledb", "redis"]
    assert _states(up) == {
        "timescaledb": "running",
        "redis": "running",
        "mongodb": "not provided",
        "kafka": "not provided",
        "minio": "not provided",
    }

    # Both accept authenticated clients on 127.0.0.1 and nowhere else.
    with psycopg.connect(own_stack.libpq_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)")
        assert conn.execute("SHOW listen_addresses").fetchone() == ("127.0.0.1",)
        assert "timescaledb" in conn.execute("SHOW shared_preload_libraries").fetchone()[0]
    r = redis.Redis.from_url(own_stack.redis_connection_url)  # REDIS_HOST is 127.0.0.1
    r.set("kept", "yes")
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(host="127.0.0.1", port=own_stack.redis_port, password="wrong").ping()
    r.close()

    again = cli("up", "--json")
    assert again.exit_code == 0
    assert json.loads(again.stdout)["already_running"] == ["timescaledb", "redis"]
    assert json.loads(again.stdout)["started"] == []

    ps = cli("ps", "--json")
    assert _states(ps)["timescaledb"] == "running"
    assert "not run by the local runtime" in ps.stdout

    down = cli("down", "--json")
    assert down.exit_code == 0
    assert json.loads(down.stdout)["stopped"] == ["timescaledb", "redis"]
    assert _states(cli("ps", "--json"))["redis"] == "stopped"
    assert (Path(own_stack.state_dir) / "postgres" / "PG_VERSION").exists()

    assert cli("up").exit_code == 0
    with psycopg.connect(own_stack.libpq_url) as conn:
        assert conn.execute("SELECT v FROM kept").fetchone() == (42,)
    r = redis.Redis.from_url(own_stack.redis_connection_url, decode_responses=True)
    assert r.get("kept") == "yes"
    r.close()

    refused = cli("down", "--volumes")  # no terminal, no --yes
    assert refused.exit_code == 2 and "--yes" in refused.stderr
    assert _states(cli("ps", "--json"))["timescaledb"] == "running"

    gone = cli("down", "--volumes", "--yes", "--json")
    assert gone.exit_code == 0, gone.output
    assert str(Path(own_stack.state_dir) / "postgres") in json.loads(gone.stdout)["deleted"]
    assert not (Path(own_stack.state_dir) / "postgres").exists()


def test_taken_port_is_reported_before_anything_starts(own_stack):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", own_stack.postgres_port))
        squatter.listen()
        result = Cli(own_stack)("up")
    assert result.exit_code == 1
    assert f"timescaledb port {own_stack.postgres_port} is already in use" in result.stderr
    assert "POSTGRES_PORT" in result.stderr
    assert not (Path(own_stack.state_dir) / "postgres").exists()  # nothing was started


def test_missing_server_binaries_say_what_to_install(own_stack, tmp_path):
    result = Cli(own_stack)("up", env={"MACROINFRA_PG_BINDIR": str(tmp_path)})
    assert result.exit_code == 1
    assert "no PostgreSQL server found" in result.stderr
    assert "postgresql-17-timescaledb" in result.stderr


def test_local_runtime_refuses_services_it_does_not_run(own_stack):
    result = Cli(own_stack)("up", "mongodb")
    assert result.exit_code == 2
    assert "does not run mongodb" in result.stderr


def test_unknown_service_lists_valid_names(own_stack):
    result = Cli(own_stack)("up", "postgres")
    assert result.exit_code == 2
    assert "'postgres' is not one of" in result.stderr
    assert "'timescaledb', 'redis', 'mongodb', 'kafka', 'minio'" in result.stderr


def test_wrong_password_for_an_existing_cluster_is_an_auth_failure(own_stack):
    cli = Cli(own_stack)
    assert cli("up", "timescaledb").exit_code == 0
    result = cli("up", "timescaledb", env={"POSTGRES_PASSWORD": "changed-later"})
    assert result.exit_code == 1
    assert "rejected the credentials" in result.stderr
    assert "changed-later" not in result.output


def test_redis_password_with_quotes_and_line_breaks(own_stack):
    password = 'line one\nline "two"\\ end'
    cli = Cli(own_stack)
    result = cli("up", "redis", env={"REDIS_PASSWORD": password})
    assert result.exit_code == 0, result.output
    client = redis.Redis(host="127.0.0.1", port=own_stack.redis_port, password=password)
    assert client.ping() is True
    client.close()
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(host="127.0.0.1", port=own_stack.redis_port, password="line one").ping()


def test_an_empty_data_folder_left_by_an_interrupted_start_is_reused(own_stack):
    (Path(own_stack.state_dir) / "postgres").mkdir()
    result = Cli(own_stack)("up", "timescaledb")
    assert result.exit_code == 0, result.output
    assert (Path(own_stack.state_dir) / "postgres" / "PG_VERSION").exists()


def test_a_data_folder_with_foreign_files_is_left_alone(own_stack):
    folder = Path(own_stack.state_dir) / "postgres"
    folder.mkdir()
    (folder / "notes.txt").write_text("not a cluster")
    result = Cli(own_stack)("up", "timescaledb")
    assert result.exit_code == 1
    assert "holds files but no PostgreSQL cluster" in result.stderr
    assert (folder / "notes.txt").read_text() == "not a cluster"


def test_a_state_folder_that_cannot_be_made_is_one_clear_line(own_stack, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = Cli(own_stack)("up", env={"MACROINFRA_STATE_DIR": str(blocker / "state")})
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: cannot create the state folder {blocker / 'state'}")
    assert "MACROINFRA_STATE_DIR" in result.stderr and "Traceback" not in result.output


def test_ps_shows_each_running_servers_health(stack_cli):
    result = stack_cli("ps", "--json", "--runtime", "local")
    services = {s["name"]: s for s in json.loads(result.stdout)["services"]}
    assert services["timescaledb"]["health"] == services["redis"]["health"] == "ready"
    assert services["mongodb"]["health"] is None  # not run here: no health to show


@pytest.mark.parametrize(
    ("status", "health"), [("starting", "starting"), ("stopping", "stopping"), ("ready", None)]
)
def test_postgres_health_follows_the_postmasters_own_status(tmp_path, status, health):
    from macroinfra.runtime.local.postgres import PostgresServer

    server = PostgresServer(load_settings(), tmp_path)
    server.data.mkdir()
    port = free_port()  # nothing listens there: "ready" in the file, yet unreachable
    lines = ["1", str(server.data), "0", str(port), "", "127.0.0.1", "0 0", status]
    server.pidfile.write_text("\n".join(lines) + "\n")
    assert server.health(port) == (health or "unreachable")


def test_up_ends_with_how_to_connect_and_the_next_step(own_stack):
    result = Cli(own_stack)("up")
    assert result.exit_code == 0, result.output
    port = own_stack.postgres_port
    assert f"DATABASE_URL=postgresql://macro_user:***@127.0.0.1:{port}/macro_trading" in (
        result.stderr
    )
    assert f"REDIS_URL=redis://default:***@127.0.0.1:{own_stack.redis_port}/0" in result.stderr
    assert "next: `macroinfra migrate`" in result.stderr
    assert "local%pw" not in result.output and "local%25pw" not in result.output
    assert "MONGO_URL" not in result.stderr  # not run here: no address to give
