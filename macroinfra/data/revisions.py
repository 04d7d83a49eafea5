"""macro_series is point-in-time data: the checks a batch passes before anything is inserted.

A failed check loads nothing:
- a published revision is never changed: a row with the key of a stored row but another value
  or release_time is rejected (publish a correction as the next revision_number instead);
- a batch may not give the same revision twice with different contents;
- revisions of one observation are released in order: a revision whose release_time is earlier
  than the previous revision's (stored or in the batch) is rejected.

The batch is read from the loader's staging table; the caller holds the macro_series writer
lock, so two concurrent loads cannot both pass.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from macroinfra.errors import OperationError

if TYPE_CHECKING:
    import psycopg

MAX_REPORTED = 5


class RevisionError(OperationError):
    """A macro_series batch that would break point-in-time correctness; nothing was loaded."""


_SERIES = "coalesce(sm.series_code || ' (id ' || k.series_id || ')', 'id ' || k.series_id)"

_IN_BATCH = f"""
SELECT {_SERIES}, k.observation_date, k.revision_number, k.n
FROM (
    SELECT series_id, observation_date, revision_number, count(*) AS n
    FROM {{stage}}
    GROUP BY series_id, observation_date, revision_number
    HAVING count(DISTINCT release_time) > 1 OR count(DISTINCT value) > 1
        OR (count(value) > 0 AND count(value) < count(*))
) k LEFT JOIN series_metadata sm ON sm.id = k.series_id
ORDER BY 1, 2, 3 LIMIT {MAX_REPORTED + 1}
"""

_CHANGED = f"""
SELECT {_SERIES}, k.observation_date, k.revision_number,
       k.old_value, k.old_release, k.value, k.release_time
FROM (
    SELECT s.series_id, s.observation_date, s.revision_number, s.value, s.release_time,
           m.value AS old_value, m.release_time AS old_release
    FROM {{stage}} s
    JOIN macro_series m USING (series_id, observation_date, revision_number)
    WHERE m.observation_date BETWEEN %(lo)s AND %(hi)s
      AND (m.value IS DISTINCT FROM s.value OR m.release_time <> s.release_time)
) k LEFT JOIN series_metadata sm ON sm.id = k.series_id
ORDER BY 1, 2, 3 LIMIT {MAX_REPORTED + 1}
"""

# Stored rows of the observations the batch touches, plus the batch's new rows; a pair of
# consecutive revisions out of release order is a problem when one of the two is new.
_OUT_OF_ORDER = f"""
WITH new AS (
    SELECT DISTINCT ON (series_id, observation_date, revision_number)
           series_id, observation_date, revision_number, release_time
    FROM {{stage}} s
    WHERE NOT EXISTS (
        SELECT 1 FROM macro_series m
        WHERE m.series_id = s.series_id AND m.observation_date = s.observation_date
          AND m.revision_number = s.revision_number
          AND m.observation_date BETWEEN %(lo)s AND %(hi)s)
    ORDER BY series_id, observation_date, revision_number
), stored AS (
    SELECT m.series_id, m.observation_date, m.revision_number, m.release_time
    FROM macro_series m
    WHERE m.observation_date BETWEEN %(lo)s AND %(hi)s
      AND (m.series_id, m.observation_date) IN (
          SELECT DISTINCT series_id, observation_date FROM {{stage}})
), combined AS (
    SELECT *, true AS is_new FROM new
    UNION ALL
    SELECT *, false FROM stored
), paired AS (
    SELECT *, lag(revision_number) OVER w AS prev_revision,
           lag(release_time) OVER w AS prev_release, lag(is_new) OVER w AS prev_is_new
    FROM combined
    WINDOW w AS (PARTITION BY series_id, observation_date ORDER BY revision_number)
)
SELECT {_SERIES}, k.observation_date, k.revision_number, k.release_time,
       k.prev_revision, k.prev_release
FROM paired k LEFT JOIN series_metadata sm ON sm.id = k.series_id
WHERE k.release_time < k.prev_release AND (k.is_new OR k.prev_is_new)
ORDER BY 1, 2, 3 LIMIT {MAX_REPORTED + 1}
"""

_NOTHING_LOADED = "nothing from this batch was loaded"


def check_revisions(cur: psycopg.Cursor[Any], stage: Any) -> None:
    """Raise RevisionError, naming up to MAX_REPORTED problems, if the staged batch breaks a
    point-in-time rule."""
    from psycopg import sql

    def run(query: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        cur.execute(sql.SQL(query).format(stage=stage), params)  # type: ignore[arg-type]
        return cur.fetchall()

    cur.execute(sql.SQL("ANALYZE {}").format(stage))
    doubles = run(_IN_BATCH)
    if doubles:
        raise RevisionError(
            f"macro_series batch rejected: {_count(doubles, 'revision')} given more than "
            "once, with different values or release times",
            hint=f"give each (series, observation_date, revision_number) once; {_NOTHING_LOADED}",
            problems=[
                f"series {s}, {d}: revision {r} given {n} times differently"
                for s, d, r, n in doubles[:MAX_REPORTED]
            ],
        )
    cur.execute(
        sql.SQL("SELECT min(observation_date), max(observation_date) FROM {}").format(stage)
    )
    lo, hi = cur.fetchone() or (None, None)
    bounds = {"lo": lo, "hi": hi}
    changed = run(_CHANGED, bounds)
    if changed:
        raise RevisionError(
            f"macro_series batch rejected: {_count(changed, 'row')} would change a published "
            "revision",
            hint="a published value is never updated: load the correction as the next "
            f"revision_number, with its own release_time; {_NOTHING_LOADED}",
            problems=[
                f"series {s}, {d}: revision {r} is published as {ov} released {_ts(orl)}; "
                f"the batch gives {v} released {_ts(rl)}"
                for s, d, r, ov, orl, v, rl in changed[:MAX_REPORTED]
            ],
        )
    disorder = run(_OUT_OF_ORDER, bounds)
    if disorder:
        raise RevisionError(
            f"macro_series batch rejected: {_count(disorder, 'revision')} out of release order",
            hint="a revision's release_time must be at or after the previous revision's; "
            + _NOTHING_LOADED,
            problems=[
                f"series {s}, {d}: revision {r} released {_ts(rl)} is earlier than "
                f"revision {pr} released {_ts(prl)}"
                for s, d, r, rl, pr, prl in disorder[:MAX_REPORTED]
            ],
        )


def _count(rows: list[Any], noun: str) -> str:
    if len(rows) > MAX_REPORTED:
        return f"more than {MAX_REPORTED} {noun}s"
    return f"{len(rows)} {noun}" + ("s" if len(rows) > 1 else "")


def _ts(value: datetime) -> str:
    return value.isoformat()
