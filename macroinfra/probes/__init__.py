"""One probe per service, run in parallel with a deadline; `run_doctor` is what the CLI calls."""

from macroinfra.probes.checkup import run_doctor
from macroinfra.probes.result import Check, DoctorReport, Group, Status

__all__ = ["Check", "DoctorReport", "Group", "Status", "run_doctor"]
