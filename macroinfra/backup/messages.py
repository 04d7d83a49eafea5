"""What pg_dump and pg_restore write to stderr, sorted: errors, warnings worth showing, and the
verbose lines that mark progress.

pg_dump always warns about circular foreign keys among three tables of TimescaleDB's own
catalog (hypertable, chunk, continuous_agg). TimescaleDB documents these as harmless for a
full dump restored with its procedure, so they are left out; any other warning is kept.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from macroinfra.redaction import Redactor

# TimescaleDB's catalog tables that pg_dump always reports as circular (harmless in a full dump)
CATALOG_CYCLES = frozenset({"hypertable", "chunk", "continuous_agg"})
CIRCULAR = "there are circular foreign-key constraints"
_LEVEL = re.compile(r"^(?P<level>error|fatal|warning|detail|hint|notice):\s*(?P<text>.*)$", re.I)
PROGRESS_EVERY_S = 1.0


class Messages:
    """Collects one program's stderr, line by line. `step` is called with each verbose line
    that starts with one of `steps` (a prefix after "<program>: "), at most once a second."""

    def __init__(
        self,
        program: str,
        redact: Redactor,
        *,
        steps: tuple[str, ...] = (),
        step: Callable[[str], None] | None = None,
    ) -> None:
        self.program = program
        self.redact = redact
        self.steps = steps
        self.step = step
        self.counts: dict[str, int] = dict.fromkeys(steps, 0)
        self.blocks: list[tuple[str, list[str]]] = []  # (level, [text, detail, hint...])
        self.other: list[str] = []  # lines without the program's prefix (e.g. from Docker)
        self._last_step = 0.0

    def __call__(self, line: str) -> None:
        prefix = f"{self.program}: "
        if not line.startswith(prefix):
            if line.strip():
                self.other.append(self.redact(line.strip()))
            return
        body = line[len(prefix) :]
        match = _LEVEL.match(body)
        if match is None:
            self._progress(body)
            return
        level, text = match["level"].lower(), self.redact(match["text"].strip())
        if level in ("detail", "hint"):
            if self.blocks:
                self.blocks[-1][1].append(text)
        else:
            self.blocks.append((level, [text]))

    def _progress(self, body: str) -> None:
        for step in self.steps:
            if body.startswith(step):
                self.counts[step] += 1
                now = time.monotonic()
                if self.step is not None and now - self._last_step >= PROGRESS_EVERY_S:
                    self._last_step = now
                    self.step(step)
                return

    @property
    def errors(self) -> list[str]:
        return [text[0] for level, text in self.blocks if level in ("error", "fatal")]

    @property
    def warnings(self) -> list[str]:
        """Warnings with their detail, except TimescaleDB's known catalog cycles."""
        kept = []
        for level, text in self.blocks:
            if level != "warning":
                continue
            if text[0].startswith(CIRCULAR) and len(text) > 1 and text[1] in CATALOG_CYCLES:
                continue
            kept.append(text[0].rstrip(":") + (f": {text[1]}" if len(text) > 1 else ""))
        return kept

    def reason(self, code: int) -> str:
        """The one line that says why the program failed."""
        if self.errors:
            return self.errors[0]
        if self.other:
            return self.other[-1]
        return f"exit code {code}"
