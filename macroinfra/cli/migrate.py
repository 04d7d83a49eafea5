"""`macroinfra migrate`: bring the schema to head, and inspect or undo migrations."""

from __future__ import annotations

from typing import Annotated

import typer

from macroinfra.cli.context import get_app
from macroinfra.cli.options import CommandGroup, JsonOption, YesOption

app = typer.Typer(
    cls=CommandGroup,
    help="Migrate the database (with no subcommand: upgrade to head).",
    invoke_without_command=True,
)


@app.callback()
def upgrade(ctx: typer.Context, *, as_json: JsonOption = False) -> None:
    """Upgrade the database to head (safe to run from several processes at once)."""
    if ctx.invoked_subcommand is not None:
        return
    from macroinfra import migrations
    from macroinfra.cli import render

    with render.progress("migrating to head") as say:
        result = migrations.upgrade(
            get_app(ctx).db, on_wait=lambda: say("waiting for another migration to finish")
        )
    render.emit(result, as_json=as_json, human=_human_result)


def _human_result(result) -> None:  # type: ignore[no-untyped-def]
    from macroinfra.cli import render

    for note in result.notes:
        render.warn(note)
    where = f" in database {result.database!r} at {result.host}" if result.database else ""
    if result.changed:
        render.line(
            f"migrated {result.before or 'empty'} -> {result.after or 'empty'} "
            f"({', '.join(result.applied)}){where}"
        )
    elif result.waited_for_lock:
        render.line(f"another migration ran meanwhile; already at {result.after}{where}")
    else:
        render.line(f"already at {result.after or 'empty'}{where}")
    if result.dropped:
        render.line(f"dropped {_tables(result.dropped)}:")
        render.table(["table", "rows"], [(t.table, _rows(t)) for t in result.dropped])


def _tables(tables) -> str:  # type: ignore[no-untyped-def]
    rows = sum(t.rows for t in tables)
    about = "~" if any(t.estimated for t in tables) else ""
    return f"{len(tables)} table{'s' * (len(tables) != 1)} holding {about}{rows:,} rows"


def _rows(table) -> str:  # type: ignore[no-untyped-def]
    """A table's rows: counted, or the planner's estimate, marked so."""
    return f"~{table.rows:,} (estimate)" if table.estimated else f"{table.rows:,}"


def _question(plan) -> str:  # type: ignore[no-untyped-def]
    lines = [
        f"Migrate database {plan.database!r} at {plan.host} down from {plan.current} to "
        f"{plan.target or 'base (empty)'}?"
    ]
    if plan.tables:
        lines.append(f"These {_tables(plan.tables)} will be dropped with their data:")
        width = max(len(t.table) for t in plan.tables)
        lines += [f"  {t.table:<{width}}  {_rows(t)}" for t in plan.tables]
    return "\n".join(lines) + "\nDrop them"


@app.command()
def status(ctx: typer.Context, *, as_json: JsonOption = False) -> None:
    """Current revision, head, and the migrations still to apply."""
    from macroinfra import migrations
    from macroinfra.cli import render

    result = migrations.status(get_app(ctx).db)

    def human(s: migrations.MigrationStatus) -> None:
        render.line(f"current: {s.current or 'empty (no revision)'}")
        render.line(f"head:    {s.head}")
        if s.pending:
            render.line(f"pending: {', '.join(p.revision for p in s.pending)}")
        else:
            render.line("pending: none (at head)")

    render.emit(result, as_json=as_json, human=human)


@app.command()
def history(*, as_json: JsonOption = False) -> None:
    """Every migration, newest first."""
    from macroinfra import migrations
    from macroinfra.cli import render

    render.emit(
        migrations.history(),
        as_json=as_json,
        human=lambda revs: render.table(
            ["revision", "down", "message"],
            [
                (r.revision + (" (head)" if r.is_head else ""), r.down_revision or "-", r.message)
                for r in revs
            ],
        ),
    )


@app.command()
def down(
    ctx: typer.Context,
    *,
    to: Annotated[
        str, typer.Option("--to", help="The revision to go down to ('base' removes everything).")
    ] = "-1",
    yes: YesOption = False,
    as_json: JsonOption = False,
) -> None:
    """Migrate down (one revision by default). Asks for confirmation: data is dropped."""
    import sys

    from macroinfra import migrations
    from macroinfra.cli import render
    from macroinfra.cli.options import confirm

    migrations.check_target(to)
    if not yes and not sys.stdin.isatty():
        confirm("", yes=False, what="migrate down")  # no one to ask: refused before connecting
    db = get_app(ctx).db
    plan = migrations.plan_downgrade(db, to)
    if plan.removed:
        confirm(_question(plan), yes=yes, what="migrate down")
    result = migrations.downgrade(db, to, expected=plan.current)
    render.emit(result, as_json=as_json, human=_human_result)


@app.command()
def sql(
    *,
    to: Annotated[str, typer.Option("--to", help="The revision to render up to.")] = "head",
) -> None:
    """Print the SQL an upgrade would run, without connecting."""
    from macroinfra import migrations

    typer.echo(migrations.offline_sql(to), nl=False)


@app.command()
def check(ctx: typer.Context, *, as_json: JsonOption = False) -> None:
    """Compare the models with the database; exit 1 on any drift."""
    from macroinfra import migrations
    from macroinfra.cli import render

    result = migrations.check(get_app(ctx).db)

    def human(drift: migrations.Drift) -> None:
        if not drift.drift:
            render.line("no drift: the database matches the models")
            return
        render.line(f"{len(drift.differences)} differences between the models and the database:")
        for difference in drift.differences:
            render.line(f"  {difference}")

    render.emit(result, as_json=as_json, human=human)
    if result.drift:
        raise typer.Exit(1)
