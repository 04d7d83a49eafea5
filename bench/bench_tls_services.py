"""`macroinfra doctor mongodb kafka minio` against the test responders with TLS (verified with
the test CA; Kafka SASL_SSL with SCRAM-SHA-512, MinIO over HTTPS) and the same responders
without TLS (Kafka SASL_PLAINTEXT), in the same run, alternating, all on 127.0.0.1.

Target: doctor against TLS services takes at most 1.5x its time without TLS.
Run: .venv/bin/python bench/bench_tls_services.py [RUNS]   (default 15)
Prints the median of the whole command (a process of its own) and of the probes alone
(run_doctor in this process), with and without TLS, and the ratios.
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from contextlib import ExitStack
from pathlib import Path

from _common import VENV_BIN, settings_of, timed_run

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from responders import FakeKafkaBroker, FakeMinioServer, FakeMongoServer, tls_context  # noqa: E402
from tls.certs import make_certs  # noqa: E402

TARGET = 1.5
SERVICES = ["mongodb", "kafka", "minio"]
USER, PASSWORD, BUCKET = "bench_user", "bench%pass", "macro-data"


def environment(mongo: int, kafka: int, minio: int, ca: Path | None) -> dict[str, str]:
    env = {
        "MONGO_PORT": str(mongo),
        "MONGO_USER": USER,
        "MONGO_PASSWORD": PASSWORD,
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{kafka}",
        "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "KAFKA_SASL_USERNAME": USER,
        "KAFKA_SASL_PASSWORD": PASSWORD,
        "MINIO_ENDPOINT": f"127.0.0.1:{minio}",
        "MINIO_ROOT_USER": USER,
        "MINIO_ROOT_PASSWORD": PASSWORD,
        "MINIO_BUCKET": BUCKET,
        "MACROINFRA_RUNTIME": "external",
        "MACROINFRA_ENV_FILE": os.devnull,
    }
    if ca is not None:
        env.update(
            MONGO_TLS="true",
            MONGO_TLS_CA=str(ca),
            KAFKA_SECURITY_PROTOCOL="SASL_SSL",
            KAFKA_SSL_CA=str(ca),
            MINIO_SECURE="true",
            MINIO_CA=str(ca),
        )
    return env


def servers(stack: ExitStack, tls) -> tuple[int, int, int]:
    mongo = stack.enter_context(FakeMongoServer(USER, PASSWORD, tls))
    kafka = stack.enter_context(FakeKafkaBroker(tls, {USER: PASSWORD}))
    minio = stack.enter_context(FakeMinioServer(USER, PASSWORD, {BUCKET}, tls))
    return mongo.port, kafka.port, minio.port


def in_process(env: dict[str, str]) -> tuple[float, list[str]]:
    from macroinfra.probes import run_doctor

    settings = settings_of(env)
    started = time.perf_counter()
    report = run_doctor(settings, SERVICES, timeout=5.0)
    elapsed = time.perf_counter() - started
    return elapsed, [f"{c.name}={c.status}" for c in report.checks]


def main() -> None:
    warnings.simplefilter("ignore", DeprecationWarning)
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    folder = Path(tempfile.mkdtemp(prefix="macroinfra-bench-certs-", dir="/tmp"))
    doctor = [str(VENV_BIN / "macroinfra"), "doctor", *SERVICES, "--timeout", "5"]
    try:
        certs = make_certs(folder)
        with ExitStack() as stack:
            plain = environment(*servers(stack, None), None)
            tls = tls_context(certs.server.cert, certs.server.key)
            secure = environment(*servers(stack, tls), certs.ca)
            scenarios = {"plain": plain, "tls": secure}
            for name, env in scenarios.items():  # every check passes, or the figures mean nothing
                _, checks = in_process(env)
                code = timed_run(doctor, env)[2]
                print(f"{name}: exit {code}; {', '.join(checks)}")
                if code != 0 or any(not c.endswith("=ok") for c in checks):
                    raise SystemExit(f"{name}: doctor did not pass")
            command: dict[str, list[float]] = {name: [] for name in scenarios}
            probes: dict[str, list[float]] = {name: [] for name in scenarios}
            for _ in range(runs):
                for name, env in scenarios.items():
                    command[name].append(timed_run(doctor, env)[0])
                    probes[name].append(in_process(env)[0])
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"doctor {' '.join(SERVICES)}: median of {runs} runs, alternating")
    for label, figures in (("whole command", command), ("probes in-process", probes)):
        plain_s = statistics.median(figures["plain"])
        tls_s = statistics.median(figures["tls"])
        ratio = tls_s / plain_s
        verdict = "ok" if ratio <= TARGET else "OVER TARGET"
        print(
            f"{label:>18}: without TLS {plain_s * 1000:7.1f} ms, with TLS {tls_s * 1000:7.1f} ms, "
            f"ratio {ratio:.2f} (target <= {TARGET}) {verdict}"
        )


if __name__ == "__main__":
    main()
