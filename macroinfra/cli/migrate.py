"""`macroinfra migrate`: bring the schema to head, and inspect, extend or undo migrations."""

from __future__ import annotations

from typing import Annotated

import typer

from macroinfra.cli.context import get_app
from macroinfra.cli.options import CommandGroup, JsonOption, YesOption, examples

app = typer.Typer(
    cls=CommandGroup,
    help="Migrate the database (with no subcommand: upgrade to head). With "
    "MACROINFRA_MIGRATIONS_DIR, your team's revisions follow the shipped ones.",
    invoke_without_command=True,
    epilog=examples(
        "macroinfra migrate",
        "macroinfra migrate --to 0001",
        "macroinfra migrate --json",
    ),
)


@app.callback()
def upgrade(
    ctx: typer.Context,
    *,
    to: Annotated[
        str,
        typer.Option(
            "--to",
            metavar="REV",
            help="The revision to upgrade to (default: every head, shipped and yours).",
        ),
    ] = "heads",
    as_json: JsonOption = False,
) -> None:
    """Upgrade the database to head (safe to run from several processes at once)."""
    if ctx.invoked_subcommand is not None:
        return
    from macroinfra import migrations
    from macroinfra.cli import render

    invocation = get_app(ctx)
    migrations.check_target(to, invocation.settings)
    goal = "head" if to in {"head", "heads"} else to
    with render.progress(f"migrating to {goal}") as say:
        result = migrations.upgrade(
            invocation.db, to, on_wait=lambda: say("waiting for another migration to finish")
        )
    render.emit(result, as_json=as_json, human=lambda r: _human_result(r, verb="applied"))


def _human_result(result, verb: str) -> None:  # type: ignore[no-untyped-def]
    from macroinfra.cli import render

    for note in result.notes:
        render.warn(note)
    for r in result.revisions:
        render.long_line(f"{verb} {r.revision} ({r.origin}): {r.message}")
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


def _revisions(revisions) -> str:  # type: ignore[no-untyped-def]
    return ", ".join(f"{r.revision} ({r.origin})" for r in revisions)


@app.command(
    epilog=examples("macroinfra migrate status", "macroinfra migrate status --json"),
)
def status(ctx: typer.Context, *, as_json: JsonOption = False) -> None:
    """Current revision, head, and the migrations still to apply."""
    from macroinfra import migrations
    from macroinfra.cli import render

    result = migrations.status(get_app(ctx).db)

    def human(s: migrations.MigrationStatus) -> None:
        render.line(f"current: {s.current or 'empty (no revision)'}")
        render.line(f"head:    {s.head}")
        if s.pending:
            render.line(f"pending: {_revisions(s.pending)}")
        else:
            render.line("pending: none (at head)")

    render.emit(result, as_json=as_json, human=human)


@app.command(epilog=examples("macroinfra migrate history", "macroinfra migrate history --json"))
def history(ctx: typer.Context, *, as_json: JsonOption = False) -> None:
    """Every migration, newest first: the shipped ones and your team's."""
    from macroinfra import migrations
    from macroinfra.cli import render

    render.emit(
        migrations.history(get_app(ctx).settings),
        as_json=as_json,
        human=lambda h: render.table(
            ["revision", "down", "origin", "message"],
            [
                (
                    r.revision + (" (head)" if r.is_head else ""),
                    r.down_revision or "-",
                    r.origin,
                    r.message,
                )
                for r in h.revisions
            ],
        ),
    )


@app.command(
    epilog=examples(
        'macroinfra migrate revision -m "add fx_rates"',
        'macroinfra migrate revision -m "add fx_rates" --autogenerate',
    ),
)
def revision(
    ctx: typer.Context,
    *,
    message: Annotated[
        str,
        typer.Option(
            "-m", "--message", metavar="MESSAGE", help="What the revision changes (one line)."
        ),
    ],
    autogenerate: Annotated[
        bool,
        typer.Option(
            "--autogenerate",
            help="Fill it with what differs between your models and the database (at head).",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Write a new revision of your own into MACROINFRA_MIGRATIONS_DIR."""
    from macroinfra import migrations
    from macroinfra.cli import render

    invocation = get_app(ctx)
    result = migrations.new_revision(
        invocation.settings,
        message,
        autogenerate=autogenerate,
        db=invocation.db if autogenerate else None,
    )

    def human(r: migrations.NewRevision) -> None:
        if not r.written:
            render.line("no changes: the database matches the models, nothing written")
            return
        render.long_line(f"wrote {r.revision} (on {r.down_revision}): {r.path}")
        for operation in r.operations:
            render.long_line(f"  {operation}")

    render.emit(result, as_json=as_json, human=human)


@app.command(
    epilog=examples(
        "macroinfra migrate down",
        "macroinfra migrate down --to 0001",
        "macroinfra migrate down --to base --yes",
    ),
)
def down(
    ctx: typer.Context,
    *,
    to: Annotated[
        str,
        typer.Option(
            "--to", metavar="REV", help="The revision to go down to ('base' removes everything)."
        ),
    ] = "-1",
    yes: YesOption = False,
    as_json: JsonOption = False,
) -> None:
    """Migrate down (one revision by default). Asks for confirmation: data is dropped."""
    import sys

    from macroinfra import migrations
    from macroinfra.cli import render
    from macroinfra.cli.options import confirm

    invocation = get_app(ctx)
    migrations.check_target(to, invocation.settings)
    if not yes and not sys.stdin.isatty():
        confirm("", yes=False, what="migrate down")  # no one to ask: refused before connecting
    db = invocation.db
    plan = migrations.plan_downgrade(db, to)
    if plan.removed:
        confirm(_question(plan), yes=yes, what="migrate down")
    result = migrations.downgrade(db, to, expected=plan.current)
    render.emit(result, as_json=as_json, human=lambda r: _human_result(r, verb="reverted"))


@app.command(epilog=examples("macroinfra migrate sql", "macroinfra migrate sql --to 0001"))
def sql(
    ctx: typer.Context,
    *,
    to: Annotated[
        str, typer.Option("--to", metavar="REV", help="The revision to render up to.")
    ] = "heads",
) -> None:
    """Print the SQL an upgrade would run, without connecting."""
    from macroinfra import migrations

    typer.echo(migrations.offline_sql(to, settings=get_app(ctx).settings), nl=False)


@app.command(epilog=examples("macroinfra migrate check", "macroinfra migrate check --json"))
def check(ctx: typer.Context, *, as_json: JsonOption = False) -> None:
    """Compare the models (shipped and yours) with the database; exit 1 on any drift."""
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
