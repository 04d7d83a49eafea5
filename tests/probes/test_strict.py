"""`doctor --strict`: the schema exactly as declared, checked on real databases after hand-made
drift; and the declared-vs-actual comparison for what this machine's Apache edition cannot
produce (compression settings and policies), on inspections built by hand."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import psycopg
import pytest
from helpers import Cli, community_inspection, doctor_checks

from macroinfra.timescale.contract import compare
from macroinfra.timescale.edition import APACHE_FIX, APACHE_REASON
from macroinfra.timescale.spec import BY_TABLE, OrderBy


def strict(settings, *args: str) -> tuple[int, dict[str, dict]]:
    code, found, _ = doctor_checks(settings, "timescaledb", "--strict", *args)
    return code, found


def failing(settings, name: str) -> tuple[dict, dict[str, dict]]:
    """The strict doctor exits 1 with check `name` failed: that check, and every check."""
    code, found = strict(settings)
    assert code == 1 and found[name]["status"] == "failed", found[name]
    return found[name], found


def execute(settings, *statements: str) -> None:
    with psycopg.connect(settings.libpq_url, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def test_fresh_migration_passes_everything_but_compression_on_apache(migrated):
    code, found = strict(migrated)
    assert code == 1
    for name in (
        "schema: migrations",
        "schema: tables",
        "schema: hypertables",
        "schema: policy jobs",
        "schema: unique indexes",
    ):
        assert found[name]["status"] == "ok", found[name]
    assert found["schema: tables"]["detail"] == "all 10 declared tables present"
    assert found["schema: unique indexes"]["detail"].startswith("14 unique indexes")
    for name in ("schema: compression", "schema: compression policies"):
        check = found[name]
        assert (check["status"], check["reason"]) == ("failed", "edition")
        assert check["detail"] == APACHE_REASON and check["hint"] == APACHE_FIX
        tables = ", ".join(sorted(BY_TABLE))
        assert check["problems"] == [f"not applied to: {tables}"]
    # The areas come from one catalog read: no latency each. The migrations check is timed.
    assert found["timescaledb"]["group"] == "service"
    for name, check in found.items():
        if name in ("timescaledb", "timescaledb: jobs"):
            continue
        assert check["group"] == "schema"
        timed = name == "schema: migrations"
        assert (check["latency_ms"] is not None) == timed, check


def test_human_strict_lines_show_latency_only_where_measured(migrated):
    result = Cli(migrated)("doctor", "timescaledb", "--strict")
    lines = result.stdout.splitlines()
    schema = lines[lines.index("Schema against the declared spec:") + 1 :]
    migrations = next(line for line in schema if line.startswith("[✓] migrations: "))
    assert migrations.endswith(" ms)")
    areas = [line for line in schema if line.startswith("[") and line != migrations]
    assert len(areas) == 6 and not any(line.endswith(" ms)") for line in areas)


def test_a_changed_chunk_interval_fails_with_the_command_that_fixes_it(migrated):
    execute(migrated, "SELECT set_chunk_time_interval('market_data', INTERVAL '7 days')")
    check, found = failing(migrated, "schema: hypertables")
    assert check["reason"] == "drift"
    assert check["problems"] == ["market_data: chunk interval 7 days, declared 1 month (30 days)"]
    assert "set_chunk_time_interval('market_data', INTERVAL '1 month')" in check["hint"]
    assert found["schema: tables"]["status"] == "ok"

    # Applying the fix it names brings the check back to ok.
    execute(migrated, "SELECT set_chunk_time_interval('market_data', INTERVAL '1 month')")
    _, found = strict(migrated)
    assert found["schema: hypertables"]["status"] == "ok"


def test_a_dropped_table_fails(migrated):
    execute(migrated, "DROP TABLE signals", "DROP TABLE data_sources CASCADE")
    check, found = failing(migrated, "schema: tables")
    assert check["reason"] == "drift"
    assert sorted(check["problems"]) == [
        "hypertable signals is missing",
        "table data_sources is missing",
    ]
    assert "macroinfra migrate" in check["hint"]
    assert found["schema: migrations"]["status"] == "ok"  # the revision still says head


def test_a_unique_index_without_the_time_column_fails(migrated):
    # TimescaleDB refuses such an index; restoring mode (as pg_restore runs) lets one through.
    execute(
        migrated,
        "SET timescaledb.restoring = on; "
        "CREATE UNIQUE INDEX curves_id_only ON curves (id); "
        "RESET timescaledb.restoring",
    )
    check, _ = failing(migrated, "schema: unique indexes")
    assert check["problems"] == [
        "curves: unique index curves_id_only (id) lacks the time column curve_date"
    ]


def test_a_paused_and_failing_policy_job_fails(migrated):
    # The Apache edition has no policy functions: write the job and its statistics into
    # TimescaleDB's catalog as a Community server would, paused so the scheduler leaves it.
    execute(
        migrated,
        "INSERT INTO _timescaledb_config.bgw_job (id, application_name, schedule_interval, "
        "max_runtime, max_retries, retry_period, proc_schema, proc_name, owner, scheduled, "
        "hypertable_id, config) SELECT 5000, 'Compression Policy [5000]', '12 hours', '0', -1, "
        "'1 hour', '_timescaledb_functions', 'policy_compression', current_role::regrole, false, "
        "h.id, "
        "jsonb_build_object('hypertable_id', h.id, 'compress_after', '30 days') "
        "FROM _timescaledb_catalog.hypertable h WHERE h.table_name = 'market_data'",
        "INSERT INTO _timescaledb_internal.bgw_job_stat (job_id, last_start, last_finish, "
        "next_start, last_successful_finish, last_run_success, total_runs, total_duration, "
        "total_duration_failures, total_successes, total_failures, total_crashes, "
        "consecutive_failures, consecutive_crashes, flags) VALUES (5000, now(), now(), "
        "'infinity', '-infinity', false, 3, '1 s', '1 s', 0, 3, 0, 3, 0, 0)",
    )
    check, found = failing(migrated, "schema: policy jobs")
    assert check["problems"] == [
        "market_data: job 5000 (policy_compression) is paused",
        "market_data: job 5000 (policy_compression) failed its last run, 3 failures",
    ]
    assert "alter_job" in check["hint"]
    # market_data now has a compression policy (as declared): only the edition is missing.
    problems = found["schema: compression policies"]["problems"]
    assert "market_data" not in problems[0]


def test_an_empty_database_is_reported_as_not_migrated_and_nothing_else(database):
    check, found = failing(database, "schema: migrations")
    assert check["hint"] == "run `macroinfra migrate`"
    assert check["detail"] == "not migrated: the database has no macroinfra schema yet"
    assert found["timescaledb"]["reason"] == "not_migrated"
    # No area is compared against nothing (no "0 hypertables" passing or 10 missing tables).
    assert [n for n in found if n.startswith("schema")] == ["schema: migrations"]


def test_strict_schema_is_not_checked_when_the_database_is_down(stack_settings):
    from helpers import free_port

    result = Cli(stack_settings)(
        "doctor", "timescaledb", "--strict", "--json", env={"POSTGRES_PORT": str(free_port())}
    )
    assert result.exit_code == 1
    names = [c["name"] for c in json.loads(result.stdout)["checks"]]
    assert names == ["timescaledb", "schema"]


# -- the comparison, for the Community edition (not installable here) -------------------------


def test_a_community_server_as_declared_has_no_differences():
    inspection = community_inspection()
    assert compare(inspection) == []
    assert inspection.table("market_data").hypertable.compression_ratio == 8.0


def test_inspection_reads_the_order_back_as_the_spec_type():
    from macroinfra.timescale.inspect import _compression_settings

    spec = BY_TABLE["macro_series"]
    rows = [  # table, column, segmentby index, orderby index, asc, nulls first
        ("macro_series", "revision_number", None, 2, False, True),
        ("macro_series", "series_id", 1, None, None, None),
        ("macro_series", "observation_date", None, 1, False, True),
    ]
    segment, order = _compression_settings(rows)["macro_series"]
    assert segment == spec.segment_by
    assert order == tuple(replace(o, nulls_first=True) for o in spec.order_by)
    assert ", ".join(o.sql() for o in order) == spec.order_by_sql


@pytest.mark.parametrize(
    ("changes", "aspect", "message"),
    [
        ({"compression_enabled": False}, "compression", "curves: compression is not enabled"),
        (
            {"segment_by": ("curve_type",)},
            "segment_by",
            "curves: segment by curve_type, declared curve_id",
        ),
        (
            {"order_by": (OrderBy("curve_date", False, False),)},
            "order_by",
            "curves: order by curve_date, declared curve_date DESC, tenor_days",
        ),
        ({"jobs": ()}, "compression_policy", "curves: no compression policy"),
        (
            {"time_type": "timestamptz"},
            "time_type",
            "curves: time column type timestamptz, declared date",
        ),
    ],
)
def test_each_community_drift_is_one_difference(changes, aspect, message):
    diffs = compare(community_inspection(curves=changes))
    assert [(d.table, d.aspect, d.message, d.unavailable) for d in diffs] == [
        ("curves", aspect, message, False)
    ]


def test_a_policy_compressing_at_another_age_differs():
    inspection = community_inspection()
    hyper = inspection.table("signals").hypertable
    policy = replace(hyper.jobs[0], compress_after=timedelta(days=7))
    diffs = compare(community_inspection(signals={"jobs": (policy,)}))
    assert [(d.aspect, d.declared, d.actual) for d in diffs] == [
        ("compress_after", "after 90 days", "after 7 days")
    ]
