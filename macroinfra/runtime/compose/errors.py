"""What Docker and Compose write when they fail, as one line with a hint, secrets scrubbed.

python-on-whales' exceptions carry the full command line, so they are never shown:
`docker_errors` turns each into a MacroinfraError from `classify_docker_output`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from macroinfra.errors import MacroinfraError, OperationError, ServiceUnavailable
from macroinfra.redaction import Redactor

# What Docker writes when it cannot be used at all: (pattern, message, hint). A match's
# `where` group, when there is one, is appended to the message.
_UNAVAILABLE: tuple[tuple[re.Pattern[str], str, str], ...] = (
    (
        re.compile(
            r"Cannot connect to the Docker daemon(?P<where> at \S+?)?\.? Is the docker daemon "
            r"running",
            re.I,
        ),
        "no Docker engine answers",
        "start Docker (e.g. `sudo systemctl start docker`) or point DOCKER_HOST at a "
        "running engine; without Docker, use --runtime local",
    ),
    (
        re.compile(
            r"permission denied while trying to connect to the Docker daemon socket"
            r"(?: at(?P<where> \S+?):\s)?",
            re.I,
        ),
        "permission denied on the Docker socket",
        "add your user to the `docker` group and log in again, or run as a user "
        "allowed to use Docker",
    ),
    (
        re.compile(
            "|".join(
                re.escape(marker)
                for marker in (
                    "unknown command: docker compose",  # docker 24+ without the plugin
                    "'compose' is not a docker command",  # older clients
                    "unknown flag: --file",  # `docker compose --file` to a client without it
                    "unknown shorthand flag: 'f'",
                )
            )
        ),
        "the Docker Compose v2 plugin is not installed (`docker compose` does not exist)",
        "install Docker's Compose plugin (package docker-compose-plugin, or "
        "docker-compose on Debian 13), or use --runtime local",
    ),
)
# Compose reads `$name` inside an unquoted or double-quoted .env value as a variable and warns
# `The "name" variable is not set`, naming what follows the `$` (maybe part of a secret).
# Every variable of the compose file has a default, so such a warning always comes from .env.
_UNSET_VARIABLE = re.compile(r'The \\?"[^"]*?\\?" variable is not set')
DOLLAR_IN_ENV = (
    "Compose read a `$` in a .env value as a variable and dropped it, so a service got another "
    "value: put that value in single quotes in .env (NAME='value')"
)


def unset_variable_warning(line: str) -> bool:
    """Is this Compose's warning about a `$` in a .env value? It is never shown as it is."""
    return _UNSET_VARIABLE.search(line) is not None


def classify_docker_output(
    text: str, what: str, *, return_code: int | None = None, secrets: Sequence[str] = ()
) -> MacroinfraError:
    """One error for what `docker compose <what>` wrote before failing."""
    for pattern, message, hint in _UNAVAILABLE:
        if m := pattern.search(text):
            return ServiceUnavailable(message + (m.groupdict().get("where") or ""), hint=hint)
    return OperationError(
        f"docker compose {what} failed: {Redactor(secrets)(_error_line(text, return_code))}",
        hint="see `macroinfra ps` and `macroinfra logs SERVICE`",
    )


def _error_line(text: str, return_code: int | None) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    lines = [ln for ln in lines if not ln.startswith(("Usage:", "Run 'docker"))]
    lines = [ln for ln in lines if not unset_variable_warning(ln)]  # may quote a secret's part
    errors = [ln for ln in lines if "error" in ln.lower()]
    line = (errors or lines or [f"exit code {return_code}"])[-1]
    return line if len(line) <= 300 else line[:297] + "..."


@contextmanager
def docker_errors(what: str, redact: Redactor) -> Iterator[None]:
    """Turn python-on-whales' exceptions (which hold the whole command line) into one line."""
    from python_on_whales.client_config import ClientNotFoundError
    from python_on_whales.exceptions import DockerException

    try:
        yield
    except ClientNotFoundError:
        raise ServiceUnavailable(
            "no `docker` command on PATH",
            hint="install the Docker client and its Compose plugin, or use --runtime local",
        ) from None
    except DockerException as exc:
        text = "\n".join(t for t in (exc.stderr, exc.stdout) if t)
        raise classify_docker_output(
            text, what, return_code=exc.return_code, secrets=redact.secrets
        ) from None
