"""The compose file, rendered by the real `docker compose config` (it needs no engine), through
the same python-on-whales client the compose runtime builds, and its healthchecks run for real
where this machine has the server (PostgreSQL, Redis)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import redis
from helpers import free_port

from macroinfra.runtime.compose import (
    ONE_SHOTS,
    PROJECT,
    ComposeRuntime,
    compose_file,
    unset_variable_warning,
)
from macroinfra.services import PROFILES, SERVICES
from macroinfra.settings import Settings, load_settings

CUSTOM_ENV = {
    "POSTGRES_PORT": "15432",
    "POSTGRES_USER": "alice",
    "POSTGRES_PASSWORD": "pg-secret-1",
    "POSTGRES_DB": "research",
    "REDIS_PORT": "16379",
    "REDIS_PASSWORD": "redis-secret-2",
    "MONGO_PORT": "17017",
    "MONGO_USER": "bob",
    "MONGO_PASSWORD": "mongo-secret-3",
    "MINIO_ENDPOINT": "127.0.0.1:19000",
    "MINIO_ROOT_USER": "carol",
    "MINIO_ROOT_PASSWORD": "minio-secret-4",
    "MINIO_BUCKET": "research-data",
    "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:19092",
}


def write_env(tmp_path: Path, values: dict[str, str]) -> Path:
    path = tmp_path / ".env"
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    return path


def rendered(env_file: Path, profiles: list[str]) -> dict[str, Any]:
    """`docker compose config --format json`, through the client the runtime builds."""
    runtime = ComposeRuntime(load_settings(env_file))
    return runtime.client(profiles).compose.config(return_json=True)


@pytest.fixture(scope="module")
def default_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_env(tmp_path_factory.mktemp("env"), {})


@pytest.fixture(scope="module")
def full(default_env: Path) -> dict[str, Any]:
    return rendered(default_env, ["full"])


@pytest.fixture(scope="module")
def default(default_env: Path) -> dict[str, Any]:
    return rendered(default_env, [])


def test_compose_v2_plugin_is_installed():
    # Everything below needs it; scripts/install-system.sh installs it on every machine.
    out = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
    assert out.returncode == 0 and "version 2." in out.stdout.lower(), out.stderr


def test_kafka_runs_only_under_the_full_profile(default, full):
    defaults = set(SERVICES) - set(PROFILES["full"])
    assert set(default["services"]) == defaults | set(ONE_SHOTS.values())
    assert set(full["services"]) == set(SERVICES) | set(ONE_SHOTS.values())
    assert full["services"]["kafka"]["profiles"] == ["full"]
    assert default["name"] == full["name"] == PROJECT


def test_the_runtime_knows_every_profile_of_the_file():
    out = subprocess.run(
        ["docker", "compose", "--file", str(compose_file()), "config", "--profiles"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ},
    )
    assert out.stdout.split() == sorted(PROFILES)


def test_every_service_has_a_healthcheck_a_restart_policy_and_a_named_volume(full):
    declared = set(full["volumes"])
    for name in SERVICES:
        service = full["services"][name]
        check = service.get("healthcheck") or {}
        assert check.get("test") and check["test"][0] in ("CMD", "CMD-SHELL"), name
        assert not check.get("disable"), name
        for key in ("start_period", "interval", "timeout"):
            assert _seconds(check[key]) > 0, (name, key)
        assert check["retries"] >= 3, name
        assert service["restart"] == "unless-stopped", name
        volumes = [v for v in service["volumes"] if v["type"] == "volume"]
        assert volumes and all(v["source"] in declared for v in volumes), name
        assert ":" in service["image"] and not service["image"].endswith(":latest"), name


def test_images_are_the_pinned_ones(full):
    images = {name: full["services"][name]["image"] for name in SERVICES}
    assert images == {
        "timescaledb": "timescale/timescaledb:2.18.0-pg16",
        "redis": "redis:7.4.2-alpine",
        "mongodb": "mongo:8.0.4",
        "kafka": "confluentinc/cp-kafka:7.8.0",
        "minio": "minio/minio:RELEASE.2025-02-18T16-25-55Z",
    }
    assert full["services"]["minio-init"]["image"] == images["minio"]
    # A release, not a moving minor tag: x.y.z (any suffix) or MinIO's RELEASE.<date>.
    assert all(re.search(r":(\d+\.\d+\.\d+|RELEASE\.)", i) for i in images.values()), images
    assert not re.search(r"(?m)^version\s*:", compose_file().read_text())


def test_healthchecks_prove_authenticated_service(full):
    def check(name: str) -> str:
        return " ".join(full["services"][name]["healthcheck"]["test"][1:])

    # Not pg_isready: a password login as the configured user into the configured database.
    assert "psql" in check("timescaledb") and "PGPASSWORD" in check("timescaledb")
    assert '-U "$$POSTGRES_USER"' in check("timescaledb") and "pg_isready" not in check(
        "timescaledb"
    )
    assert "REDISCLI_AUTH" in check("redis") and "PONG" in check("redis")
    assert ".auth(process.env.MONGO_INITDB_ROOT_USERNAME" in check("mongodb")
    assert "kafka-broker-api-versions" in check("kafka")
    assert check("minio") == "mc ready local"


def test_timescaledb_starts_with_timescaledb_preloaded(full):
    command = full["services"]["timescaledb"]["command"]
    assert "shared_preload_libraries=timescaledb" in command


def test_minio_bucket_is_created_by_a_one_shot_service(full):
    init = full["services"]["minio-init"]
    script = " ".join(init["command"])
    assert "mc mb --ignore-existing" in script and "$$MINIO_BUCKET" in script
    assert init["restart"] == "no" and "minio" in init["depends_on"]
    assert not init.get("ports") and not init.get("healthcheck")
    assert init["environment"]["MINIO_BUCKET"] == Settings().minio_bucket


def _claimed(settings: Settings) -> dict[str, tuple[str, int]]:
    """What the compose runtime's port pre-flight checks, by service."""
    return {c.service: (c.host, c.port) for c in ComposeRuntime(settings).port_claims(SERVICES)}


def test_every_published_port_binds_loopback_on_the_settings_ports(full):
    published = _published(full)
    assert all(host == "127.0.0.1" for host, _port in published.values()), published
    expected = _claimed(Settings())
    assert published == expected
    assert expected["timescaledb"] == ("127.0.0.1", 5432)


def test_variables_resolve_from_the_env_file_that_drives_the_settings(tmp_path):
    env = write_env(tmp_path, CUSTOM_ENV)
    config = rendered(env, ["full"])
    settings = load_settings(env)

    # The ports the runtime pre-flights are exactly the ones Compose publishes.
    published = _published(config)
    assert published == _claimed(settings)
    assert published["timescaledb"] == ("127.0.0.1", 15432)
    assert published["minio"] == ("127.0.0.1", 19000)

    services = config["services"]
    assert {
        "POSTGRES_USER": "alice",
        "POSTGRES_PASSWORD": "pg-secret-1",
        "POSTGRES_DB": "research",
    }.items() <= services["timescaledb"]["environment"].items()
    assert services["redis"]["environment"]["REDIS_PASSWORD"] == "redis-secret-2"
    assert services["mongodb"]["environment"]["MONGO_INITDB_ROOT_USERNAME"] == "bob"
    assert services["minio"]["environment"]["MINIO_ROOT_USER"] == "carol"
    assert services["minio-init"]["environment"]["MINIO_BUCKET"] == "research-data"
    listeners = services["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"]
    assert "HOST://127.0.0.1:19092" in listeners.split(",")


def test_compose_defaults_are_the_settings_defaults(default):
    s = Settings()
    env = {name: default["services"][name]["environment"] for name in default["services"]}
    assert env["timescaledb"]["POSTGRES_USER"] == s.postgres_user
    assert env["timescaledb"]["POSTGRES_PASSWORD"] == s.postgres_password.get_secret_value()
    assert env["timescaledb"]["POSTGRES_DB"] == s.postgres_db
    assert env["redis"]["REDIS_PASSWORD"] == ""  # no AUTH, as REDIS_PASSWORD unset
    assert env["mongodb"]["MONGO_INITDB_ROOT_USERNAME"] == s.mongo_user
    assert env["mongodb"]["MONGO_INITDB_ROOT_PASSWORD"] == s.mongo_password.get_secret_value()
    assert env["minio"]["MINIO_ROOT_USER"] == s.minio_root_user
    assert env["minio"]["MINIO_ROOT_PASSWORD"] == s.minio_root_password.get_secret_value()


def test_secrets_appear_only_in_the_environment_of_the_containers_that_need_them(tmp_path):
    config = rendered(write_env(tmp_path, CUSTOM_ENV), ["full"])
    text = json.dumps(config)
    holders = {"pg-secret-1": 1, "redis-secret-2": 1, "mongo-secret-3": 1, "minio-secret-4": 2}
    for secret, times in holders.items():
        assert text.count(secret) == times, secret  # not in any command or healthcheck
    for service in config["services"].values():
        command = json.dumps([service.get("command"), service.get("healthcheck")])
        assert "secret" not in command


def test_a_dollar_in_a_secret_the_warning_compose_gives_and_the_advice_that_fixes_it(tmp_path):
    """Compose reads `$secret` in pg$secret as a variable and warns naming it, so the compose
    runtime must recognise that warning (it never shows it) and advise single quotes."""
    env_file = tmp_path / ".env"

    def config(line: str) -> tuple[str, list[str]]:
        env_file.write_text(line)
        out = subprocess.run(
            [
                "docker",
                "compose",
                "--file",
                str(compose_file()),
                "--env-file",
                str(env_file),
                "config",
                "--format",
                "json",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        services = json.loads(out.stdout)["services"]
        password = services["timescaledb"]["environment"]["POSTGRES_PASSWORD"]
        return password.replace("$$", "$"), out.stderr.splitlines()

    password, warnings = config("POSTGRES_PASSWORD=pg$secret\n")
    assert password == "pg" and any("secret" in w for w in warnings), warnings
    assert all(unset_variable_warning(w) for w in warnings), warnings
    password, warnings = config("POSTGRES_PASSWORD='pg$secret'\n")  # as DOLLAR_IN_ENV advises
    assert warnings == []
    assert password == load_settings(env_file).postgres_password.get_secret_value() == "pg$secret"


# -- the healthchecks and the Redis start script, run for real ---------------------------------


def _container_script(text: str) -> str:
    """What the container's shell runs: Compose turns `$$` into `$`."""
    return text.replace("$$", "$")


def test_timescaledb_healthcheck_passes_with_the_password_and_fails_without(stack_settings, full):
    script = _container_script(full["services"]["timescaledb"]["healthcheck"]["test"][1])
    s = stack_settings
    env = {
        "PATH": os.environ["PATH"],
        "PGPORT": str(s.postgres_port),
        "POSTGRES_USER": s.postgres_user,
        "POSTGRES_DB": s.postgres_db,
    }
    password = s.postgres_password.get_secret_value()
    ok = subprocess.run(
        ["sh", "-c", script],
        capture_output=True,
        text=True,
        env={**env, "POSTGRES_PASSWORD": password},
    )
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run(
        ["sh", "-c", script],
        capture_output=True,
        text=True,
        env={**env, "POSTGRES_PASSWORD": "wrong"},
    )
    assert bad.returncode != 0 and "password authentication failed" in bad.stderr


@pytest.mark.parametrize("password", ['we"ird \\pa$s word', ""])
def test_redis_start_script_and_healthcheck_with_the_real_server(tmp_path, full, password):
    """The redis service's own start script, with stand-ins for the image's entrypoint (which
    only drops privileges) and chown; the server listens on a free port on 127.0.0.1."""
    port = free_port()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker-entrypoint.sh").write_text(
        f'#!/bin/sh\nexec "$@" --port {port} --bind 127.0.0.1 --dir {tmp_path} --daemonize no\n'
    )
    (bin_dir / "chown").write_text("#!/bin/sh\nexit 0\n")
    for f in bin_dir.iterdir():
        f.chmod(0o755)
    conf = tmp_path / "redis.conf"
    service = full["services"]["redis"]
    assert service["entrypoint"] == ["/bin/sh", "-ec"]
    script = _container_script(service["command"][0]).replace("/tmp/redis.conf", str(conf))
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "REDIS_PASSWORD": password}
    server = subprocess.Popen(["/bin/sh", "-ec", script], env=env, stdout=subprocess.DEVNULL)
    try:
        client = redis.Redis(
            host="127.0.0.1", port=port, password=password or None, socket_timeout=2
        )
        _wait_for(lambda: _pings(client) or server.poll() is not None)
        assert server.poll() is None, "redis-server exited: the start script failed"
        assert oct(conf.stat().st_mode & 0o777) == "0o600"
        assert password == "" or password not in " ".join(_cmdline(server.pid))
        if password:
            with pytest.raises(redis.AuthenticationError):
                redis.Redis(host="127.0.0.1", port=port, socket_timeout=2).ping()

        check = _container_script(service["healthcheck"]["test"][1])
        check_env = {"PATH": os.environ["PATH"], "REDIS_PASSWORD": password}
        passed = subprocess.run(
            ["sh", "-c", check.replace("redis-cli", f"redis-cli -p {port}")], env=check_env
        )
        assert passed.returncode == 0
        if password:
            wrong = subprocess.run(
                ["sh", "-c", check.replace("redis-cli", f"redis-cli -p {port}")],
                env={**check_env, "REDIS_PASSWORD": "wrong"},
                capture_output=True,
            )
            assert wrong.returncode != 0
        client.close()
    finally:
        server.terminate()
        server.wait(10)


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


def _wait_for(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _cmdline(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")


def _published(config: dict[str, Any]) -> dict[str, tuple[str, int]]:
    out = {}
    for name, service in config["services"].items():
        for port in service.get("ports", []):
            assert name not in out, f"{name} publishes more than one port"
            out[name] = (port["host_ip"], int(port["published"]))
    return out


def _seconds(duration: str) -> float:
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    return sum(float(n) * units[u] for n, u in re.findall(r"([\d.]+)(ms|h|m|s)", duration))
