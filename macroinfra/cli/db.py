"""`macroinfra db`: dump the database, restore a dump, open psql."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from macroinfra.cli.context import get_app
from macroinfra.cli.options import JsonOption, YesOption, examples

if TYPE_CHECKING:
    from macroinfra.backup import DumpResult, RestoreResult, TableRows

app = typer.Typer(
    help="Dump the database, restore a dump, or open psql on it.",
    no_args_is_help=True,
    epilog=examples(
        "macroinfra db dump backup.dump",
        "macroinfra db restore backup.dump --yes",
        "macroinfra db shell",
    ),
)

FileArgument = Annotated[
    Path, typer.Argument(help="The dump file (FILE.meta.json goes beside it).", show_default=False)
]


@app.command(
    epilog=examples("macroinfra db dump backup.dump", "macroinfra db dump backup.dump --compress 9")
)
def dump(
    ctx: typer.Context,
    file: FileArgument,
    *,
    compress: Annotated[
        int | None,
        typer.Option(
            "--compress",
            min=0,
            max=9,
            show_default=False,
            help="pg_dump's compression level, 0 (none) to 9 (default: pg_dump's own).",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Dump the database to FILE, with FILE.meta.json beside it.

    FILE is pg_dump's custom format (replaced if it exists); FILE.meta.json records the
    versions a restore needs, the row counts, and the dump's size and SHA-256."""
    from macroinfra import backup
    from macroinfra.cli import render

    with render.progress("dumping the database") as say:
        result = backup.dump(get_app(ctx).settings, file, compress=compress, progress=say)
    render.emit(result, as_json=as_json, human=_human_dump)


@app.command(
    epilog=examples("macroinfra db restore backup.dump", "macroinfra db restore backup.dump --yes")
)
def restore(
    ctx: typer.Context, file: FileArgument, *, yes: YesOption = False, as_json: JsonOption = False
) -> None:
    """Restore a dump of `db dump` into the database.

    Follows TimescaleDB's procedure (pre_restore, pg_restore, post_restore) after checking the
    file and the versions. A database that holds tables is replaced: asks first (without a
    terminal, needs --yes)."""
    from macroinfra import backup
    from macroinfra.cli import render
    from macroinfra.cli.options import confirm

    settings = get_app(ctx).settings
    plan = backup.prepare_restore(settings, file)
    if plan.replaces:
        count = len(plan.replaces)
        if not yes and sys.stdin.isatty():
            render.status(f"database {plan.database!r} holds {count} tables:")
            for line in _table_lines(plan.replaces):
                render.status(f"  {line}")
        confirm(
            f"Replace them (and everything else in the database) with the dump {file}?",
            yes=yes,
            what=f"replace the {count} tables of database {plan.database!r}",
        )
    with render.progress("restoring the dump") as say:
        result = backup.restore(settings, plan, progress=say)
    render.emit(result, as_json=as_json, human=_human_restore)


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    epilog=examples(
        "macroinfra db shell", "macroinfra db shell -- -c 'select count(*) from macro_series'"
    ),
)
def shell(
    ctx: typer.Context,
    psql_args: Annotated[
        list[str] | None,
        typer.Argument(help="psql's own arguments, after --.", show_default=False),
    ] = None,
) -> None:
    """Run psql on the database; exits with psql's exit code.

    psql's own arguments go after --: `macroinfra db shell -- -c 'select 1'`."""
    from macroinfra import backup

    code = backup.shell(get_app(ctx).settings, psql_args or [], terminal=sys.stdin.isatty())
    raise typer.Exit(code)


def _table_lines(tables: list[TableRows]) -> list[str]:
    width = max((len(t.label) for t in tables), default=0)
    return [f"{t.label:<{width}}  {t.rows:>12,} rows" for t in tables]


def _human_dump(result: DumpResult) -> None:
    from macroinfra.cli import render

    for warning in result.warnings:
        render.warn(warning)
    render.table(["table", "rows"], [(t.label, f"{t.rows:,}") for t in result.tables])
    render.line(
        f"dumped {result.database} ({result.rows:,} rows) to {result.file}: "
        f"{_size(result.size_bytes)} in {result.seconds:.1f} s"
    )
    render.line(
        f"PostgreSQL {result.server_version}, TimescaleDB {result.timescaledb_version or 'none'},"
        f" revision {result.revision or 'none'}; recorded in {result.meta_file}"
    )


def _human_restore(result: RestoreResult) -> None:
    from macroinfra.cli import render

    for warning in result.warnings:
        render.warn(warning)
    if result.replaced:
        render.line(f"replaced {len(result.replaced)} tables:")
        for line in _table_lines(result.replaced):
            render.line(f"  {line}")
    render.table(["table", "rows"], [(t.label, f"{t.rows:,}") for t in result.tables])
    render.line(
        f"restored {result.file} ({result.rows:,} rows) into {result.database} in "
        f"{result.seconds:.1f} s; TimescaleDB {result.timescaledb_version or 'none'}, "
        f"revision {result.revision or 'none'}"
    )


def _size(size: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} bytes"
