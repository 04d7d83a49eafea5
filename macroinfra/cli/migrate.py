"""`macroinfra migrate`: bring the schema to head, and inspect or undo migrations."""

from __future__ import annotations

from typing import Annotated

import typer

from macroinfra.cli.context import get_app
from macroinfra.cli.options import JsonOption, YesOption

app = typer.Typer(
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
    if result.changed:
        render.line(
            f"migrated {result.before or 'empty'} -> {result.after or 'empty'} "
            f"({', '.join(result.applied)})"
        )
    elif result.waited_for_lock:
        render.line(f"another migration ran meanwhile; already at {result.after}")
    else:
        render.line(f"already at {result.after or 'empty'}")


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
    from macroinfra import migrations
    from macroinfra.cli import render
    from macroinfra.cli.options import confirm

    migrations.check_target(to)
    target = "one revision" if to == "-1" else f"revision {to}"
    confirm(
        f"Migrate down to {target}? Tables and their data will be dropped.",
        yes=yes,
        what="migrate down",
    )
    result = migrations.downgrade(get_app(ctx).db, to)
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
