"""The command line: thin Typer commands over the library."""


def main() -> None:
    import gc

    from macroinfra.cli.app import app

    try:
        app(prog_name="macroinfra")
    finally:
        # The interpreter's shutdown would walk every object the imports made (pydantic's,
        # psycopg's, ...) for garbage, a tenth of a second: none of it is garbage now.
        gc.freeze()
