"""Run probes in parallel, each with a deadline, and never wait for one that is stuck.

Each probe is a generator of Checks running in a daemon thread of its own: checks it yields
are kept as they come. At the deadline the runner takes what has been yielded, reports every
unfinished probe as failed (did not answer in time), and returns; a thread still blocked in a
socket is left behind (daemon threads do not keep the process alive). Client timeouts inside a
probe are set a little shorter than the deadline, so a probe normally reports its own timeout
with a precise message before the runner has to.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from macroinfra.errors import first_line
from macroinfra.probes.result import Check, Group, Status

# A probe's clients give up this much before the runner's deadline (at most), so the probe
# reports its own, more precise, timeout.
CLIENT_MARGIN_S = 0.25


@dataclass(frozen=True)
class Budget:
    """The time a probe has: clients inside it take their timeouts from here."""

    deadline: float  # time.monotonic() value

    def remaining(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    def client_timeout(self) -> float:
        """Seconds for a client's connect/read timeouts: a little less than what is left."""
        left = self.remaining()
        return max(0.05, left - min(CLIENT_MARGIN_S, left * 0.1))


@dataclass(frozen=True)
class Job:
    name: str  # the check name used when the probe reports nothing in time
    service: str
    run: Callable[[Budget], Iterator[Check]]
    timeout_hint: str  # the fix to show when it does not answer in time
    # Name (and group) of the check reported when the probe answered but a later phase ran out
    # of time.
    continuation: str | None = None
    continuation_group: Group = Group.SERVICE


def run_jobs(jobs: Sequence[Job], timeout: float, *, started: float | None = None) -> list[Check]:
    """Run every job at once; return their checks in job order within `timeout` seconds.

    The seconds count from `started` (a time.monotonic() value; default: now), so a caller that
    did other work first still ends by `started + timeout`.
    """
    if started is None:
        started = time.monotonic()
    budget = Budget(started + timeout)
    collected: dict[str, list[Check]] = {job.name: [] for job in jobs}
    finished = {job.name: threading.Event() for job in jobs}
    lock = threading.Lock()

    def work(job: Job) -> None:
        try:
            for check in job.run(budget):
                with lock:
                    collected[job.name].append(check)
        except Exception as exc:  # a probe bug must not take the whole doctor down
            crash = Check(
                job.name,
                job.service,
                Status.FAILED,
                f"the probe failed unexpectedly: {type(exc).__name__}: {first_line(exc)}",
                hint="run again; if it persists, report it with this line",
                reason="error",
            )
            with lock:
                collected[job.name].append(crash)
        finally:
            finished[job.name].set()

    for job in jobs:
        threading.Thread(target=work, args=(job,), name=f"probe-{job.name}", daemon=True).start()
    for job in jobs:
        finished[job.name].wait(budget.remaining())

    results: list[Check] = []
    with lock:
        for job in jobs:
            checks = list(collected[job.name])
            if not finished[job.name].is_set():
                checks.append(_late(job, timeout, answered=bool(checks)))
            results.extend(checks)
    return results


def _late(job: Job, timeout: float, *, answered: bool) -> Check:
    if answered and job.continuation is not None:
        name, group = job.continuation, job.continuation_group
    else:
        name, group = job.name, Group.SERVICE
    what = "did not finish" if answered else "did not answer"
    return Check(
        name,
        job.service,
        Status.FAILED,
        f"{what} within {timeout:g} s",
        latency_ms=round(timeout * 1000, 1),
        hint=job.timeout_hint,
        reason="timeout",
        group=group,
    )
