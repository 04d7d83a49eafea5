"""Where the PostgreSQL server programs are: the newest installed server with TimescaleDB, or
the folder MACROINFRA_PG_BINDIR names."""

from __future__ import annotations

import glob
import shutil
import subprocess
from pathlib import Path

from macroinfra.errors import ServiceUnavailable


def find_pg_bindir(configured: Path | None = None) -> Path:
    """The newest PostgreSQL server with TimescaleDB installed (or the configured one)."""
    candidates = [configured] if configured else debian_bindirs()
    if not configured and (found := shutil.which("postgres")):
        candidates.append(Path(found).parent)
    servers = [c for c in candidates if (c / "postgres").exists()]
    if not servers:
        raise ServiceUnavailable(
            "no PostgreSQL server found" + (f" in {configured}" if configured else ""),
            hint="install postgresql-17 and postgresql-17-timescaledb (Debian 13), "
            "run scripts/install-system.sh, or set MACROINFRA_PG_BINDIR",
        )
    for bindir in servers:
        if _has_timescaledb(bindir):
            return bindir
    raise ServiceUnavailable(
        f"TimescaleDB is not installed for the PostgreSQL server in {servers[0]}",
        hint="install postgresql-<major>-timescaledb, or run scripts/install-system.sh",
    )


def debian_bindirs(program: str = "postgres") -> list[Path]:
    """Debian's /usr/lib/postgresql/<major>/bin folders holding `program`, newest major first."""
    bindirs = [Path(p).parent for p in glob.glob(f"/usr/lib/postgresql/*/bin/{program}")]
    major = {b: int(b.parent.name) if b.parent.name.isdigit() else 0 for b in bindirs}
    return sorted(bindirs, key=major.__getitem__, reverse=True)


def _has_timescaledb(bindir: Path) -> bool:
    debian_share = Path("/usr/share/postgresql") / bindir.parent.name / "extension"
    if (debian_share / "timescaledb.control").exists():
        return True
    pg_config = bindir / "pg_config"
    if not pg_config.exists():
        return False
    sharedir = subprocess.run(
        [str(pg_config), "--sharedir"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return bool(sharedir) and (Path(sharedir) / "extension" / "timescaledb.control").exists()
