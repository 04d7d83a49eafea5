"""Point-in-time reads of macro_series: as of an instant, first release, latest.

`as_of(series, T)` gives, for each observation, the latest revision released at or before T
(the boundary is included): what a backtest standing at T could have known, and nothing
released later. The queries walk the natural-key index (series_id, observation_date,
revision_number) of each chunk; `explain` shows the plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal, TypedDict, Unpack

from macroinfra.data.catalog import did_you_mean, known_codes
from macroinfra.errors import NotFound, UsageError
from macroinfra.pg import Target, database_error, driver_connection

if TYPE_CHECKING:
    import psycopg
    from psycopg import sql

View = Literal["as_of", "first_release", "latest"]


@dataclass(frozen=True)
class SeriesInfo:
    id: int
    code: str
    source: str
    name: str
    frequency: str
    unit: str | None


@dataclass(frozen=True)
class Observation:
    observation_date: date
    value: Decimal | None  # None: NULL, or NaN or an infinity another writer stored (the
    # loader refuses them): no number, and nothing JSON cannot carry
    revision_number: int
    release_time: datetime


@dataclass(frozen=True)
class SeriesView:
    series: SeriesInfo
    view: View
    at: datetime | None  # the instant of an as_of view
    start: date | None  # the first and last observation dates asked for (None: unbounded)
    end: date | None
    observations: list[Observation]


def parse_instant(text: str, *, option: str = "--at") -> datetime:
    """An ISO 8601 instant with its time zone (`Z` or an offset); anything else is a UsageError."""
    value = text.strip()
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(
            f"{option} {text!r} is not an ISO 8601 date and time",
            hint="write it like 2024-05-01T14:30:00Z or 2024-05-01T08:30-04:00",
        ) from None
    require_aware(parsed, what=f"{option} {text!r}")
    return parsed


def require_aware(at: datetime, *, what: str = "the as-of instant") -> None:
    if not isinstance(at, datetime):
        raise UsageError(f"{what} must be a datetime, not {type(at).__name__}")
    if at.tzinfo is None or at.utcoffset() is None:
        raise UsageError(
            f"{what} has no time zone, so the instant it names is ambiguous",
            hint="give a timezone-aware time: append Z (UTC) or an offset such as +02:00",
        )


def resolve_series(target: Target, series: int | str, *, source: str | None = None) -> SeriesInfo:
    """A series by id, or by code (and source, when the code exists in several sources)."""
    import psycopg

    with driver_connection(target) as conn:
        try:
            return _resolve(conn, series, source)
        except psycopg.Error as exc:
            raise database_error(exc, "looking up the series") from None


class ViewOptions(TypedDict, total=False):
    """What every view takes besides the series: its source, and the observation dates
    (inclusive) to read."""

    source: str | None
    start: date | None
    end: date | None


def as_of(
    target: Target, series: int | str, at: datetime, **options: Unpack[ViewOptions]
) -> SeriesView:
    """For each observation, the latest revision released at or before `at`. `at` must be
    timezone-aware."""
    require_aware(at)
    return _view(target, series, "as_of", at, **options)


def first_release(target: Target, series: int | str, **options: Unpack[ViewOptions]) -> SeriesView:
    """For each observation, the value as first published (the lowest revision_number)."""
    return _view(target, series, "first_release", None, **options)


def latest(target: Target, series: int | str, **options: Unpack[ViewOptions]) -> SeriesView:
    """For each observation, the latest revision stored (the highest revision_number)."""
    return _view(target, series, "latest", None, **options)


def explain(
    target: Target,
    series_id: int,
    view: View = "as_of",
    at: datetime | None = None,
    *,
    analyze: bool = False,
) -> list[str]:
    """The query plan of a view (EXPLAIN, or EXPLAIN ANALYZE), one line per entry."""
    from psycopg import sql

    if view == "as_of":
        if at is None:
            raise UsageError("an as_of plan needs an instant")
        require_aware(at)
    query, params = _query(view, series_id, at, None, None)
    prefix = sql.SQL("EXPLAIN (ANALYZE, BUFFERS) " if analyze else "EXPLAIN ")
    with driver_connection(target) as conn:
        rows = conn.execute(prefix + query, params).fetchall()
    return [r[0] for r in rows]


# -- internals -------------------------------------------------------------------------------


def _finite(value: Decimal | None) -> Decimal | None:
    return value if value is None or value.is_finite() else None


def _view(
    target: Target,
    series: int | str,
    view: View,
    at: datetime | None,
    source: str | None = None,
    start: date | None = None,
    end: date | None = None,
) -> SeriesView:
    import psycopg

    if start is not None and end is not None and start > end:
        raise UsageError(
            f"the start {start.isoformat()} is after the end {end.isoformat()}",
            hint="give --start on or before --end",
        )
    with driver_connection(target) as conn:
        try:
            info = _resolve(conn, series, source)
            query, params = _query(view, info.id, at, start, end)
            rows = conn.execute(query, params).fetchall()
        except psycopg.Error as exc:
            raise database_error(exc, f"reading series {series}") from None
    if view != "first_release":
        rows.reverse()
    observations = [Observation(d, _finite(v), r, t) for d, v, r, t in rows]
    return SeriesView(info, view, at, start, end, observations)


def _query(
    view: View, series_id: int, at: datetime | None, start: date | None, end: date | None
) -> tuple[sql.Composed, dict[str, Any]]:
    """DISTINCT ON in the order of the natural key, so each chunk's unique index delivers the
    rows sorted: read backwards for as_of and latest (the highest qualifying revision comes
    first; the caller reverses the rows), forwards for first_release."""
    from psycopg import sql

    where = [sql.SQL("series_id = %(series_id)s")]
    params: dict[str, Any] = {"series_id": series_id}
    if view == "as_of":
        where.append(sql.SQL("release_time <= %(at)s"))
        params["at"] = at
    if start is not None:
        where.append(sql.SQL("observation_date >= %(start)s"))
        params["start"] = start
    if end is not None:
        where.append(sql.SQL("observation_date <= %(end)s"))
        params["end"] = end
    direction = sql.SQL("ASC" if view == "first_release" else "DESC")
    query = sql.SQL(
        "SELECT DISTINCT ON (observation_date)"
        " observation_date, value, revision_number, release_time"
        " FROM macro_series WHERE {where}"
        " ORDER BY observation_date {direction}, revision_number {direction}"
    ).format(where=sql.SQL(" AND ").join(where), direction=direction)
    return query, params


def _resolve(conn: psycopg.Connection[Any], series: int | str, source: str | None) -> SeriesInfo:
    select = (
        "SELECT sm.id, sm.series_code, ds.name, sm.name, sm.frequency, sm.unit"
        " FROM series_metadata sm JOIN data_sources ds ON ds.id = sm.source_id"
    )
    if isinstance(series, int) and not isinstance(series, bool):
        rows = conn.execute(select + " WHERE sm.id = %s", (series,)).fetchall()
        if not rows:
            raise NotFound(f"no series with id {series}")
        return SeriesInfo(*rows[0])
    if not isinstance(series, str):
        raise UsageError(f"a series is named by its id or its code, not {type(series).__name__}")
    rows = conn.execute(
        select + " WHERE sm.series_code = %s AND (%s::text IS NULL OR ds.name = %s)"
        " ORDER BY ds.name",
        (series, source, source),
    ).fetchall()
    if len(rows) == 1:
        return SeriesInfo(*rows[0])
    if len(rows) > 1:
        raise UsageError(
            f"series code {series!r} exists in {len(rows)} sources: "
            + ", ".join(r[2] for r in rows),
            hint="name the source (--source NAME)",
        )
    where = f" in source {source!r}" if source is not None else ""
    known = known_codes(conn)
    if not known:
        hint = "there are no series yet: load some, or run `macroinfra seed demo`"
    else:
        near = did_you_mean(series, known)
        hint = (f"{near} " if near else "") + "`macroinfra data series` lists the series codes"
    raise NotFound(f"no series with code {series!r}{where}", hint=hint)
