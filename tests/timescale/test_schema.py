"""The migrated schema keeps writers idempotent and point-in-time correct."""

from __future__ import annotations

import psycopg
import pytest
from helpers import sql_rows

from macroinfra.timescale.spec import HYPERTABLES

# What the hypertables' rows refer to: data source 1, instrument 1, series 1 (also used by
# test_schema_show.py).
REFERENCES = """
INSERT INTO data_sources (id, name) VALUES (1, 'FRED');
INSERT INTO instruments (id, ticker, name, asset_class) VALUES (1, 'ES', 'S&P', 'equity');
INSERT INTO series_metadata (id, source_id, series_code, name, frequency)
VALUES (1, 1, 'CPI', 'CPI', 'monthly')
"""


@pytest.fixture
def conn(migrated):
    with psycopg.connect(migrated.libpq_url, autocommit=True) as conn:
        conn.execute(REFERENCES)
        yield conn


ROWS = {
    "market_data": (
        "(timestamp, instrument_id, frequency, close)",
        "('2024-01-02 21:00+00', 1, 'daily', 4700.5)",
    ),
    "macro_series": (
        "(observation_date, series_id, value, release_time, revision_number)",
        "('2024-01-01', 1, 308.4, '2024-02-13 13:30+00', 0)",
    ),
    "curves": (
        "(curve_date, curve_id, curve_type, tenor_days, rate)",
        "('2024-01-02', 'UST', 'nominal', 3650, 0.0395)",
    ),
    "flow_data": (
        "(observation_date, series_id, flow_type, value)",
        "('2024-01-01', 1, 'etf', 12.5)",
    ),
    "fiscal_data": (
        "(observation_date, series_id, fiscal_metric, value)",
        "('2024-01-01', 1, 'deficit', -129.4)",
    ),
    "vol_surfaces": (
        "(surface_date, instrument_id, delta, tenor_days, implied_vol)",
        "('2024-01-02', 1, 0.25, 30, 0.14)",
    ),
    "signals": (
        "(signal_date, signal_type, instrument_id, value)",
        "('2024-01-02', 'risk_off', NULL, 0.7)",
    ),
}


@pytest.mark.parametrize("table", [h.table for h in HYPERTABLES])
def test_repeated_insert_is_a_no_op(conn, table):
    columns, values = ROWS[table]
    insert = (
        f"INSERT INTO {table} {columns} VALUES {values} "
        f"ON CONFLICT ON CONSTRAINT uq_{table}_natural_key DO NOTHING"
    )
    assert conn.execute(insert).rowcount == 1
    assert conn.execute(insert).rowcount == 0
    assert conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 1


def test_signals_with_null_instrument_still_reject_duplicates(conn):
    insert = (
        "INSERT INTO signals (signal_date, signal_type, instrument_id, value) "
        "VALUES ('2024-01-02', 'risk_off', NULL, 0.7)"
    )
    conn.execute(insert)
    with pytest.raises(psycopg.errors.UniqueViolation):
        conn.execute(insert)


def test_revisions_are_separate_rows(conn):
    for rev, released in ((0, "2024-02-13 13:30+00"), (1, "2024-03-12 12:30+00")):
        conn.execute(
            "INSERT INTO macro_series (observation_date, series_id, value, release_time, "
            "revision_number) VALUES ('2024-01-01', 1, %s, %s, %s)",
            (308.4 + rev, released, rev),
        )
    rows = conn.execute("SELECT revision_number FROM macro_series ORDER BY 1").fetchall()
    assert rows == [(0,), (1,)]


def test_every_unique_index_of_a_hypertable_includes_its_time_column(migrated):
    rows = sql_rows(
        migrated,
        "SELECT t.relname, array_agg(a.attname::text) FROM pg_index i "
        "JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace "
        "JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = ANY(i.indkey) "
        "WHERE i.indisunique AND n.nspname = 'public' GROUP BY i.indexrelid, t.relname",
    )
    time_columns = {h.table: h.time_column for h in HYPERTABLES}
    checked = 0
    for table, columns in rows:
        if table in time_columns:
            assert time_columns[table] in columns, (table, columns)
            checked += 1
    assert checked == 2 * len(HYPERTABLES)  # primary key + natural key each
