"""One probe per service, run in parallel with a deadline; `run_doctor` is what the CLI calls."""

from macroinfra.probes.doctor import run_doctor
from macroinfra.probes.result import Check, DoctorReport, Status

__all__ = ["Check", "DoctorReport", "Status", "run_doctor"]
