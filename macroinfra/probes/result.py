"""What a probe finds: one Check per line of `doctor` output, and the report that holds them."""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field, replace
from functools import partial
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from macroinfra.redaction import Redactor


class Status(enum.StrEnum):
    OK = "ok"
    WARNING = "warning"  # works, with a caveat; fails the run only under --strict
    FAILED = "failed"
    SKIPPED = "skipped"  # not checked, with the reason (e.g. the runtime does not provide it)


class Group(enum.StrEnum):
    """Which part of the report a check belongs to (`doctor` shows each under its own heading)."""

    SERVICE = "service"  # a service answers and accepts the credentials
    SCHEMA = "schema"  # --strict: the schema is as declared


@dataclass(frozen=True)
class Check:
    name: str  # "redis", or a strict check such as "schema: hypertables"
    service: str  # one of services.SERVICES
    status: Status
    detail: str  # one line: what was found
    latency_ms: float | None = None
    hint: str | None = None  # the fix, in one line (the command or the setting); set when not ok
    reason: str | None = None  # machine-readable cause: "auth", "refused", "timeout", "drift", ...
    problems: tuple[str, ...] = ()  # one line per difference found (strict checks)
    info: dict[str, Any] = field(default_factory=dict)  # versions, brokers, ... for --json
    group: Group = Group.SERVICE

    def redacted(self, redact: Redactor) -> Check:
        """This check with every occurrence of a secret value replaced by ***."""
        return replace(
            self,
            detail=redact(self.detail),
            hint=redact(self.hint) if self.hint is not None else None,
            problems=tuple(redact(p) for p in self.problems),
            info=redact.value(self.info),
        )


def ok(
    name: str,
    service: str,
    detail: str,
    started: float | None,
    *,
    group: Group = Group.SERVICE,
    **info: Any,
) -> Check:
    """A passed check; latency only when `started` is given."""
    latency = elapsed_ms(started) if started is not None else None
    return Check(name, service, Status.OK, detail, latency, info=info, group=group)


def not_ok(
    status: Status,
    name: str,
    service: str,
    detail: str,
    hint: str,
    *,
    reason: str,
    started: float | None = None,
    problems: tuple[str, ...] = (),
    group: Group = Group.SERVICE,
    **info: Any,
) -> Check:
    """A failed or warning check, with the fix; latency only when `started` is given."""
    latency = elapsed_ms(started) if started is not None else None
    return Check(name, service, status, detail, latency, hint, reason, problems, info, group)


failed = partial(not_ok, Status.FAILED)
warning = partial(not_ok, Status.WARNING)


def cannot_talk(service: str, label: str, where: str, exc: BaseException, **kw: Any) -> Check:
    """A service that answered and then failed in a way no other check names."""
    from macroinfra.errors import first_line

    detail = f"cannot talk to {label} at {where}: {first_line(exc)}"
    return failed(service, service, detail, reason="error", **kw)


def waited(started: float) -> str:
    """How long since `started`, for a timeout message: '2.0 s'."""
    return f"{time.monotonic() - started:.1f} s"


def elapsed_ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)


@dataclass(frozen=True)
class DoctorReport:
    runtime: str
    strict: bool
    timeout_seconds: float
    elapsed_ms: float
    checks: list[Check]
    __json_properties__ = ("ok", "counts")

    @property
    def ok(self) -> bool:
        """Every required check passed (warnings pass, except under --strict)."""
        bad = {Status.FAILED, Status.WARNING} if self.strict else {Status.FAILED}
        return not any(c.status in bad for c in self.checks)

    @property
    def counts(self) -> dict[str, int]:
        return {s.value: sum(c.status is s for c in self.checks) for s in Status}
