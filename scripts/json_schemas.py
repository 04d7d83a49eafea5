"""Write docs/json/<command>.schema.json from the result types (macroinfra/cli/shapes.py).

python scripts/json_schemas.py          # write them
python scripts/json_schemas.py --check  # exit 1 if a file differs from what it would write
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from macroinfra.cli.shapes import all_schemas

FOLDER = Path(__file__).resolve().parent.parent / "docs" / "json"


def rendered() -> dict[Path, str]:
    return {
        FOLDER / f"{name}.schema.json": json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
        for name, schema in all_schemas().items()
    }


def main(argv: list[str]) -> int:
    files = rendered()
    if "--check" in argv:
        stale = [p for p, text in files.items() if not p.exists() or p.read_text() != text]
        for path in stale:
            print(f"out of date: {path} (run python scripts/json_schemas.py)")
        return 1 if stale else 0
    FOLDER.mkdir(parents=True, exist_ok=True)
    for path, text in files.items():
        path.write_text(text)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
