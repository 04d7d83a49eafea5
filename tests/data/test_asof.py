"""As-of reads: a property test against a pure-Python reference, the boundaries, the plan."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from macroinfra.data import asof
from macroinfra.data.loader import load
from macroinfra.errors import NotFound, OperationError, UsageError

MACRO = ("series_id", "observation_date", "value", "release_time", "revision_number")
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
ONE_US = timedelta(microseconds=1)


@dataclass(frozen=True)
class Rev:
    observation_date: date
    revision_number: int
    release_time: datetime
    value: Decimal


# -- the reference -----------------------------------------------------------------------------


def reference_as_of(revs: list[Rev], at: datetime) -> list[tuple[date, int, Decimal]]:
    """For each observation, the highest revision released at or before `at`."""
    best: dict[date, Rev] = {}
    for r in revs:
        if r.release_time <= at:
            kept = best.get(r.observation_date)
            if kept is None or r.revision_number > kept.revision_number:
                best[r.observation_date] = r
    return [(d, best[d].revision_number, best[d].value) for d in sorted(best)]


def reference_pick(revs: list[Rev], pick) -> list[tuple[date, int, Decimal]]:
    by_date = {}
    for d, group in itertools.groupby(
        sorted(revs, key=lambda r: r.observation_date), key=lambda r: r.observation_date
    ):
        chosen = pick(group, key=lambda r: r.revision_number)
        by_date[d] = (d, chosen.revision_number, chosen.value)
    return [by_date[d] for d in sorted(by_date)]


def seen(view: asof.SeriesView) -> list[tuple[date, int, Decimal]]:
    return [(o.observation_date, o.revision_number, o.value) for o in view.observations]


# -- random series -----------------------------------------------------------------------------

# Gaps between consecutive revisions: the same instant, days, or years (an old period revised
# long after it was first published). Times sit on a coarse grid, so different observations
# often share release instants too.
GAPS = st.one_of(
    st.just(timedelta(0)),
    st.integers(1, 90).map(lambda d: timedelta(days=d)),
    st.integers(1, 8).map(lambda y: timedelta(days=365 * y)),
)


@st.composite
def series_revisions(draw) -> list[Rev]:
    months = draw(st.lists(st.integers(0, 12 * 12), min_size=1, max_size=14, unique=True))
    revs = []
    for month in months:
        observation = date(2000 + month // 12, month % 12 + 1, 1)
        released = datetime(observation.year, observation.month, 1, tzinfo=UTC) + timedelta(
            days=draw(st.integers(0, 60)), hours=draw(st.sampled_from([0, 12]))
        )
        for number in range(draw(st.integers(1, 8))):
            if number:
                released += draw(GAPS)
            value = Decimal(draw(st.integers(-(10**6), 10**6))) / 100
            revs.append(Rev(observation, number, released, value))
    return revs


@pytest.fixture
def conn(migrated):
    with psycopg.connect(migrated.libpq_url, autocommit=True) as connection:
        connection.execute("INSERT INTO data_sources (name) VALUES ('test')")
        yield connection


_codes = itertools.count()


def new_series(conn, code: str | None = None, source: str = "test") -> int:
    code = code or f"S{next(_codes)}"
    (series_id,) = conn.execute(
        "INSERT INTO series_metadata (source_id, series_code, name, frequency, unit)"
        " SELECT id, %s, %s, 'monthly', 'percent' FROM data_sources WHERE name = %s"
        " RETURNING id",
        (code, f"series {code}", source),
    ).fetchone()
    return series_id


def rows(series_id: int, revs: list[Rev]):
    return [
        (series_id, r.observation_date, r.value, r.release_time, r.revision_number) for r in revs
    ]


# -- the property ------------------------------------------------------------------------------


@settings(
    max_examples=75,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(revs=series_revisions(), split=st.integers(0, 1000), probes=st.data())
def test_as_of_matches_the_reference_and_never_looks_ahead(conn, revs, split, probes):
    series_id = new_series(conn)  # every example gets a series of its own, among the others'
    instants = sorted({r.release_time for r in revs})
    cut = instants[split % len(instants)]
    older = [r for r in revs if r.release_time <= cut]
    newer = [r for r in revs if r.release_time > cut]

    load(conn, "macro_series", rows(series_id, older), columns=MACRO)
    snapshot = seen(asof.as_of(conn, series_id, cut))
    assert snapshot == reference_as_of(revs, cut)

    load(conn, "macro_series", rows(series_id, newer), columns=MACRO)
    assert seen(asof.as_of(conn, series_id, cut)) == snapshot  # newer releases change nothing

    around = [t + d for t in instants for d in (-ONE_US, timedelta(0), ONE_US)]
    chosen = probes.draw(st.lists(st.sampled_from(around), min_size=1, max_size=6))
    for at in [instants[0] - ONE_US, instants[-1] + timedelta(days=1), *chosen]:
        view = asof.as_of(conn, series_id, at.astimezone(timezone(timedelta(hours=-5))))
        assert seen(view) == reference_as_of(revs, at), at
        assert all(o.release_time <= at for o in view.observations)
        assert view.at == at and view.view == "as_of"

    assert seen(asof.first_release(conn, series_id)) == reference_pick(revs, min)
    assert seen(asof.latest(conn, series_id)) == reference_pick(revs, max)


# -- boundaries and errors ---------------------------------------------------------------------


def test_the_boundary_is_included(conn):
    series_id = new_series(conn, "CPI")
    released = datetime(2024, 2, 14, 13, 30, tzinfo=UTC)
    load(
        conn,
        "macro_series",
        [
            (series_id, date(2024, 1, 1), Decimal("3.1"), released, 0),
            (series_id, date(2024, 1, 1), Decimal("3.2"), released + timedelta(days=30), 1),
        ],
        columns=MACRO,
    )
    assert seen(asof.as_of(conn, "CPI", released - ONE_US)) == []
    assert seen(asof.as_of(conn, "CPI", released)) == [(date(2024, 1, 1), 0, Decimal("3.1"))]
    paris = timezone(timedelta(hours=1))
    same_instant = datetime(2024, 2, 14, 14, 30, tzinfo=paris)
    assert seen(asof.as_of(conn, "CPI", same_instant)) == [(date(2024, 1, 1), 0, Decimal("3.1"))]
    view = asof.as_of(conn, "CPI", released + timedelta(days=30))
    assert seen(view) == [(date(2024, 1, 1), 1, Decimal("3.2"))]
    assert view.series.code == "CPI" and view.series.source == "test"
    assert view.observations[0].release_time == released + timedelta(days=30)


def test_a_naive_instant_is_a_usage_error(conn):
    new_series(conn, "CPI")
    with pytest.raises(UsageError, match="no time zone") as caught:
        asof.as_of(conn, "CPI", datetime(2024, 1, 1))
    assert caught.value.exit_code == 2


def test_parse_instant():
    assert asof.parse_instant("2024-05-01T14:30:00Z") == datetime(2024, 5, 1, 14, 30, tzinfo=UTC)
    assert asof.parse_instant(" 2024-05-01T08:30-04:00 ") == datetime(
        2024, 5, 1, 12, 30, tzinfo=UTC
    )
    with pytest.raises(UsageError, match="no time zone"):
        asof.parse_instant("2024-05-01T14:30:00")
    with pytest.raises(UsageError, match="no time zone"):
        asof.parse_instant("2024-05-01")
    with pytest.raises(UsageError, match="not an ISO 8601"):
        asof.parse_instant("yesterday")


def test_series_are_found_by_code_source_or_id(conn):
    conn.execute("INSERT INTO data_sources (name) VALUES ('other')")
    first = new_series(conn, "GDP")
    second = new_series(conn, "GDP", source="other")
    with pytest.raises(UsageError, match="exists in 2 sources: other, test") as caught:
        asof.resolve_series(conn, "GDP")
    assert caught.value.hint == "name the source (--source NAME)"
    assert asof.resolve_series(conn, "GDP", source="test").id == first
    assert asof.resolve_series(conn, "GDP", source="other").id == second
    assert asof.resolve_series(conn, second).source == "other"
    with pytest.raises(NotFound, match="no series with code 'GPD'") as missing:
        asof.resolve_series(conn, "GPD")
    assert missing.value.hint == (
        "did you mean 'GDP'? `macroinfra data series` lists the series codes"
    )
    with pytest.raises(NotFound, match="no series with id 999"):
        asof.resolve_series(conn, 999)


def test_a_missing_schema_says_to_migrate(database):
    with psycopg.connect(database.libpq_url, autocommit=True) as conn:
        with pytest.raises(OperationError, match='relation "series_metadata" does not exist') as e:
            asof.as_of(conn, "CPI", EPOCH)
    assert e.value.hint == "the schema is missing: run `macroinfra migrate`"


def test_views_walk_the_natural_key_index(conn):
    """Among many series (30 years, monthly, 2 revisions each), a view of one series reads
    each chunk's natural-key index and scans no chunk."""
    ids = [new_series(conn) for _ in range(100)]
    batch = [
        (
            sid,
            date(1995 + m // 12, m % 12 + 1, 1),
            Decimal(m),
            EPOCH + timedelta(days=m * 31 + r),
            r,
        )
        for sid in ids
        for m in range(30 * 12)
        for r in range(2)
    ]
    load(conn, "macro_series", batch, columns=MACRO)
    conn.execute("ANALYZE macro_series")
    for view in ("as_of", "first_release", "latest"):
        plan = "\n".join(asof.explain(conn, ids[7], view, EPOCH + timedelta(days=3000)))
        assert "Seq Scan" not in plan, plan
        assert "uq_macro_series_natural_key" in plan, plan
    analyzed = asof.explain(conn, ids[7], "as_of", EPOCH + timedelta(days=3000), analyze=True)
    assert any("actual time" in line for line in analyzed)
    assert len(asof.as_of(conn, ids[7], EPOCH + timedelta(days=3000)).observations) == 97
