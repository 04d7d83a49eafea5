"""The parallel runner: per-probe deadlines that hold against a probe that never returns, checks
kept as they come, a crashing probe contained; the report's verdict and secret masking."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import replace
from types import SimpleNamespace

from helpers import free_port

from macroinfra.probes.checkup import probe_time
from macroinfra.probes.result import Check, DoctorReport, Group, Status, failed, warning
from macroinfra.probes.runner import Job, run_jobs
from macroinfra.redaction import Redactor
from macroinfra.settings import load_settings


def check(name: str, status: Status = Status.OK, service: str = "redis") -> Check:
    return Check(name, service, status, f"{name} is {status.value}")


def test_a_probe_that_never_returns_is_reported_at_the_deadline():
    release = threading.Event()

    def stuck(budget):
        release.wait()  # blocks until the test ends: only the deadline can stop the runner
        yield check("stuck")

    def quick(budget):
        yield check("quick")

    started = time.monotonic()
    try:
        results = run_jobs(
            [Job("stuck", "mongodb", stuck, "fix the address"), Job("quick", "redis", quick, "")],
            timeout=0.3,
        )
        elapsed = time.monotonic() - started
    finally:
        release.set()
    assert 0.3 <= elapsed < 0.5
    assert [c.name for c in results] == ["stuck", "quick"]
    late = results[0]
    assert (late.status, late.reason, late.hint) == (Status.FAILED, "timeout", "fix the address")
    assert late.detail == "did not answer within 0.3 s"
    assert results[1].status is Status.OK


def test_checks_yielded_before_the_deadline_are_kept():
    release = threading.Event()

    def partial(budget):
        yield check("timescaledb", service="timescaledb")
        release.wait()
        yield check("never")

    try:
        job = Job(
            "timescaledb",
            "timescaledb",
            partial,
            "hint",
            continuation="schema",
            continuation_group=Group.SCHEMA,
        )
        results = run_jobs([job], 0.2)
    finally:
        release.set()
    assert [(c.name, c.status, c.group) for c in results] == [
        ("timescaledb", Status.OK, Group.SERVICE),
        ("schema", Status.FAILED, Group.SCHEMA),
    ]
    assert results[1].detail == "did not finish within 0.2 s"


def test_the_deadline_counts_from_the_callers_start():
    release = threading.Event()

    def stuck(budget):
        release.wait()
        yield check("stuck")

    begun = time.monotonic()
    try:
        # The caller spent 0.8 s of its 1 s before calling: 0.2 s are left, not 1 s.
        results = run_jobs([Job("stuck", "mongodb", stuck, "")], 1.0, started=begun - 0.8)
        elapsed = time.monotonic() - begun
    finally:
        release.set()
    assert elapsed < 0.5
    assert results[0].detail == "did not answer within 1 s"


def test_the_doctor_deadline_counts_choosing_the_runtime(monkeypatch):
    import macroinfra.probes.checkup as checkup
    import macroinfra.runtime

    seen: dict[str, float] = {}

    def select_runtime(settings, name):  # may ping Docker for up to 0.5 s
        seen["selecting"] = time.monotonic()
        return SimpleNamespace(runtime=SimpleNamespace(name="external"))

    def run_jobs_spy(jobs, timeout, *, started=None):
        seen["started"], seen["timeout"] = started, timeout
        return []

    monkeypatch.setattr(macroinfra.runtime, "select_runtime", select_runtime)
    monkeypatch.setattr(checkup, "run_jobs", run_jobs_spy)
    before = time.monotonic()
    checkup.run_doctor(load_settings(None), ["redis"], timeout=2)
    assert before <= seen["started"] <= seen["selecting"]
    assert seen["timeout"] == probe_time(2)


def test_probes_run_in_parallel_and_share_one_budget():
    barrier = threading.Barrier(3, timeout=2)
    budgets = []

    def meet(budget):
        budgets.append(budget)
        barrier.wait()  # passes only if all three probes run at the same time
        yield check("met")

    results = run_jobs([Job(f"p{i}", "redis", meet, "") for i in range(3)], timeout=2)
    assert [c.status for c in results] == [Status.OK] * 3
    assert len({b.deadline for b in budgets}) == 1
    assert 0 < budgets[0].client_timeout() < budgets[0].remaining() + 1e-9


def test_a_crashing_probe_becomes_a_failed_check():
    def broken(budget):
        raise RuntimeError("boom\nsecond line")
        yield

    (result,) = run_jobs([Job("kafka", "kafka", broken, "")], timeout=1)
    assert result.status is Status.FAILED and result.reason == "error"
    assert result.detail == "the probe failed unexpectedly: RuntimeError: boom"
    assert result.hint


def test_failed_and_warning_differ_only_in_status():
    args = ("schema: tables", "timescaledb", "2 differences", "run `macroinfra migrate`")
    extra = {"reason": "drift", "problems": ("a", "b"), "group": Group.SCHEMA, "tables": 2}
    bad, caveat = failed(*args, **extra), warning(*args, **extra)
    assert (bad.status, caveat.status) == (Status.FAILED, Status.WARNING)
    assert replace(bad, status=Status.WARNING) == caveat
    assert bad.group is Group.SCHEMA and bad.info == {"tables": 2}
    assert bad.latency_ms is None  # not measured: no start given
    assert failed(*args, reason="x", started=time.monotonic()).latency_ms is not None


def test_warnings_pass_unless_strict():
    checks = [check("a"), check("b", Status.WARNING), check("c", Status.SKIPPED)]
    assert DoctorReport("local", False, 5, 1, checks).ok
    assert not DoctorReport("local", True, 5, 1, checks).ok
    assert not DoctorReport("local", False, 5, 1, [*checks, check("d", Status.FAILED)]).ok
    counts = DoctorReport("local", False, 5, 1, checks).counts
    assert counts == {"ok": 1, "warning": 1, "failed": 0, "skipped": 1}


def test_secrets_are_masked_in_every_text_of_a_check():
    settings = load_settings(
        None, postgres_password="pg pass/%", redis_password="r3dis-pw", mongo_password="ab"
    )
    redact = Redactor.for_settings(settings)
    assert "pg pass/%" in redact.secrets and "pg%20pass%2F%25" in redact.secrets
    assert "ab" not in redact.secrets  # too short to mask without mangling every line
    leaky = Check(
        "x",
        "redis",
        Status.FAILED,
        "bad pg pass/% here",
        hint="try r3dis-pw",
        problems=("url postgresql://u:pg%20pass%2F%25@h",),
        info={"nested": ["r3dis-pw"]},
    )
    clean = leaky.redacted(redact)
    assert clean.detail == "bad *** here" and clean.hint == "try ***"
    assert clean.problems == ("url postgresql://u:***@h",)
    assert clean.info == {"nested": ["***"]}


def test_what_each_runtime_provides():
    from macroinfra.runtime import select_runtime

    def runtime(name):
        return select_runtime(load_settings(None), name).runtime

    assert runtime("local").provided() == ("timescaledb", "redis")
    assert runtime("compose").provided() == ("timescaledb", "redis", "mongodb", "minio")
    assert "kafka" in runtime("compose").provided(["full"])
    assert runtime("external").provided() == ("timescaledb", "redis", "mongodb", "kafka", "minio")


def test_compose_skips_kafka_without_its_profile_and_rejects_unknown_profiles(cli):
    closed = {
        "POSTGRES_PORT": str(free_port()),
        "REDIS_PORT": str(free_port()),
        "MONGO_PORT": str(free_port()),
        "MINIO_ENDPOINT": f"127.0.0.1:{free_port()}",
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",
    }
    result = cli("doctor", "--runtime", "compose", "--json", env=closed)
    kafka = next(c for c in json.loads(result.stdout)["checks"] if c["name"] == "kafka")
    assert kafka["status"] == "skipped"
    assert kafka["detail"] == "not provided: the compose runtime runs it only with --profile full"
    result = cli("doctor", "--runtime", "compose", "--profile", "full", "--json", env=closed)
    kafka = next(c for c in json.loads(result.stdout)["checks"] if c["name"] == "kafka")
    assert kafka["reason"] == "refused"
    bad = cli("doctor", "--runtime", "compose", "--profile", "nope")
    assert bad.exit_code == 2 and "'nope' is not one of 'full'" in bad.stderr
