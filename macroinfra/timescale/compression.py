"""Bring compression settings and policies to the declared spec, where the edition allows it."""

from __future__ import annotations

from typing import Any

from macroinfra.timescale.ddl import add_compression_policy, enable_compression
from macroinfra.timescale.edition import APACHE_FIX, APACHE_REASON, detect_edition
from macroinfra.timescale.spec import HYPERTABLES


def reconcile_compression(connection: Any) -> list[str]:
    """Apply missing compression settings and policies; return what was done or why not.

    Runs after every upgrade, so a database migrated on the Apache edition gains compression
    with a plain `macroinfra migrate` once it runs on the Community edition.
    """
    from sqlalchemy import text

    edition = detect_edition(connection)
    if edition.license is None:
        return []
    present = connection.execute(
        text(
            "SELECT h.hypertable_name, h.compression_enabled,"
            " EXISTS (SELECT 1 FROM timescaledb_information.jobs j"
            "         WHERE j.proc_name = 'policy_compression'"
            "           AND j.hypertable_schema = h.hypertable_schema"
            "           AND j.hypertable_name = h.hypertable_name)"
            " FROM timescaledb_information.hypertables h WHERE h.hypertable_schema = 'public'"
        )
    ).all()
    connection.commit()
    state = {name: (enabled, has_policy) for name, enabled, has_policy in present}
    specs = [s for s in HYPERTABLES if s.table in state]
    if not specs:
        return []
    if not edition.supports_compression:
        return [f"compression not applied: {APACHE_REASON}; fix: {APACHE_FIX}"]
    quote = connection.dialect.identifier_preparer.quote
    done = []
    with connection.begin():
        for spec in specs:
            enabled, has_policy = state[spec.table]
            if not enabled:
                connection.execute(text(enable_compression(spec, quote)))
            if not has_policy:
                connection.execute(text(add_compression_policy(spec, quote)))
            if not (enabled and has_policy):
                done.append(spec.table)
    if done:
        return [f"compression applied to {len(done)} hypertables: {', '.join(done)}"]
    return []
