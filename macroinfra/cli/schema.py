"""`macroinfra schema show`: what TimescaleDB holds, side by side with the declared spec."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from macroinfra.cli.context import get_app
from macroinfra.cli.options import JsonOption, complete_tables, examples

if TYPE_CHECKING:
    from macroinfra.timescale.contract import SchemaReport, TableReport
    from macroinfra.timescale.inspect import HypertableInfo, JobInfo

app = typer.Typer(
    help="Inspect the database schema.",
    no_args_is_help=True,
    epilog=examples("macroinfra schema show", "macroinfra schema show market_data"),
)

DIFFERS = "≠"


TableArgument = Annotated[
    str | None,
    typer.Argument(
        help="Only this table (default: every table).",
        show_default=False,
        autocompletion=complete_tables,
    ),
]


@app.command(
    "show",
    epilog=examples(
        "macroinfra schema show",
        "macroinfra schema show market_data",
        "macroinfra schema show --json",
    ),
)
def show(ctx: typer.Context, table: TableArgument = None, *, as_json: JsonOption = False) -> None:
    """Tables, hypertables, chunks, compression, policies, jobs and sizes, against the spec."""
    from macroinfra.cli import render
    from macroinfra.timescale.contract import schema_report

    report = schema_report(get_app(ctx).db, table)
    render.emit(report, as_json=as_json, human=_human)


def _human(report: SchemaReport) -> None:
    from macroinfra.cli import render

    server = report.server
    if server.extension_version is None:
        ts = "TimescaleDB extension not created"
    else:
        ts = f"TimescaleDB {server.extension_version} ({server.edition} edition"
        ts += ")" if server.supports_compression else "; compression unavailable)"
    version = server.server_version.split()[0]
    render.long_line(f"database {server.database}: PostgreSQL {version}, {ts}")
    render.table(
        ["table", "kind", "chunks", "compressed", "total size", "rows (approx.)", "vs spec"],
        [_summary_row(t) for t in report.tables],
    )
    for t in report.tables:
        if t.kind == "hypertable" or (t.declared is not None and t.declared.kind == "hypertable"):
            render.line("")
            rows = [
                (mark, name, declared, actual) for name, declared, actual, mark in _detail_rows(t)
            ]
            render.table(["", t.name, "declared", "actual"], rows)
    render.line("")
    count = report.difference_count
    if count:
        render.line(
            f"{count} difference{'s' if count != 1 else ''} from the declared spec "
            f"(marked {DIFFERS})",
            style="red",
        )
    else:
        render.line("everything as declared", style="green")
    render.status(f"{report.queries} catalog queries, {report.elapsed_ms:.0f} ms")


def _summary_row(t: TableReport) -> tuple[str, ...]:
    actual = t.actual
    hyper = actual.hypertable if actual is not None else None
    if t.declared is None:
        spec = "not declared"
    elif t.matches:
        spec = "as declared"
    else:
        spec = f"{DIFFERS} {len(t.differences)} difference{'s' if len(t.differences) != 1 else ''}"
    if actual is None:
        return (t.name, t.kind, "", "", "missing", "", spec)
    return (
        t.name,
        t.kind,
        str(hyper.num_chunks) if hyper else "",
        (str(hyper.compressed_chunks) if t.compression == "enabled" else t.compression or "")
        if hyper
        else "",
        _size(actual.total_bytes),
        _rows_shown(actual.approximate_rows),
        spec,
    )


def _detail_rows(t: TableReport) -> list[tuple[str, str, str, str]]:
    from macroinfra.timescale.contract import UNAVAILABLE, declared_interval, describe_interval

    d = t.declared
    hyper = t.actual.hypertable if t.actual is not None else None

    def mark(*aspects: str) -> str:
        return DIFFERS if t.differs(*aspects) else ""

    if t.actual is None:
        return [("table", "hypertable", "missing", DIFFERS)]
    if hyper is None:
        return [("hypertable", f"on {d.time_column}" if d else "", "plain table", DIFFERS)]
    unavailable = t.compression == UNAVAILABLE
    rows = [
        (
            "time column",
            f"{d.time_column} ({d.time_type})" if d else "",
            f"{hyper.time_column} ({hyper.time_type})",
            mark("time_column", "time_type"),
        ),
        (
            "chunk interval",
            declared_interval(d.chunk_interval, d.chunk_interval_sql or "")
            if d and d.chunk_interval
            else "",
            describe_interval(hyper.chunk_interval),
            mark("chunk_interval"),
        ),
        ("chunks", "", f"{hyper.num_chunks} ({hyper.compressed_chunks} compressed)", ""),
        ("compression", "enabled" if d else "", t.compression or "", mark("compression")),
        (
            "segment by",
            ", ".join(d.segment_by) if d else "",
            UNAVAILABLE if unavailable else ", ".join(hyper.segment_by) or "(none)",
            mark("segment_by"),
        ),
        (
            "order by",
            ", ".join(d.order_by) if d else "",
            UNAVAILABLE if unavailable else ", ".join(o.sql() for o in hyper.order_by) or "(none)",
            mark("order_by"),
        ),
        (
            "compression policy",
            f"after {describe_interval(d.compress_after)}" if d and d.compress_after else "",
            UNAVAILABLE if unavailable and hyper.compression_policy is None else _policy(hyper),
            mark("compression_policy", "compress_after"),
        ),
    ]
    for job in hyper.jobs:
        rows.append(
            (f"job {job.job_id}", "", _job(job), DIFFERS if job.failing or job.paused else "")
        )
    rows += [
        ("total size", "", _size(hyper.total_bytes), ""),
        (
            "before / after compression",
            "",
            UNAVAILABLE if unavailable else _compression_sizes(hyper),
            "",
        ),
        (
            "rows (approx.)",
            "",
            _rows_shown(t.actual.approximate_rows),
            "",
        ),
        (
            "unique indexes",
            f"include {d.time_column}" if d else "include the time column",
            "\n".join(f"{i.name} ({', '.join(i.columns)})" for i in hyper.unique_indexes),
            mark("unique_index"),
        ),
    ]
    return rows


def _policy(hyper: HypertableInfo) -> str:
    from macroinfra.timescale.contract import describe_interval

    policy = hyper.compression_policy
    if policy is None:
        return "none"
    every = f", every {policy.schedule_interval}" if policy.schedule_interval else ""
    return f"after {describe_interval(policy.compress_after)} (job {policy.job_id}{every})"


def _job(job: JobInfo) -> str:
    state = "paused" if job.paused else (job.job_status or "scheduled").lower()
    last = job.last_run_status or "never ran"
    nxt = f", next {job.next_start:%Y-%m-%d %H:%M}" if job.next_start and not job.paused else ""
    failures = f", {job.total_failures} failures" if job.total_failures else ""
    return f"{job.proc_name}: {state}, last run {last}{failures}{nxt}"


def _compression_sizes(hyper: HypertableInfo) -> str:
    if hyper.before_compression_bytes is None or hyper.after_compression_bytes is None:
        return "nothing compressed yet"
    ratio = f" ({hyper.compression_ratio:g}x)" if hyper.compression_ratio else ""
    return (
        f"{_size(hyper.before_compression_bytes)} / {_size(hyper.after_compression_bytes)}{ratio}"
    )


def _size(value: int | None) -> str:
    if value is None:
        return ""
    size = float(value)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{value} B"


def _rows_shown(rows: int | None) -> str:
    # None: the server has no estimate yet (ANALYZE, or autovacuum, has not run on it).
    return "not analysed" if rows is None else f"{rows:,}"
