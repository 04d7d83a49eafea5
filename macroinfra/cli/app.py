"""The root command: global options, the error-to-exit-code mapping, and the command list."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from macroinfra import __version__
from macroinfra.cli import config, data, db, doctor, migrate, schema, seed, stack
from macroinfra.cli.context import Invocation
from macroinfra.cli.options import CommandGroup, examples
from macroinfra.errors import MacroinfraError

ARGS = "macroinfra.args"  # the command line's words, kept in ctx.meta


class RootGroup(CommandGroup):
    """Maps the one exception family to a message and an exit code, for every command."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from macroinfra.cli.help import tidy

        tidy(self)

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        ctx.meta[ARGS] = list(args)
        try:
            return super().parse_args(ctx, args)
        except Exception as exc:
            _usage_error_as_json(exc, args)
            raise

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
                _usage_error_as_json(raised, ctx.meta.get(ARGS, []))
                raise
            from macroinfra.cli import render

            render.error(exc)
            _env_file_note(ctx)
            # With --json, a failure is a JSON document on stdout too, so `... --json | jq` works.
            if ctx.obj is not None and ctx.obj.json_output:
                render.emit_error_json(exc.message, exc.hint, exc.problems, exc.exit_code)
            raise typer.Exit(exc.exit_code) from None


def _wants_json(args: list[str]) -> bool:
    """Whether the command line asks for JSON (read from the words: a usage error can stop
    parsing before the --json option is processed)."""
    words = list(args)
    if "--" in words:
        words = words[: words.index("--")]
    pairs = zip(words, [*words[1:], ""], strict=True)
    return (
        "--json" in words
        or "--output=json" in words
        or any(a in ("-o", "--output") and b == "json" for a, b in pairs)
    )


def _usage_error_as_json(exc: BaseException, args: list[str]) -> None:
    """With --json, Click's usage error (bad value, unknown option) is a JSON document on
    stdout too; Click still prints it on stderr and exits 2."""
    code = getattr(exc, "exit_code", None)
    if code != 2 or not hasattr(exc, "format_message") or not _wants_json(args):
        return
    from macroinfra.cli import render

    command = getattr(getattr(exc, "ctx", None), "command_path", "macroinfra")
    message = exc.format_message()  # type: ignore[attr-defined]
    render.emit_error_json(message, f"see `{command} --help`", [], 2)


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
    epilog=examples(
        "macroinfra up",
        "macroinfra migrate",
        "macroinfra doctor --strict",
    ),
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
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose",
            "-v",
            help="Also print each step, SQL statement and program run on stderr (secrets hidden).",
        ),
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Run and trust a macro-trading research data stack."""
    from macroinfra.cli import render
    from macroinfra.errors import UsageError

    render.QUIET = quiet  # per invocation: tests run many in one process
    render.VERBOSE = verbose
    ctx.obj = Invocation(env_file)
    ctx.call_on_close(ctx.obj.close)
    if quiet and verbose:
        raise UsageError("--quiet and --verbose exclude each other: choose one")
    if verbose:
        from macroinfra.cli import verbose as logs

        invocation = ctx.obj
        ctx.call_on_close(logs.enable(lambda: invocation.loaded_settings))


app.add_typer(config.app, name="config")
app.add_typer(migrate.app, name="migrate")
app.add_typer(schema.app, name="schema")
app.command(
    epilog=examples(
        "macroinfra doctor",
        "macroinfra doctor --strict",
        "macroinfra doctor timescaledb redis --timeout 10 --json",
    )
)(doctor.doctor)
app.add_typer(data.app, name="data")
app.add_typer(seed.app, name="seed")
app.add_typer(db.app, name="db")
stack.register(app)
