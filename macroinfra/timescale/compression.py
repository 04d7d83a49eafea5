"""Bring compression settings and policies to the declared spec, where the edition allows it.

`apply_compression` is the one place compression is applied: the initial migration calls it
once its hypertables exist, and `migrate` calls it again after every upgrade, so a database
migrated on the Apache edition gains compression with a plain `macroinfra migrate` once it
runs on the Community edition. (Offline SQL, `migrate sql`, cannot read the edition in advance:
it gets ddl.compression_block, which asks the server when the SQL runs.)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from macroinfra.timescale import edition
from macroinfra.timescale.ddl import add_compression_policy, enable_compression
from macroinfra.timescale.spec import HYPERTABLES, HypertableSpec

NOT_APPLIED = f"compression not applied: {edition.APACHE_REASON}; fix: {edition.APACHE_FIX}"

# Per hypertable: is compression enabled, and is there a compression policy?
_STATE_SQL = """
SELECT h.hypertable_name, h.compression_enabled,
       EXISTS (SELECT 1 FROM timescaledb_information.jobs j
               WHERE j.proc_name = 'policy_compression'
                 AND j.hypertable_schema = h.hypertable_schema
                 AND j.hypertable_name = h.hypertable_name)
FROM timescaledb_information.hypertables h WHERE h.hypertable_schema = 'public'
"""


def apply_compression(connection: Any, specs: Sequence[HypertableSpec] = HYPERTABLES) -> list[str]:
    """Enable compression and add the policy on each declared hypertable (`specs`: the shipped
    ones, or those and a team's) that lacks them.

    Runs on a SQLAlchemy connection inside its owner's transaction (the migration's, or the
    one `migrate` opens). Returns what was done, or why nothing could be: empty when there
    was nothing to do.
    """
    from sqlalchemy import text

    server = edition.read_server(connection)
    if server.extension_version is None:
        return []
    state = {
        name: (enabled, has_policy)
        for name, enabled, has_policy in connection.execute(text(_STATE_SQL))
    }
    specs = [s for s in specs if s.table in state]
    if not specs:
        return []
    if not server.supports_compression:
        return [NOT_APPLIED]
    quote = connection.dialect.identifier_preparer.quote
    done = []
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
