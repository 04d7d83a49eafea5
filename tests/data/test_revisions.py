"""The point-in-time rules for macro_series revisions (macroinfra.data.revisions), through the
loader: a batch that breaks one loads nothing."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest
import test_loader
from helpers import run_while_blocked, sql_rows
from test_loader import MACRO, T0, count

from macroinfra.data.loader import load
from macroinfra.data.revisions import RevisionError

# The loader's fixtures: an autocommit connection, and the rows the hypertables refer to.
conn = test_loader.conn
refs = test_loader.refs


def revision(refs, obs: date, number: int, released: datetime, value: float = 1.0):
    return (refs["CPI"], obs, value, released, number)


def test_revisions_are_new_rows(migrated, conn, refs):
    obs = date(2024, 1, 1)
    assert load(conn, "macro_series", [revision(refs, obs, 0, T0, 3.1)], columns=MACRO).inserted
    result = load(
        conn, "macro_series", [revision(refs, obs, 1, T0 + timedelta(days=30), 3.2)], columns=MACRO
    )
    assert result.inserted == 1
    assert sql_rows(
        migrated, "SELECT revision_number, value FROM macro_series ORDER BY revision_number"
    ) == [(0, Decimal("3.10000000")), (1, Decimal("3.20000000"))]


def test_equal_release_instants_are_in_order(conn, refs):
    obs = date(2024, 1, 1)
    rows = [revision(refs, obs, 0, T0), revision(refs, obs, 1, T0), revision(refs, obs, 2, T0)]
    assert load(conn, "macro_series", rows, columns=MACRO).inserted == 3


def test_a_revision_released_before_the_previous_one_is_rejected(migrated, conn, refs):
    obs = date(2024, 1, 1)
    load(conn, "macro_series", [revision(refs, obs, 0, T0)], columns=MACRO)
    early = revision(refs, obs, 1, T0 - timedelta(seconds=1))
    other = revision(refs, date(2024, 2, 1), 0, T0 + timedelta(days=30))
    with pytest.raises(RevisionError) as caught:
        load(conn, "macro_series", [other, early], columns=MACRO)
    error = caught.value
    assert error.message == "macro_series batch rejected: 1 revision out of release order"
    assert error.problems == [
        "series CPI (id {}), 2024-01-01: revision 1 released 2024-01-15T12:29:59+00:00 is "
        "earlier than revision 0 released 2024-01-15T12:30:00+00:00".format(refs["CPI"])
    ]
    assert "nothing from this batch was loaded" in (error.hint or "")
    assert count(migrated, "macro_series") == 1  # not even the good row


def test_out_of_order_revisions_within_one_batch_are_rejected(migrated, conn, refs):
    obs = date(2024, 1, 1)
    rows = [
        revision(refs, obs, 0, T0),
        revision(refs, obs, 1, T0 + timedelta(days=60)),
        revision(refs, obs, 2, T0 + timedelta(days=30)),
    ]
    with pytest.raises(RevisionError, match="1 revision out of release order") as caught:
        load(conn, "macro_series", rows, columns=MACRO)
    assert (
        "revision 2 released 2024-02-14T12:30:00+00:00 is earlier than revision 1"
        in (caught.value.problems[0])
    )
    assert count(migrated, "macro_series") == 0


def test_a_new_revision_between_stored_ones_must_fit_their_release_times(conn, refs):
    obs = date(2024, 1, 1)
    stored = [revision(refs, obs, 0, T0), revision(refs, obs, 2, T0 + timedelta(days=60))]
    load(conn, "macro_series", stored, columns=MACRO)
    late = revision(refs, obs, 1, T0 + timedelta(days=90))
    with pytest.raises(RevisionError, match="out of release order") as caught:
        load(conn, "macro_series", [late], columns=MACRO)
    assert (
        "revision 2 released 2024-03-15T12:30:00+00:00 is earlier than revision 1"
        in (caught.value.problems[0])
    )
    fits = revision(refs, obs, 1, T0 + timedelta(days=30))
    assert load(conn, "macro_series", [fits], columns=MACRO).inserted == 1


def test_a_published_revision_cannot_be_changed(migrated, conn, refs):
    obs = date(2024, 1, 1)
    load(conn, "macro_series", [revision(refs, obs, 0, T0, 3.1)], columns=MACRO)
    for changed in (
        revision(refs, obs, 0, T0, 3.3),
        revision(refs, obs, 0, T0 + timedelta(hours=1), 3.1),
    ):
        with pytest.raises(RevisionError, match="1 row would change a published revision"):
            load(conn, "macro_series", [changed], columns=MACRO)
    null_value = (refs["CPI"], obs, None, T0, 0)
    with pytest.raises(RevisionError, match="would change a published revision") as caught:
        load(conn, "macro_series", [null_value], columns=MACRO)
    assert "revision 0 is published as 3.10000000" in caught.value.problems[0]
    assert "next revision_number" in (caught.value.hint or "")
    assert sql_rows(migrated, "SELECT value FROM macro_series") == [(Decimal("3.10000000"),)]


def test_one_revision_given_twice_differently_in_a_batch_is_rejected(migrated, conn, refs):
    obs = date(2024, 1, 1)
    rows = [revision(refs, obs, 0, T0, 3.1), revision(refs, obs, 0, T0, 3.2)]
    with pytest.raises(RevisionError, match="1 revision given more than once"):
        load(conn, "macro_series", rows, columns=MACRO)
    same_twice = [revision(refs, obs, 0, T0, 3.1)] * 2
    assert load(conn, "macro_series", same_twice, columns=MACRO).inserted == 1
    assert count(migrated, "macro_series") == 1


def test_many_problems_are_summarised(conn, refs):
    load(
        conn,
        "macro_series",
        [revision(refs, date(2000 + n, 1, 1), 0, T0) for n in range(8)],
        columns=MACRO,
    )
    early = [revision(refs, date(2000 + n, 1, 1), 1, T0 - timedelta(days=1)) for n in range(8)]
    with pytest.raises(RevisionError, match="more than 5 revisions out of release order") as e:
        load(conn, "macro_series", early, columns=MACRO)
    assert len(e.value.problems) == 5


def test_concurrent_loads_cannot_both_publish_one_revision(migrated, refs):
    """Two sessions offer revision 0 of one observation with different values: the second
    waits for the first, then is rejected instead of silently skipped."""
    obs = date(2024, 1, 1)
    errors: list[Exception] = []
    with psycopg.connect(migrated.libpq_url) as first:
        first.execute("SELECT 1")  # open a transaction: the load below stays uncommitted
        load(first, "macro_series", [revision(refs, obs, 0, T0, 3.1)], columns=MACRO)

        def second() -> None:
            with psycopg.connect(migrated.libpq_url, autocommit=True) as conn:
                try:
                    load(conn, "macro_series", [revision(refs, obs, 0, T0, 9.9)], columns=MACRO)
                except RevisionError as exc:
                    errors.append(exc)

        run_while_blocked(migrated, second, first.commit)
    assert len(errors) == 1 and "would change a published revision" in errors[0].message
    assert sql_rows(migrated, "SELECT value FROM macro_series") == [(Decimal("3.10000000"),)]
