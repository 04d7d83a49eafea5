"""`shell`: psql against the configured database, its exit code passed back.

psql gets the password in its environment only (PGPASSWORD), never on its command line, so it
is in no process list. While psql runs, Ctrl-C is psql's: it cancels the running query there
and leaves this process waiting.
"""

from __future__ import annotations

import signal
import subprocess
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from macroinfra.backup import clients

if TYPE_CHECKING:
    from macroinfra.settings import Settings


def shell(settings: Settings, args: Sequence[str] = (), *, terminal: bool = False) -> int:
    """Run psql with `args`; its exit code. `terminal`: stdin is a terminal (a psql in the
    container then gets one too)."""
    client = clients.find_client(settings, "psql", None, interactive=terminal)
    restore_sigint = _leave_sigint_to_the_child()
    try:
        return subprocess.call(client.command(*args), env=client.env)
    except OSError as exc:
        raise clients.cannot_start(client, exc) from None
    finally:
        restore_sigint()


def _leave_sigint_to_the_child():  # type: ignore[no-untyped-def]
    """Ignore SIGINT here while the child runs (a handler, not SIG_IGN: the child must not
    inherit the ignoring); the function that puts the previous handler back."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = signal.signal(signal.SIGINT, lambda _signum, _frame: None)
    return lambda: signal.signal(signal.SIGINT, previous)
