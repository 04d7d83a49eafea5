"""The command line: thin Typer commands over the library."""


def main() -> None:
    from macroinfra.cli.app import app

    app(prog_name="macroinfra")
