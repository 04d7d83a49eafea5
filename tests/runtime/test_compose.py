"""The compose runtime's calls at the python-on-whales boundary, against RecordingDockerClient
(no Docker engine runs on these machines; see tests/compose_double.py). Everything on this side
of the boundary is real: settings, port pre-flight (real sockets), waiting, error mapping."""

from __future__ import annotations

import socket
import time

import pytest
from compose_double import FakeEngine, inspect_json
from helpers import free_port
from pydantic import SecretStr

from macroinfra.errors import ConfigError, OperationError, ServiceUnavailable, UsageError
from macroinfra.runtime.compose import (
    DOLLAR_IN_ENV,
    LOG_LINES,
    POLL_S,
    PROJECT,
    ComposeRuntime,
    classify_docker_output,
    compose_file,
)
from macroinfra.runtime.compose import runtime as compose_runtime
from macroinfra.settings import Settings, load_settings

DEFAULTS = ["timescaledb", "redis", "mongodb", "minio"]
PROJECT_LABEL = [("label", f"com.docker.compose.project={PROJECT}")]


@pytest.fixture
def settings() -> Settings:
    """Every published port free, so the real pre-flight passes unless a test takes one."""
    return load_settings(
        None,
        postgres_port=free_port(),
        redis_port=free_port(),
        mongo_port=free_port(),
        minio_endpoint=f"127.0.0.1:{free_port()}",
        kafka_bootstrap_servers=f"127.0.0.1:{free_port()}",
        postgres_password="pg-secret",
        minio_root_password="minio-secret",
    )


@pytest.fixture
def engine() -> FakeEngine:
    return FakeEngine()


@pytest.fixture
def runtime(settings: Settings, engine: FakeEngine) -> ComposeRuntime:
    return ComposeRuntime(settings, client_factory=engine.client)


def host_port(settings: Settings, service: str) -> int:
    return {
        "timescaledb": settings.postgres_port,
        "redis": settings.redis_port,
        "mongodb": settings.mongo_port,
        "minio": int(settings.minio_endpoint.rpartition(":")[2]),
        "kafka": int(settings.kafka_bootstrap_servers.rpartition(":")[2]),
    }[service]


def healthy(settings: Settings, service: str) -> dict:
    if service == "minio-init":
        return inspect_json(service, "exited", None, exit_code=0)
    return inspect_json(service, host_port=host_port(settings, service))


def starting(settings: Settings, service: str) -> dict:
    if service == "minio-init":
        return inspect_json(service, "running", None)
    return inspect_json(service, health="starting", host_port=host_port(settings, service))


def come_up(engine: FakeEngine, settings: Settings, services: list[str]) -> None:
    """Not created before `up`, starting at the first poll, healthy at the second."""
    for s in [*services, *(["minio-init"] if "minio" in services else [])]:
        engine.sequence(s, [None, starting(settings, s), healthy(settings, s)])


def all_healthy(engine: FakeEngine, settings: Settings, services: list[str]) -> None:
    for s in [*services, *(["minio-init"] if "minio" in services else [])]:
        data = healthy(settings, s)
        engine.containers[s] = lambda data=data: data


# -- up --------------------------------------------------------------------------------------


def test_up_starts_the_default_services_detached_then_waits_until_each_is_healthy(
    runtime, engine, settings
):
    come_up(engine, settings, DEFAULTS)
    said: list[str] = []
    result = runtime.up(timeout=30, progress=said.append)

    assert engine.apis() == ["compose.ps", "compose.up", "compose.ps", "compose.ps"]
    (up,) = engine.called("compose.up")
    assert up.args == (None,)  # all services of the active profiles
    assert up.kwargs == {"detach": True, "stream_logs": True}
    assert up.config == {
        "compose_files": [compose_file()],
        "compose_project_name": PROJECT,
        "compose_env_files": [],
        "compose_profiles": [],
    }
    assert engine.called("compose.ps")[0].kwargs == {"services": None, "all": True}
    assert result.runtime == "compose"
    assert result.started == DEFAULTS and result.already_running == []
    states = {s.name: (s.state, s.health) for s in result.services}
    assert states == {
        **dict.fromkeys(DEFAULTS, ("running", "healthy")),
        "kafka": ("not created", None),
    }
    assert any(m.startswith("waiting for timescaledb (starting)") for m in said), said
    minio = next(s for s in result.services if s.name == "minio")
    assert minio.ports == [f"127.0.0.1:{host_port(settings, 'minio')}->9000/tcp"]
    assert minio.detail == f"bucket {settings.minio_bucket} ready"


def test_up_with_profile_full_also_starts_and_waits_for_kafka(runtime, engine, settings):
    come_up(engine, settings, [*DEFAULTS, "kafka"])
    result = runtime.up(timeout=30, profiles=["full"])
    assert {c.api: c.profiles for c in engine.calls} == {
        "compose.ps": ["full"],
        "compose.up": ["full"],
    }
    assert engine.called("compose.up")[0].args == (None,)
    assert result.started == ["timescaledb", "redis", "mongodb", "kafka", "minio"]


def test_naming_kafka_enables_its_profile(runtime, engine, settings):
    come_up(engine, settings, ["kafka"])
    runtime.up(["kafka"], timeout=30)
    (up,) = engine.called("compose.up")
    assert up.args == (["kafka"],) and up.profiles == ["full"]


def test_naming_minio_also_runs_its_bucket_helper_and_waits_for_it(runtime, engine, settings):
    engine.sequence("minio", [None, healthy(settings, "minio")])
    engine.sequence(
        "minio-init", [None, starting(settings, "minio-init"), healthy(settings, "minio-init")]
    )
    result = runtime.up(["minio"], timeout=30)
    (up,) = engine.called("compose.up")
    assert up.args == (["minio", "minio-init"],) and up.profiles == []
    # minio was healthy at the first poll, but not ready until its bucket helper exited 0.
    assert engine.apis().count("compose.ps") == 3
    assert result.started == ["minio"]


def test_up_relays_compose_progress_but_not_image_layer_lines(runtime, engine, settings):
    all_healthy(engine, settings, DEFAULTS)
    engine.up_output = [
        " redis Pulling",
        "a1b2c3d4e5f6 Downloading [==>  ]",
        " Container x  Started",
    ]
    said: list[str] = []
    result = runtime.up(timeout=5, progress=said.append)
    assert "redis Pulling" in said and "Container x  Started" in said
    assert not any("Downloading" in m for m in said)
    assert result.message is None


# Compose's own words (`docker compose config` with POSTGRES_PASSWORD=pg$secret in .env).
UNSET_WARNING = (
    'time="2025-01-01T00:00:00Z" level=warning msg="The \\"secret\\" variable is not '
    'set. Defaulting to a blank string."'
)


def test_up_progress_never_shows_a_secret_or_part_of_one(engine, settings):
    dollar = settings.model_copy(update={"postgres_password": SecretStr("pg$secret")})
    runtime = ComposeRuntime(dollar, client_factory=engine.client)
    all_healthy(engine, settings, DEFAULTS)
    engine.up_output = [UNSET_WARNING, " Container x  Error: pg$secret rejected", UNSET_WARNING]
    said: list[str] = []
    result = runtime.up(timeout=5, progress=said.append)
    assert "Container x  Error: *** rejected" in said
    assert not any("secret" in m for m in said), said
    # ... and the warning, which names part of the secret, becomes one line of advice.
    assert result.message == DOLLAR_IN_ENV and "single quotes in .env" in DOLLAR_IN_ENV


def test_a_failing_up_never_quotes_the_unset_variable_warning(runtime, engine, settings):
    all_healthy(engine, settings, DEFAULTS)
    engine.fail("compose.up", f"{UNSET_WARNING}\n")
    with pytest.raises(OperationError) as caught:
        runtime.up(timeout=5)
    assert "secret" not in caught.value.message


def test_up_no_wait_returns_once_started(runtime, engine, settings):
    for s in [*DEFAULTS, "minio-init"]:
        engine.sequence(s, [None, starting(settings, s)])
    result = runtime.up(timeout=30, wait=False)
    assert engine.apis() == ["compose.ps", "compose.up", "compose.ps"]
    assert {s.name: s.health for s in result.services}["redis"] == "starting"


def test_up_is_idempotent_our_own_published_ports_are_not_taken(runtime, engine, settings):
    all_healthy(engine, settings, DEFAULTS)
    with _listening(settings.postgres_port), _listening(settings.redis_port):  # our containers
        result = runtime.up(timeout=5)
    assert result.started == [] and result.already_running == DEFAULTS
    assert engine.apis() == ["compose.ps", "compose.up", "compose.ps"]


def test_a_taken_port_is_named_with_its_variable_before_anything_starts(runtime, engine):
    with _listening(runtime.settings.postgres_port), _listening(runtime.settings.mongo_port):
        with pytest.raises(OperationError) as caught:
            runtime.up(timeout=30)
    err = caught.value
    assert f"timescaledb port {runtime.settings.postgres_port} is already in use" in err.message
    assert "mongodb" in err.message
    assert "POSTGRES_PORT" in err.hint and "MONGO_PORT" in err.hint
    assert engine.apis() == ["compose.ps"]  # no `compose up`


def test_an_unhealthy_service_fails_with_its_logs_and_last_healthcheck(runtime, engine, settings):
    all_healthy(engine, settings, DEFAULTS)
    failing = inspect_json(
        "timescaledb",
        health="unhealthy",
        health_output="psql: error: FATAL:  password authentication failed\n",
        host_port=settings.postgres_port,
    )
    engine.sequence("timescaledb", [None, starting(settings, "timescaledb"), failing])
    engine.logs["timescaledb"] = "".join(f"log line {i} pg-secret\n" for i in range(30))
    with pytest.raises(ServiceUnavailable) as caught:
        runtime.up(timeout=30)
    err = caught.value
    assert err.message == "timescaledb unhealthy"
    assert err.problems[0] == (
        "timescaledb last healthcheck: psql: error: FATAL:  password authentication failed"
    )
    assert err.problems[1] == f"timescaledb last {LOG_LINES} log lines:"
    assert err.problems[2:] == [f"  log line {i} ***" for i in range(30 - LOG_LINES, 30)]
    (logs,) = engine.called("compose.logs")
    assert logs.args == (["timescaledb"],) and logs.kwargs == {"tail": str(LOG_LINES)}


def test_the_bucket_helper_failing_is_reported_with_its_logs(runtime, engine, settings):
    all_healthy(engine, settings, DEFAULTS)
    engine.sequence("minio-init", [None, inspect_json("minio-init", "exited", None, exit_code=1)])
    engine.logs["minio-init"] = "mc: <ERROR> Unable to make bucket\n"
    with pytest.raises(ServiceUnavailable) as caught:
        runtime.up(timeout=30)
    assert caught.value.message == "minio-init exited with code 1"
    assert "  mc: <ERROR> Unable to make bucket" in caught.value.problems


def test_a_timeout_names_what_is_still_waiting(runtime, engine, settings):
    all_healthy(engine, settings, DEFAULTS)
    engine.set(
        "mongodb",
        health="starting",
        host_port=settings.mongo_port,
        health_output="MongoNetworkError: connect ECONNREFUSED",
    )
    started = time.monotonic()
    with pytest.raises(ServiceUnavailable) as caught:
        runtime.up(timeout=0.3)
    assert time.monotonic() - started < 0.3 + 2 * POLL_S
    assert caught.value.message == "not ready after 0.3 s: mongodb (starting)"
    assert caught.value.problems[0].startswith("mongodb last healthcheck: MongoNetworkError")
    assert "--timeout" in caught.value.hint


def test_waiting_polls_at_a_bounded_interval(runtime, engine, settings, monkeypatch):
    """`up` returns within one poll interval (plus one poll) of the last service turning
    healthy: it never sleeps longer than POLL_S between polls."""
    sleeps: list[float] = []
    monkeypatch.setattr(compose_runtime.time, "sleep", sleeps.append)
    all_healthy(engine, settings, DEFAULTS)
    engine.sequence("redis", [None, *[starting(settings, "redis")] * 5, healthy(settings, "redis")])
    runtime.up(timeout=30)
    assert len(sleeps) == 5 and all(0 < s <= POLL_S for s in sleeps)
    assert POLL_S <= 0.5


# -- down, volumes, ps -----------------------------------------------------------------------


def test_down_stops_every_profiles_services_and_keeps_volumes(runtime, engine, settings):
    all_healthy(engine, settings, [*DEFAULTS, "kafka"])
    result = runtime.down()
    (down,) = engine.called("compose.down")
    assert down.profiles == ["full"]  # kafka too, though started under a profile
    assert down.args == (None,)
    assert down.kwargs == {"remove_orphans": True, "volumes": False, "quiet": True}
    assert "volume.list" not in engine.apis()
    assert result.stopped == ["timescaledb", "redis", "mongodb", "kafka", "minio"]
    assert result.deleted == []


def test_down_volumes_deletes_only_this_projects_volumes(runtime, engine):
    engine.volumes = ["macroinfra_timescaledb-data", "macroinfra_redis-data"]
    assert runtime.volumes() == ["macroinfra_redis-data", "macroinfra_timescaledb-data"]
    result = runtime.down(volumes=True)
    for call in engine.called("volume.list"):
        assert call.kwargs == {"filters": PROJECT_LABEL}
    (down,) = engine.called("compose.down")
    assert down.kwargs["volumes"] is True and down.profiles == ["full"]
    assert down.config["compose_project_name"] == PROJECT
    assert result.deleted == ["macroinfra_redis-data", "macroinfra_timescaledb-data"]


def test_ps_reports_state_health_ports_and_why(runtime, engine, settings):
    engine.set("timescaledb", health="healthy", host_port=settings.postgres_port)
    engine.set("redis", "exited", None, exit_code=137)
    engine.set("minio", host_port=host_port(settings, "minio"))
    engine.set("minio-init", "exited", None, exit_code=1)
    states = {s.name: s for s in runtime.ps().services}
    assert engine.called("compose.ps")[0].profiles == ["full"]
    assert states["timescaledb"].ports == [f"127.0.0.1:{settings.postgres_port}->5432/tcp"]
    assert (states["redis"].state, states["redis"].detail) == ("exited", "exited with code 137")
    assert states["mongodb"].state == "not created" and states["mongodb"].detail is None
    assert states["kafka"].detail == "profile full: `macroinfra up --profile full`"
    assert states["minio"].detail == (
        f"bucket {settings.minio_bucket} not created: minio-init exited with code 1"
    )


# -- logs, restart ---------------------------------------------------------------------------


def test_logs_stream_one_service_with_tail_and_follow(runtime, engine, settings):
    all_healthy(engine, settings, DEFAULTS)
    engine.logs["redis"] = "one\ntwo\nthree\n"
    assert list(runtime.logs("redis", tail=2, follow=True)) == ["two", "three"]
    (call,) = engine.called("compose.logs")
    assert call.args == (["redis"],) and call.profiles == ["full"]
    assert call.kwargs == {"tail": "2", "follow": True, "stream": True}


def test_logs_of_minio_include_its_bucket_helper_and_no_service_means_all(
    runtime, engine, settings
):
    all_healthy(engine, settings, DEFAULTS)
    list(runtime.logs("minio"))
    list(runtime.logs())
    first, second = engine.called("compose.logs")
    assert first.args == (["minio", "minio-init"],) and second.args == ([],)
    assert first.kwargs == {"tail": None, "follow": False, "stream": True}


def test_logs_of_a_service_that_is_not_created(runtime, engine):
    with pytest.raises(OperationError, match="mongodb is not created"):
        runtime.logs("mongodb")
    assert engine.apis() == ["compose.ps"]


def test_restart_restarts_the_named_services_and_waits(runtime, engine, settings):
    all_healthy(engine, settings, DEFAULTS)
    engine.sequence(
        "redis",
        [healthy(settings, "redis"), starting(settings, "redis"), healthy(settings, "redis")],
    )
    result = runtime.restart(["redis"], timeout=30)
    (call,) = engine.called("compose.restart")
    assert call.args == (["redis"],) and call.kwargs == {"timeout": None}
    assert engine.apis() == ["compose.ps", "compose.restart", "compose.ps", "compose.ps"]
    assert result.restarted == ["redis"]


def test_restart_without_names_restarts_every_created_service(runtime, engine, settings):
    all_healthy(engine, settings, DEFAULTS)
    runtime.restart(timeout=30)
    (call,) = engine.called("compose.restart")
    assert call.args == (["timescaledb", "redis", "mongodb", "minio", "minio-init"],)


def test_restart_of_a_service_that_is_not_created(runtime, engine):
    with pytest.raises(OperationError, match="kafka is not created") as caught:
        runtime.restart(["kafka"], timeout=30)
    assert caught.value.hint == "start it with `macroinfra up kafka`"
    assert "compose.restart" not in engine.apis()


# -- rejected before any Docker call ---------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda rt: rt.up(["timescaledb", "postgres"], timeout=30),
        lambda rt: rt.restart(["postgres"], timeout=30),
        lambda rt: rt.logs("postgres"),
    ],
    ids=["up", "restart", "logs"],
)
def test_unknown_services_are_rejected_before_any_docker_call(runtime, engine, call):
    with pytest.raises(UsageError) as caught:
        call(runtime)
    assert caught.value.message == "unknown service postgres"
    assert caught.value.hint == "valid services: timescaledb, redis, mongodb, kafka, minio"
    assert engine.configs == [] and engine.calls == []


def test_unknown_profiles_are_rejected_before_any_docker_call(runtime, engine):
    with pytest.raises(UsageError, match="unknown profile kafka"):
        runtime.up(profiles=["kafka"], timeout=30)
    assert engine.calls == []


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("MINIO_ENDPOINT", "localhost:9000"),
        ("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092,127.0.0.1:9093"),
    ],
)
def test_an_endpoint_compose_cannot_publish_is_a_config_error(engine, variable, value):
    settings = load_settings(None, **{variable.lower(): value})
    rt = ComposeRuntime(settings, client_factory=engine.client)
    with pytest.raises(ConfigError) as caught:
        rt.up(profiles=["full"], timeout=30)
    assert caught.value.message == f"{variable} must be ip:port, not {value!r}"
    assert engine.calls == []


# -- the .env that drives the settings drives Compose ----------------------------------------


def test_the_named_env_file_is_handed_to_compose(settings, engine, tmp_path):
    env = tmp_path / "team.env"
    env.write_text("POSTGRES_PORT=15432\n")
    ComposeRuntime(load_settings(env), client_factory=engine.client).ps()
    assert engine.configs[0]["compose_env_files"] == [env.absolute()]


def test_the_default_env_file_is_the_one_in_the_working_folder(
    settings, engine, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    ComposeRuntime(load_settings(), client_factory=engine.client).ps()
    (tmp_path / ".env").write_text("REDIS_PORT=16379\n")
    ComposeRuntime(load_settings(), client_factory=engine.client).ps()
    assert [c["compose_env_files"] for c in engine.configs] == [[], [tmp_path / ".env"]]


# -- python-on-whales errors become one line -------------------------------------------------

# What docker and Compose print, recorded on these machines.
NO_ENGINE = "Cannot connect to the Docker daemon at unix:///tmp/x/docker.sock. Is the docker daemon running?\n"  # noqa: E501
NO_PERMISSION = (
    "permission denied while trying to connect to the Docker daemon socket at "
    'unix:///var/run/docker.sock: Get "http://%2Fvar%2Frun%2Fdocker.sock/v1.45/containers/json'
    '?all=1": dial unix /var/run/docker.sock: connect: permission denied\n'
)
NO_COMPOSE_FLAG = "unknown flag: --file\n\nUsage:  docker [OPTIONS] COMMAND [ARG...]\n\nRun 'docker --help' for more information\n"  # noqa: E501
NO_COMPOSE = "docker: unknown command: docker compose\n\nRun 'docker --help' for more information\n"
PORT_RACE = (
    " Container macroinfra-timescaledb-1  Starting\n"
    "Error response from daemon: driver failed programming external connectivity on endpoint "
    "macroinfra-timescaledb-1: Bind for 127.0.0.1:5432 failed: port is already allocated\n"
)


@pytest.mark.parametrize(
    ("stderr", "kind", "message", "hint"),
    [
        (
            NO_ENGINE,
            ServiceUnavailable,
            "no Docker engine answers at unix:///tmp/x/docker.sock",
            "start Docker",
        ),
        (
            NO_PERMISSION,
            ServiceUnavailable,
            "permission denied on the Docker socket unix:///var/run/docker.sock",
            "`docker` group",
        ),
        (
            NO_COMPOSE_FLAG,
            ServiceUnavailable,
            "the Docker Compose v2 plugin is not installed",
            "Compose plugin",
        ),
        (
            NO_COMPOSE,
            ServiceUnavailable,
            "the Docker Compose v2 plugin is not installed",
            "Compose plugin",
        ),
        (
            PORT_RACE,
            OperationError,
            "docker compose up failed: Error response from daemon: driver failed programming "
            "external connectivity on endpoint macroinfra-timescaledb-1: Bind for 127.0.0.1:5432 "
            "failed: port is already allocated",
            "macroinfra logs",
        ),
    ],
    ids=["no-engine", "permission", "no-plugin-flag", "no-plugin", "other"],
)
def test_docker_failures_become_one_line_without_the_command(
    runtime, engine, settings, stderr, kind, message, hint
):
    all_healthy(engine, settings, DEFAULTS)
    engine.fail("compose.up", stderr)
    with pytest.raises(kind) as caught:
        runtime.up(timeout=30)
    err = caught.value
    assert type(err) is kind
    assert err.message.startswith(message) and "\n" not in err.message
    assert hint in err.hint
    assert "--project-name" not in f"{err.message}{err.hint}"  # python-on-whales' command line
    assert err.__cause__ is None and err.__suppress_context__


def test_secrets_are_scrubbed_from_docker_output():
    from macroinfra.redaction import Redactor

    secrets = Redactor.for_settings(
        load_settings(None, postgres_password="pg-secret", minio_root_password="minio/secret")
    ).secrets
    err = classify_docker_output(
        "Error: bad value pg-secret in minio%2Fsecret", "up", secrets=secrets
    )
    assert err.message == "docker compose up failed: Error: bad value *** in ***"


def test_no_docker_client_on_path(runtime, monkeypatch):
    # The real python-on-whales client, with nothing to run.
    monkeypatch.setenv("PATH", "/nonexistent")
    rt = ComposeRuntime(runtime.settings)
    with pytest.raises(ServiceUnavailable, match="no `docker` command on PATH"):
        rt.ps()


class _listening:
    """A socket listening on 127.0.0.1:port, as a published container port would be."""

    def __init__(self, port: int) -> None:
        self.port = port

    def __enter__(self) -> socket.socket:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen()
        return self.sock

    def __exit__(self, *exc: object) -> None:
        self.sock.close()


def test_the_compose_file_is_found_through_the_package_resources():
    from macroinfra.resources import compose_dir

    assert compose_file() == compose_dir() / "docker-compose.yml" and compose_file().is_file()
