"""macroinfra's own Alembic operations for TimescaleDB, as `op.<name>(...)` in a revision.

    op.create_hypertable("fx_rates", "rate_date", "1 month")
    op.set_chunk_interval("fx_rates", "1 week", old="1 month")
    op.enable_compression("fx_rates", ["pair"], ["rate_date DESC"])
    op.add_compression_policy("fx_rates", "30 days")

Autogenerate (timescale/autogen.py) writes them for a team's declared hypertables, with the
downgrade that reverses them. The compression operations behave as the shipped migration
does: where the server's edition has no compression (Apache) they are reported and skipped,
and `macroinfra migrate` applies what is missing once the edition allows it; in offline SQL
they ask the server's license when the SQL runs. Importing this module registers them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from alembic.autogenerate import renderers
from alembic.operations import MigrateOperation, Operations

from macroinfra.timescale import ddl

# The first item of every difference these operations report, as Alembic's autogenerate and
# `migrate check` list them: (TIMESCALE_DIFF, operation name, table, readable line).
TIMESCALE_DIFF = "macroinfra_timescale"


class TimescaleOp(MigrateOperation):
    """An operation on one hypertable; `fields` name its arguments in order."""

    name = ""  # as written in a revision: op.<name>(...)
    fields: tuple[str, ...] = ()

    def __init__(self, table_name: str, *args: Any, **kw: Any) -> None:
        self.table_name = table_name
        values = dict(zip(self.fields[1:], args, strict=False)) | kw
        for field in self.fields[1:]:
            value = values.get(field)
            setattr(self, field, tuple(value) if isinstance(value, list) else value)

    def to_diff_tuple(self) -> tuple[Any, ...]:
        return (TIMESCALE_DIFF, self.name, self.table_name, self.describe())

    def describe(self) -> str:
        shown = [f for f in self.fields[1:] if getattr(self, f) not in (None, False)]
        rest = ", ".join(f"{f.replace('_', ' ')} {_plain(getattr(self, f))}" for f in shown)
        return f"{self.name.replace('_', ' ')}: {self.table_name}" + (f" ({rest})" if rest else "")


def _plain(value: Any) -> str:
    if isinstance(value, tuple | list):
        return ", ".join(value) or "(none)"
    return "none" if value is None else str(value)


def _register(cls: type[TimescaleOp]) -> type[TimescaleOp]:
    Operations.register_operation(cls.name)(cls)
    renderers.dispatch_for(cls)(_render)
    return cls


def _render(autogen_context: Any, op: TimescaleOp) -> str:
    args = [repr(op.table_name)]
    for field in op.fields[1:]:
        value = getattr(op, field)
        if value is None or value is False:
            continue
        args.append(
            f"{field}={list(value)!r}" if isinstance(value, tuple) else f"{field}={value!r}"
        )
    return f"op.{op.name}({', '.join(args)})"


@_register
class CreateHypertableOp(TimescaleOp):
    """Turn a table into a hypertable on `time_column`, chunks `chunk_interval` wide."""

    name = "create_hypertable"
    fields = ("table_name", "time_column", "chunk_interval", "migrate_data")

    @classmethod
    def create_hypertable(
        cls,
        operations: Operations,
        table_name: str,
        time_column: str,
        chunk_interval: str,
        migrate_data: bool = False,
    ) -> None:
        """Turn a table into a hypertable (`migrate_data`: it already holds rows)."""
        operations.invoke(cls(table_name, time_column, chunk_interval, migrate_data))

    def reverse(self) -> MigrateOperation:
        return DropHypertableOp(self.table_name, self.time_column, self.chunk_interval)


class DropHypertableOp(TimescaleOp):
    """A hypertable stops being one only with its table: autogenerate leaves this out of a
    downgrade, where the table's own drop follows."""

    name = "drop_hypertable"
    fields = ("table_name", "time_column", "chunk_interval")

    def reverse(self) -> MigrateOperation:
        return CreateHypertableOp(self.table_name, self.time_column, self.chunk_interval)


@_register
class SetChunkIntervalOp(TimescaleOp):
    """Give new chunks of a hypertable the width `chunk_interval` (existing chunks keep theirs)."""

    name = "set_chunk_interval"
    fields = ("table_name", "chunk_interval", "old")

    @classmethod
    def set_chunk_interval(
        cls, operations: Operations, table_name: str, chunk_interval: str, old: str | None = None
    ) -> None:
        """Give new chunks the width `chunk_interval` (`old`: the width before, for undoing)."""
        operations.invoke(cls(table_name, chunk_interval, old))

    def reverse(self) -> MigrateOperation:
        return SetChunkIntervalOp(self.table_name, self.old, old=self.chunk_interval)


@_register
class EnableCompressionOp(TimescaleOp):
    """Enable compression with these settings (or change them from `old_*`)."""

    name = "enable_compression"
    fields = ("table_name", "segment_by", "order_by", "old_segment_by", "old_order_by")

    @classmethod
    def enable_compression(
        cls,
        operations: Operations,
        table_name: str,
        segment_by: Sequence[str],
        order_by: Sequence[str],
        old_segment_by: Sequence[str] | None = None,
        old_order_by: Sequence[str] | None = None,
    ) -> None:
        """Enable compression with these settings (`old_*`: the settings before, if any)."""
        operations.invoke(cls(table_name, segment_by, order_by, old_segment_by, old_order_by))

    def reverse(self) -> MigrateOperation:
        if self.old_segment_by is None:
            return DisableCompressionOp(self.table_name, self.segment_by, self.order_by)
        return EnableCompressionOp(
            self.table_name,
            self.old_segment_by,
            self.old_order_by,
            old_segment_by=self.segment_by,
            old_order_by=self.order_by,
        )


@_register
class DisableCompressionOp(TimescaleOp):
    """Decompress every chunk, then disable compression."""

    name = "disable_compression"
    fields = ("table_name", "segment_by", "order_by")

    @classmethod
    def disable_compression(
        cls,
        operations: Operations,
        table_name: str,
        segment_by: Sequence[str] = (),
        order_by: Sequence[str] = (),
    ) -> None:
        """Decompress every chunk, then disable compression (the settings: for undoing)."""
        operations.invoke(cls(table_name, segment_by, order_by))

    def reverse(self) -> MigrateOperation:
        return EnableCompressionOp(self.table_name, self.segment_by, self.order_by)


@_register
class AddCompressionPolicyOp(TimescaleOp):
    """Compress chunks once their data is older than `compress_after`."""

    name = "add_compression_policy"
    fields = ("table_name", "compress_after", "old")

    @classmethod
    def add_compression_policy(
        cls, operations: Operations, table_name: str, compress_after: str, old: str | None = None
    ) -> None:
        """Compress chunks older than `compress_after` (`old`: replace a policy of that delay)."""
        operations.invoke(cls(table_name, compress_after, old))

    def reverse(self) -> MigrateOperation:
        if self.old is not None:
            return AddCompressionPolicyOp(self.table_name, self.old, old=self.compress_after)
        return RemoveCompressionPolicyOp(self.table_name, self.compress_after)


@_register
class RemoveCompressionPolicyOp(TimescaleOp):
    """Remove the compression policy (`compress_after`: what it was, for the reverse)."""

    name = "remove_compression_policy"
    fields = ("table_name", "compress_after")

    @classmethod
    def remove_compression_policy(
        cls, operations: Operations, table_name: str, compress_after: str | None = None
    ) -> None:
        """Remove the compression policy (`compress_after`: its delay, for undoing)."""
        operations.invoke(cls(table_name, compress_after))

    def reverse(self) -> MigrateOperation:
        return AddCompressionPolicyOp(self.table_name, self.compress_after)


# -- what they do ----------------------------------------------------------------------------


def _quote(operations: Operations):  # type: ignore[no-untyped-def]
    return operations.get_context().dialect.identifier_preparer.quote


def _compression(operations: Operations, statements: Sequence[str], *, needed: bool) -> None:
    """Run compression statements where the edition allows it. `needed`: on an edition
    without compression, say that it was not applied (adding it); else nothing (removing)."""
    from sqlalchemy import text

    from macroinfra.timescale import edition
    from macroinfra.timescale.compression import NOT_APPLIED
    from macroinfra.timescale.notes import note

    context = operations.get_context()
    if context.as_sql:
        operations.execute(ddl.guarded(statements))
        return
    if not edition.read_server(operations.get_bind()).supports_compression:
        if needed:
            note(NOT_APPLIED, context)
        return
    for statement in statements:
        operations.execute(text(statement))


@Operations.implementation_for(CreateHypertableOp)
def _create_hypertable(operations: Operations, op: CreateHypertableOp) -> None:
    operations.execute(
        ddl.hypertable_sql(
            op.table_name,
            op.time_column,
            op.chunk_interval,
            _quote(operations),
            migrate_data=bool(op.migrate_data),
        )
    )


@Operations.implementation_for(SetChunkIntervalOp)
def _set_chunk_interval(operations: Operations, op: SetChunkIntervalOp) -> None:
    operations.execute(ddl.chunk_interval_sql(op.table_name, op.chunk_interval, _quote(operations)))


@Operations.implementation_for(EnableCompressionOp)
def _enable_compression(operations: Operations, op: EnableCompressionOp) -> None:
    sql = ddl.compression_settings_sql(
        op.table_name, op.segment_by, op.order_by, _quote(operations)
    )
    _compression(operations, [sql], needed=True)


@Operations.implementation_for(DisableCompressionOp)
def _disable_compression(operations: Operations, op: DisableCompressionOp) -> None:
    quote = _quote(operations)
    table = ddl._literal(quote(op.table_name))
    decompress = f"SELECT decompress_chunk(c, if_compressed => true) FROM show_chunks({table}) c"
    _compression(
        operations, [decompress, ddl.disable_compression_sql(op.table_name, quote)], needed=False
    )


@Operations.implementation_for(AddCompressionPolicyOp)
def _add_policy(operations: Operations, op: AddCompressionPolicyOp) -> None:
    quote = _quote(operations)
    statements = [ddl.policy_sql(op.table_name, op.compress_after, quote)]
    if op.old is not None:
        statements.insert(0, ddl.remove_policy_sql(op.table_name, quote))
    _compression(operations, statements, needed=True)


@Operations.implementation_for(RemoveCompressionPolicyOp)
def _remove_policy(operations: Operations, op: RemoveCompressionPolicyOp) -> None:
    _compression(
        operations, [ddl.remove_policy_sql(op.table_name, _quote(operations))], needed=False
    )
