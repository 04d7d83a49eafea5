"""Bad input, as a stranger would type it: every case must end in one error line and the
documented exit code (1 failed, 2 bad usage or configuration), never a traceback, and never
echo a secret.

Each case runs the real `macroinfra` process against a migrated local stack (PostgreSQL with
TimescaleDB and Redis in a throwaway state folder), so the input travels as deep as it can.
Run: .venv/bin/python bench/bench_bad_inputs.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import VENV_BIN, local_stack

CANARY = "canary-s3cr3t-value"  # set as every password: must never be printed
HUGE = "x" * 100_000

# Settings that must be refused with exit 2 (variable, hostile value).
BAD_SETTINGS = (
    [
        ("POSTGRES_HOST", v)
        for v in ["...", "a b", "http://db", "db/x", HUGE, "-db", "a..b", "[::1]"]
    ]
    + [("POSTGRES_PORT", v) for v in ["0", "70000", "abc", "-1", "1e3", "5432.5", " 5432x"]]
    + [("REDIS_PORT", v) for v in ["0", "65536", "port"]]
    + [("REDIS_HOST", v) for v in ["...", "redis://h", HUGE]]
    + [("REDIS_DB", v) for v in ["16", "-1", "x"]]
    + [
        ("MONGO_HOST", "mongodb://h"),
        ("MONGO_PORT", "99999"),
        ("MINIO_ENDPOINT", "nohostport"),
        ("MINIO_ENDPOINT", "http://h:9000"),
        ("MINIO_ENDPOINT", ":9000"),
        ("MINIO_SECURE", "maybe"),
        ("KAFKA_BOOTSTRAP_SERVERS", ","),
        ("KAFKA_BOOTSTRAP_SERVERS", "h:"),
        ("KAFKA_BOOTSTRAP_SERVERS", "h:1,,h:2"),
        ("MACROINFRA_RUNTIME", "docker"),
        ("MACROINFRA_PROBE_TIMEOUT", "0"),
        ("MACROINFRA_PROBE_TIMEOUT", "-1"),
        ("MACROINFRA_PROBE_TIMEOUT", "nan"),
        ("MACROINFRA_PROBE_TIMEOUT", "inf"),
        ("MACROINFRA_PROBE_TIMEOUT", "1e9"),
        ("MACROINFRA_DB_POOL_SIZE", "0"),
        ("MACROINFRA_DB_ASYNC_MAX_OVERFLOW", "-3"),
        ("MACROINFRA_REDIS_MAX_CONNECTIONS", "lots"),
    ]
)
COMMANDS_FOR_SETTINGS = [["config", "show"], ["doctor"], ["status"]]

# Command lines that must be refused (exit 1 or 2).
BAD_ARGS = [
    ["migrate", "down", "--to", "", "--yes"],
    ["migrate", "down", "--to", "nope", "--yes"],
    ["migrate", "down", "--to", HUGE, "--yes"],
    ["migrate", "down"],  # no terminal, no --yes
    ["migrate", "sql", "--to", "$$"],
    ["migrate", "sql", "--to", "0001:0001"],
    ["seed", "demo", "--end", "0001-01-01"],
    ["seed", "demo", "--end", "9999-12-31"],
    ["seed", "demo", "--end", "2024-02-30"],
    ["seed", "demo", "--end", "yesterday"],
    ["seed", "demo", "--years", "0"],
    ["seed", "demo", "--years", "-1"],
    ["seed", "demo", "--years", "1000000"],
    ["seed", "demo", "--instruments", "0"],
    ["data", "asof", "US_CPI", "--at", "yesterday"],
    ["data", "asof", "US_CPI", "--at", "2020-01-01"],  # no time zone
    ["data", "asof", "US_CPI", "--at", "2020-01-01T00:00:00"],
    ["data", "asof", "", "--at", "2020-01-01T00:00:00Z"],
    ["data", "asof", HUGE, "--at", "2020-01-01T00:00:00Z"],
    ["data", "asof", "NO_SUCH_SERIES", "--at", "2020-01-01T00:00:00Z"],
    ["data", "asof", "US_CPI", "--at", "2020-01-01T00:00:00Z", "--source", "nobody"],
    ["data", "latest", "NO_SUCH_SERIES"],
    ["data", "first-release", "'; DROP TABLE macro_series; --"],
    ["schema", "show", "nope"],
    ["schema", "show", ""],
    ["schema", "show", "market_data; DROP TABLE signals"],
    ["schema", "show", HUGE],
    ["logs", "--tail", "-1"],
    ["logs", "postgres"],
    ["doctor", "--timeout", "0"],
    ["doctor", "--timeout", "nan"],
    ["doctor", "--timeout", "-5"],
    ["doctor", "pg"],
    ["doctor", "--profile", "all"],
    ["doctor", "--runtime", ""],
    ["up", "--timeout", "-5"],
    ["up", "--runtime", ""],
    ["up", "mysql"],
    ["restart", "kafka", "--runtime", "local"],
    ["status", "-o", "yaml"],
    ["status", "--env", "--json"],
    ["down", "--volumes"],  # no terminal, no --yes
    ["--env-file", "/etc/shadow", "config", "show"],
    ["--env-file", "/", "config", "show"],
    ["--env-file", "/nonexistent/.env", "config", "show"],
    ["--env-file", HUGE, "config", "show"],
    ["config", "nope"],
    ["nope"],
]

# .env files that must be refused with exit 2, naming the line.
BAD_ENV_FILES = [
    "POSTGRES_PORT:25432\n",
    "POSTGRES_PORT\n",
    'POSTGRES_PORT="unterminated\n',
    "=value\n",
    "A B=1\n",
    "\xff\xfe not utf-8\n",
    "POSTGRES_DB=ok\nREDIS_DB=abc\n",
]


def cases(env_dir: Path) -> list[tuple[str, list[str], dict[str, str]]]:
    out = []
    for variable, value in BAD_SETTINGS:
        for command in COMMANDS_FOR_SETTINGS:
            label = f"{variable}={value[:20]} {' '.join(command)}"
            out.append((label, command, {variable: value}))
    for args in BAD_ARGS:
        out.append((" ".join(a[:30] for a in args), args, {}))
    for i, text in enumerate(BAD_ENV_FILES):
        path = env_dir / f"bad{i}.env"
        path.write_bytes(text.encode("latin-1"))
        out.append((f".env {text[:20]!r}", ["--env-file", str(path), "config", "show"], {}))
    return out


def judge(result: subprocess.CompletedProcess[str]) -> str | None:
    """None when the run failed well; else what is wrong."""
    output = result.stdout + result.stderr
    if "Traceback" in output:
        return "traceback"
    if CANARY in output:
        return "secret printed"
    if result.returncode not in (1, 2):
        return f"exit {result.returncode}"
    errors = [ln for ln in result.stderr.splitlines() if ln.lower().startswith("error:")]
    if len(errors) != 1:
        return f"{len(errors)} error lines"
    if any(len(line) > 400 for line in result.stderr.splitlines()):
        return "an over-long line"
    return None


def main() -> None:
    secrets = {
        "POSTGRES_PASSWORD": CANARY,
        "REDIS_PASSWORD": CANARY,
        "MONGO_PASSWORD": CANARY,
        "MINIO_ROOT_PASSWORD": CANARY,
    }
    os.environ.update(secrets)
    macroinfra = str(VENV_BIN / "macroinfra")
    with local_stack() as env, tempfile.TemporaryDirectory() as tmp:
        env = {**env, **secrets, "NO_COLOR": "1"}
        for setup in (["migrate"], ["seed", "demo", "--years", "1", "--instruments", "2"]):
            subprocess.run([macroinfra, *setup], env={**os.environ, **env}, check=True)
        results = []
        for label, args, extra in cases(Path(tmp)):
            result = subprocess.run(
                [macroinfra, *args],
                env={**os.environ, **env, **extra},
                capture_output=True,
                text=True,
                stdin=subprocess.DEVNULL,
                timeout=120,
            )
            results.append((label, judge(result)))
    bad = [(label, why) for label, why in results if why]
    codes = len(results) - len(bad)
    print(f"bad inputs: {len(results)} cases; {codes} ended in one error line with exit 1 or 2")
    print(f"tracebacks: {sum(why == 'traceback' for _, why in bad)}")
    for label, why in bad:
        print(f"  FAILED {why}: {label}")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
