"""The checkup behind `macroinfra doctor`: which services to probe, the probes in parallel,
one report.

Which services to probe, and why the others are skipped, the runtime says (`provided`,
`skip_reason`). Each service's probe module is imported only when that service is probed, so
`doctor timescaledb` loads no Redis, MongoDB, Kafka or MinIO client.
"""

from __future__ import annotations

import time
from dataclasses import replace
from functools import partial
from importlib import import_module
from typing import TYPE_CHECKING

from macroinfra.probes.result import Check, DoctorReport, Group, Status
from macroinfra.probes.runner import Job, run_jobs
from macroinfra.services import SERVICES, ServiceName

if TYPE_CHECKING:
    from collections.abc import Sequence

    from macroinfra.settings import Settings

# Of the timeout, the part kept for starting the process and exiting it (interpreter start-up,
# imports, rendering, and client libraries' exit hooks), so the whole command ends in time.
EXIT_RESERVE_S = 0.4
EXIT_RESERVE_SHARE = 0.25


def probe_time(timeout: float) -> float:
    """The seconds the probes get out of the command's timeout."""
    return timeout - min(EXIT_RESERVE_S, timeout * EXIT_RESERVE_SHARE)


def run_doctor(
    settings: Settings,
    services: Sequence[str] = (),
    *,
    strict: bool = False,
    timeout: float | None = None,
    runtime: str | None = None,
    profiles: Sequence[str] = (),
) -> DoctorReport:
    """Probe the services (all the runtime provides, or the named ones) within `timeout`,
    counted from this call (choosing the runtime, which may ping Docker, included).

    Named services are probed whatever the runtime; the others the runtime does not provide
    are reported as skipped. Raises UsageError for an unknown service, profile or runtime.
    """
    from macroinfra import runtime as runtimes
    from macroinfra.runtime.base import validate_profiles, validate_services

    started = time.monotonic()
    named = validate_services(list(services))
    profiles = validate_profiles(list(profiles))
    limit = timeout if timeout is not None else settings.probe_timeout
    chosen = runtimes.select_runtime(settings, runtime).runtime
    probed = named or chosen.provided(profiles)

    jobs = [_job(settings, service, strict) for service in SERVICES if service in probed]
    results = run_jobs(jobs, probe_time(limit), started=started)
    if strict:
        from macroinfra.probes.strict import plaintext_checks

        results += plaintext_checks(settings, results)
    by_service: dict[str, list[Check]] = {}
    for check in results:
        by_service.setdefault(check.service, []).append(check)
    ordered: list[Check] = []
    for service in SERVICES:
        ordered.extend(by_service.get(service, []))
        if not named and service not in probed:
            reason = chosen.skip_reason(service)
            ordered.append(Check(service, service, Status.SKIPPED, reason, reason="not_provided"))
    from macroinfra.redaction import Redactor

    redact = Redactor.for_settings(settings)
    return DoctorReport(
        runtime=chosen.name,
        strict=strict,
        timeout_seconds=limit,
        elapsed_ms=round((time.monotonic() - started) * 1000, 1),
        checks=[_more_time(c, limit).redacted(redact) for c in ordered],
    )


def _job(settings: Settings, service: str, strict: bool) -> Job:
    """The probe of one service: `macroinfra.probes.<service>`, imported now."""
    module = import_module(f"macroinfra.probes.{service}")
    options = {"strict": strict} if service == ServiceName.TIMESCALEDB else {}
    return Job(
        service,
        service,
        partial(module.probe, settings, **options),
        module.ADDRESS_HINT,
        continuation="schema" if service == ServiceName.TIMESCALEDB else None,
        continuation_group=Group.SCHEMA,
    )


def _more_time(check: Check, limit: float) -> Check:
    """A timeout may only mean the limit was short for a slow but healthy service: say so."""
    if check.reason != "timeout" or check.hint is None:
        return check
    return replace(check, hint=f"{check.hint}, or raise --timeout (it was {limit:g} s)")
