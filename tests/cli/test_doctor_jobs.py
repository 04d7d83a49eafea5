"""doctor names a failed TimescaleDB background job with the error it failed with, read from
timescaledb_information.job_errors, not only a pointer to the view.

The job is real: every database with the extension has TimescaleDB's own job 3 (the job
history retention policy), which the server's scheduler runs at once; here it fails for real
(the Apache edition refuses it; PostgreSQL 15.20 with TimescaleDB 2.19-2.28 fails every
background job with `cannot drop portal ""`)."""

from __future__ import annotations

import json
import time

import pytest
from helpers import Cli, sql_rows

DEADLINE_S = 60


def _last_error(settings) -> tuple[int, str] | None:
    rows = sql_rows(
        settings,
        "SELECT job_id, err_message FROM timescaledb_information.job_errors "
        "ORDER BY finish_time DESC LIMIT 1",
    )
    return rows[0] if rows else None


@pytest.fixture
def failed_job(migrated) -> tuple[int, str]:
    """The job id and error text of a background job that failed in this database."""
    deadline = time.monotonic() + DEADLINE_S
    while (found := _last_error(migrated)) is None:
        assert time.monotonic() < deadline, "the scheduler never ran a job"
        time.sleep(0.1)  # waiting for the server's scheduler, polled with a deadline
    status = sql_rows(
        migrated,
        "SELECT last_run_status FROM timescaledb_information.job_stats WHERE job_id = %s",
        (found[0],),
    )
    if status != [("Failed",)]:
        pytest.skip("this server runs its background jobs without failing")
    return found


def test_doctor_shows_the_error_a_job_failed_with(migrated, failed_job):
    job_id, error = failed_job
    result = Cli(migrated)("doctor", "timescaledb", "--json")
    assert result.exit_code == 0, result.output  # a warning: the database still answers
    check = {c["name"]: c for c in json.loads(result.stdout)["checks"]}["timescaledb: jobs"]
    assert check["status"] == "warning" and check["reason"] == "job_failed"
    first = " ".join(error.split())[:100]
    assert f"job {job_id} (" in check["detail"] and first in check["detail"]
    (job,) = [j for j in check["info"]["jobs"] if j["job_id"] == job_id]
    assert first in job["error"] and job["total_failures"] >= 1
    assert "run_job" in check["hint"] or "edition" in check["hint"] or "15.20" in check["hint"]


def test_the_human_line_carries_the_error_text(migrated, failed_job):
    job_id, error = failed_job
    result = Cli(migrated)("doctor", "timescaledb")
    line = next(x for x in result.stdout.splitlines() if x.startswith("[!] timescaledb: jobs: "))
    assert f"job {job_id} (" in line and " ".join(error.split())[:100] in line
    fix = result.stdout.splitlines()[result.stdout.splitlines().index(line) + 1]
    assert fix.startswith("    fix: ")


def test_strict_fails_on_a_failed_job(migrated, failed_job):
    result = Cli(migrated)("doctor", "timescaledb", "--strict", "--json")
    assert result.exit_code == 1
    names = {c["name"]: c["status"] for c in json.loads(result.stdout)["checks"]}
    assert names["timescaledb: jobs"] == "warning"


def test_no_job_check_without_the_extension(database):
    result = Cli(database)("doctor", "timescaledb", "--json")
    names = [c["name"] for c in json.loads(result.stdout)["checks"]]
    assert names == ["timescaledb"]


def test_a_hostile_error_text_stays_one_bounded_line():
    from macroinfra.probes.timescaledb import JOB_ERROR_MAX, _jobs_check

    hostile = "boom\n[✗] redis: fake line\x1b[31m " + "x" * 10_000
    check = _jobs_check([(1000, "my_job", None, "Failed", 7, "P0001", hostile)])
    assert "\n" not in check.detail and len(check.detail) < JOB_ERROR_MAX + 100
    assert "job 1000 (my_job, 7 failures): boom [✗] redis" in check.detail
    assert "run_job" in check.hint
    ok = _jobs_check([(3, "policy_job_stat_history_retention", None, "Success", 0, None, None)])
    assert ok.status.value == "ok" and ok.detail == "1 background jobs ran, none failing"


def test_the_portal_fault_is_named_as_the_server_s():
    from macroinfra.probes.timescaledb import PORTAL_FAULT, _jobs_check

    check = _jobs_check(
        [
            (1000, "policy_compression", "market_data", "Failed", 2, "XX000", PORTAL_FAULT),
            (3, "policy_job_stat_history_retention", None, "Failed", 1, "XX000", PORTAL_FAULT),
        ]
    )
    assert check.detail == "last run failed: 2 background jobs"
    assert check.problems[0] == (
        f"job 1000 (policy_compression on market_data, 2 failures): {PORTAL_FAULT} (SQLSTATE XX000)"
    )
    assert "PostgreSQL 15.20" in check.hint


def test_views_that_cannot_be_read_leave_out_the_job_check(migrated):
    """A role that may not read the job views (or a server without them) still gets its
    server check, with no job check rather than a failure."""
    import time as clock

    import psycopg
    from pydantic import SecretStr

    from macroinfra.probes import timescaledb
    from macroinfra.probes.runner import Budget

    with psycopg.connect(migrated.libpq_url, autocommit=True) as conn:
        conn.execute("REVOKE USAGE ON SCHEMA timescaledb_information FROM PUBLIC")
        conn.execute("CREATE ROLE nojobs LOGIN PASSWORD 'nojobs-pw'")
    role = migrated.model_copy(
        update={"postgres_user": "nojobs", "postgres_password": SecretStr("nojobs-pw")}
    )
    try:
        checks = list(timescaledb.probe(role, Budget(clock.monotonic() + 5)))
        assert [c.name for c in checks] == ["timescaledb"]
        # The owner still reads them: the same database gets its job check.
        owner = [c.name for c in timescaledb.probe(migrated, Budget(clock.monotonic() + 5))]
        assert owner == ["timescaledb", "timescaledb: jobs"]
    finally:
        with psycopg.connect(migrated.libpq_url, autocommit=True) as conn:
            conn.execute("GRANT USAGE ON SCHEMA timescaledb_information TO PUBLIC")
            conn.execute("DROP ROLE nojobs")
