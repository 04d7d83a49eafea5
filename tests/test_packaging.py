"""A non-editable install finds its migrations and compose file inside the wheel."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_ships_migrations_and_compose_and_works_from_another_folder(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path / "dist"),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = (tmp_path / "dist").glob("macroinfra-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "macroinfra/_resources/migrations/env.py" in names
    assert "macroinfra/_resources/migrations/versions/0001_initial_schema.py" in names
    assert "macroinfra/_resources/compose/docker-compose.yml" in names

    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target)}  # the installed copy comes first
    code = (
        "import macroinfra, macroinfra.resources as r; "
        "print(macroinfra.__file__); print(r.migrations_dir()); "
        "from macroinfra.cli import main; import sys; sys.argv = ['macroinfra', 'migrate', 'sql']; "
        "main()"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=elsewhere, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    module_file, migrations, *sql = out.stdout.splitlines()
    assert module_file.startswith(str(target))
    assert migrations == str(target / "macroinfra" / "_resources" / "migrations")
    assert any("create_hypertable(" in line for line in sql)
