"""macroinfra's Alembic operations for TimescaleDB, rendered as SQL by Alembic's offline mode
(no server: what `migrate sql` prints), and as the code autogenerate writes."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext

from macroinfra.timescale import autogen, ops
from macroinfra.timescale.spec import HypertableSpec, OrderBy

GUARD = "IF current_setting('timescaledb.license', true) = 'timescale' THEN"


def offline(call) -> str:  # type: ignore[no-untyped-def]
    out = io.StringIO()
    context = MigrationContext.configure(
        dialect_name="postgresql", opts={"as_sql": True, "output_buffer": out}
    )
    call(Operations(context))
    return out.getvalue()


def test_create_hypertable_and_chunk_interval_are_plain_sql():
    sql = offline(lambda op: op.create_hypertable("fx rates", "rate_date", "1 month"))
    assert (
        "SELECT create_hypertable('\"fx rates\"', by_range('rate_date', INTERVAL '1 month'))" in sql
    )
    moved = offline(lambda op: op.set_chunk_interval("fx_rates", "1 week", old="1 month"))
    assert "SELECT set_chunk_time_interval('fx_rates', INTERVAL '1 week')" in moved
    existing = offline(lambda op: op.create_hypertable("t", "d", "1 day", migrate_data=True))
    assert "migrate_data => true" in existing


def test_compression_operations_ask_the_license_when_the_sql_runs():
    sql = offline(lambda op: op.enable_compression("fx_rates", ["pair"], ["rate_date DESC"]))
    assert GUARD in sql
    assert (
        "ALTER TABLE fx_rates SET (timescaledb.compress, timescaledb.compress_segmentby = "
        "''pair'', timescaledb.compress_orderby = ''rate_date DESC'')" in sql
    )
    policy = offline(lambda op: op.add_compression_policy("fx_rates", "30 days", old="7 days"))
    assert GUARD in policy
    removed, added = policy.index("remove_compression_policy"), policy.index("add_compression")
    assert removed < added  # a changed delay: the old policy goes first
    gone = offline(lambda op: op.disable_compression("fx_rates"))
    assert GUARD in gone
    assert gone.index("decompress_chunk") < gone.index("timescaledb.compress = false")


@pytest.mark.parametrize(
    "op",
    [
        ops.SetChunkIntervalOp("t", "1 week", "1 month"),
        ops.EnableCompressionOp("t", ("a",), ("d DESC",)),
        ops.EnableCompressionOp("t", ("a",), ("d DESC",), ("b",), ("d",)),
        ops.AddCompressionPolicyOp("t", "30 days"),
        ops.AddCompressionPolicyOp("t", "30 days", "7 days"),
        ops.CreateHypertableOp("t", "d", "1 month"),
    ],
)
def test_every_operation_is_undone_by_its_reverse(op):
    back = op.reverse()
    assert type(back) is not type(op) or back.to_diff_tuple() != op.to_diff_tuple()
    assert back.reverse().to_diff_tuple() == op.to_diff_tuple()


def test_rendered_operations_are_the_calls_a_revision_makes():
    rendered = ops._render(None, ops.EnableCompressionOp("t", ("a",), ("d DESC",), ("b",), ("d",)))
    assert rendered == (
        "op.enable_compression('t', segment_by=['a'], order_by=['d DESC'], "
        "old_segment_by=['b'], old_order_by=['d'])"
    )
    assert ops._render(None, ops.CreateHypertableOp("t", "d", "1 month")) == (
        "op.create_hypertable('t', time_column='d', chunk_interval='1 month')"
    )


SPEC = HypertableSpec(
    "fx_rates",
    "rate_date",
    "date",
    timedelta(days=30),
    "1 month",
    ("pair",),
    (OrderBy("rate_date", True),),
    timedelta(days=30),
    "30 days",
)


def test_changed_compression_settings_yield_the_change_with_what_was_there():
    (op,) = autogen._settings_ops(SPEC, ["venue"], ["rate_date"])
    assert (op.segment_by, op.order_by) == (("pair",), ("rate_date DESC",))
    assert (op.old_segment_by, op.old_order_by) == (("venue",), ("rate_date",))
    assert list(autogen._settings_ops(SPEC, ["pair"], ["rate_date DESC"])) == []
