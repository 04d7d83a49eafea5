"""The root command: global options, the error-to-exit-code mapping, and the command list."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from macroinfra import __version__
from macroinfra.cli import config, data, db, doctor, migrate, schema, seed, stack
from macroinfra.cli.context import Invocation
from macroinfra.cli.options import CommandGroup
from macroinfra.errors import MacroinfraError


class RootGroup(CommandGroup):
    """Maps the one exception family to a message and an exit code, for every command."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except typer.Exit as done:  # a command's own verdict, e.g. doctor's failed checks
            if done.exit_code:
                _env_file_note(ctx)
            raise
        except Exception as raised:
            from macroinfra.errors import from_driver_error

            exc = raised if isinstance(raised, MacroinfraError) else from_driver_error(raised)
            if exc is None:
                raise
            from macroinfra.cli import render

            render.error(exc)
            _env_file_note(ctx)
            # With --json, a failure is a JSON document on stdout too, so `... --json | jq` works.
            if ctx.obj is not None and ctx.obj.json_output:
                render.emit_json(
                    {
                        "error": render.readable(exc.message),
                        "hint": exc.hint and render.readable(exc.hint),
                        "problems": [render.readable(p) for p in exc.problems],
                        "exit_code": exc.exit_code,
                    }
                )
            raise typer.Exit(exc.exit_code) from None


def _env_file_note(ctx: Any) -> None:
    """After a failure: which .env the settings came from, or that none was found (a command
    run from another folder silently misses the project's .env)."""
    if ctx.obj is not None and (note := ctx.obj.env_file_note()):
        from macroinfra.cli import render

        render.status(note)


app = typer.Typer(
    name="macroinfra",
    cls=RootGroup,
    help="Run and trust a macro-trading research data stack.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,  # never print locals: they hold passwords
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"macroinfra {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    env_file: Annotated[
        Path | None,
        typer.Option(
            "--env-file",
            envvar="MACROINFRA_ENV_FILE",
            help="The .env file to read (default: ./.env).",
            show_default=False,
        ),
    ] = None,
    quiet: Annotated[
        bool,
        typer.Option(
            "--quiet", "-q", help="Print errors only on stderr (results still go to stdout)."
        ),
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Run and trust a macro-trading research data stack."""
    from macroinfra.cli import render

    render.QUIET = quiet  # per invocation: tests run many in one process
    ctx.obj = Invocation(env_file)
    ctx.call_on_close(ctx.obj.close)


app.add_typer(config.app, name="config")
app.add_typer(migrate.app, name="migrate")
app.add_typer(schema.app, name="schema")
app.command()(doctor.doctor)
app.add_typer(data.app, name="data")
app.add_typer(seed.app, name="seed")
app.add_typer(db.app, name="db")
stack.register(app)
