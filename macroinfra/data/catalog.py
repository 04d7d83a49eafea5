"""What series there are: codes, sources, frequencies, the span of their observations and how
often they were revised; and the did-you-mean for a code no series has."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from macroinfra.pg import Target, database_error, driver_connection

SUGGESTED = 3  # closest codes named in a did-you-mean


@dataclass(frozen=True)
class SeriesSummary:
    code: str
    source: str
    name: str
    frequency: str
    unit: str | None
    first_observation: date | None  # in macro_series; None: no observation stored
    last_observation: date | None
    observations: int  # observation dates stored
    revisions: int  # stored rows that revise a first release (revision_number > 0)


@dataclass(frozen=True)
class SeriesList:
    pattern: str | None
    series: list[SeriesSummary]
    suggestion: str | None  # when nothing matches a pattern without wildcards: did you mean


_LIST = """
SELECT sm.series_code, ds.name, sm.name, sm.frequency, sm.unit,
       m.first_observation, m.last_observation,
       coalesce(m.observations, 0), coalesce(m.revisions, 0)
FROM series_metadata sm
JOIN data_sources ds ON ds.id = sm.source_id
LEFT JOIN LATERAL (
    SELECT min(observation_date) AS first_observation,
           max(observation_date) AS last_observation,
           count(DISTINCT observation_date) AS observations,
           count(*) FILTER (WHERE revision_number > 0) AS revisions
    FROM macro_series WHERE series_id = sm.id
) m ON true
WHERE %(pattern)s::text IS NULL OR sm.series_code ILIKE %(pattern)s ESCAPE '\\'
ORDER BY sm.series_code, ds.name
"""


def list_series(target: Target, pattern: str | None = None) -> SeriesList:
    """Every series whose code matches `pattern` (case-insensitive; `*` and `?` are wildcards,
    and a pattern without them matches anywhere in the code)."""
    import psycopg

    with driver_connection(target) as conn:
        try:
            rows = conn.execute(_LIST, {"pattern": _like(pattern)}).fetchall()
            suggestion = None
            if not rows and pattern and "*" not in pattern and "?" not in pattern:
                suggestion = did_you_mean(pattern, known_codes(conn))
        except psycopg.Error as exc:
            raise database_error(exc, "listing the series") from None
    return SeriesList(pattern, [SeriesSummary(*row) for row in rows], suggestion)


def _like(pattern: str | None) -> str | None:
    if pattern is None or pattern == "":
        return None
    escaped = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    if "*" not in pattern and "?" not in pattern:
        return f"%{escaped}%"
    return escaped.replace("*", "%").replace("?", "_")


def did_you_mean(code: str, known: Iterable[str]) -> str | None:
    """`did you mean 'A', 'B'?` from the codes closest to `code`, or None."""
    codes = list(dict.fromkeys(known))
    near = difflib.get_close_matches(code, codes, n=SUGGESTED, cutoff=0.6)
    if not near:  # a code in another case, or one that contains the given one
        folded = code.casefold()
        near = [c for c in codes if c.casefold() == folded or folded in c.casefold()]
        near = near[:SUGGESTED]
    return f"did you mean {', '.join(map(repr, near))}?" if near else None


def known_codes(conn: Any) -> list[str]:
    """Every series code (distinct, sorted)."""
    return [
        r[0] for r in conn.execute("SELECT DISTINCT series_code FROM series_metadata ORDER BY 1")
    ]
