"""The append path's writes on PostgreSQL, in one pipeline: one round trip.

Everything a unit of work's appends produced is sent before any result is read:

1. the UPDATEs, as single-row statements by key — timer disarms first (so they can only
   close timers armed before this unit of work), then head moves, each only where the
   head still stands at the seq this unit of work locked (the caller compares the count);
2. the INSERTs: for one record (a single append) as single-row statements — record and
   payload, new order, timers, idempotency entry, findings; for more, as the ONE
   set-based statement of `postgres_append`. For one record the single-row statements
   cost the server ~0.6 ms less CPU than the set-based one, whose JSON decoding, joins
   and sorts pay off only from a few records on (bench/RESULTS.md, session 3).

The statements are the recorder's own (`HotPath`, the timer statements), compiled to the
driver's parameter style once. Idempotency entries and findings find their record by its
statement hash (unique), so nothing waits for a record id before the pipeline ends.
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import bindparam, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql import ClauseElement

from ledger.store.postgres_append import APPEND_SQL, append_params
from ledger.store.rows import AppendWrites
from ledger.store.statements import (
    POSTGRES_HOT_PATH,
    advance_params,
    finding_params,
    idempotency_params,
    order_params,
    record_and_payload_params,
)
from ledger.store.tables import FINDINGS, IDEMPOTENCY_KEYS, RECORDS, TIMERS
from ledger.store.timer_sql import DISARM_ONE, disarm_params, timer_params

#: Up to this many records a unit of work inserts row by row, above it with the set-based
#: statement (measured crossover: bench/RESULTS.md, session 3).
ROW_BY_ROW_MAX_RECORDS: Final = 1

_DIALECT: Final = postgresql.dialect()  # type: ignore[no-untyped-call]


def _sql(statement: ClauseElement, keys: list[str] | None = None) -> str:
    return str(statement.compile(dialect=_DIALECT, column_keys=keys))


def _insert_by_hash(table: Any, skip: tuple[str, ...]) -> tuple[str, list[str]]:
    """INSERT INTO table (..., record_id) SELECT %(...)s, id FROM records WHERE hash."""
    names = [c.name for c in table.c if c.name not in skip]
    rows = select(*(bindparam(n, type_=table.c[n].type) for n in names), RECORDS.c.id).where(
        RECORDS.c.statement_hash == bindparam("statement_hash"))
    return _sql(table.insert().from_select([*names, "record_id"], rows)), names


_HOT: Final = POSTGRES_HOT_PATH
_DISARM: Final = _sql(DISARM_ONE)
_ARM: Final = _sql(TIMERS.insert(), [c.name for c in TIMERS.c if c.name != "id"])
_KEY, _KEY_NAMES = _insert_by_hash(IDEMPOTENCY_KEYS, ("record_id",))
_FINDING, _FINDING_NAMES = _insert_by_hash(FINDINGS, ("id", "record_id"))


def write_pipelined(
    connection: Any, writes: AppendWrites, *, set_based: bool
) -> tuple[list[int], int]:
    """Send every write of `writes` in one pipeline on the psycopg `connection` (inside
    its open transaction), the inserts `set_based` or row by row; returns the new
    records' ids in order and how many heads moved (fewer than `writes.head_moves` when
    a head moved since it was locked: the caller decides). Driver errors (a taken key, a
    stored seq) propagate."""
    fire = connection.cursor()  # statements whose results nobody reads
    moves = connection.cursor()
    inserts = connection.cursor()
    record_cursors = []
    with connection.pipeline():
        if writes.timer_disarms:
            fire.executemany(_DISARM, [disarm_params(d) for d in writes.timer_disarms])
        if writes.head_moves:
            moves.executemany(_HOT.advance_head,
                              [advance_params(seq, head) for seq, head in writes.head_moves])
        if set_based:
            inserts.execute(APPEND_SQL, append_params(writes))
        else:
            record_cursors = _send_inserts(connection, fire, writes)
    if set_based:
        by_hash = {str(hash_): int(record_id) for record_id, hash_ in inserts.fetchall()}
        ids = [by_hash[r.statement_hash] for r in writes.records]
    else:
        ids = [int(cursor.fetchone()[0]) for cursor in record_cursors]
    moved = moves.rowcount if writes.head_moves else 0
    for cursor in (fire, moves, inserts, *record_cursors):
        cursor.close()
    return ids, moved


def _send_inserts(connection: Any, fire: Any, writes: AppendWrites) -> list[Any]:
    """Queue the inserts row by row; the cursors that will hold the records' ids."""
    for head in writes.new_orders:  # first: a taken order is OrderExists
        fire.execute(_HOT.insert_order, order_params(head))
    record_cursors = []
    for record in writes.records:
        cursor = connection.cursor()
        cursor.execute(_HOT.insert_record_and_payload, record_and_payload_params(record))
        record_cursors.append(cursor)
    for timer in writes.timers:
        fire.execute(_ARM, timer_params(timer))
    for statement_hash, entry in writes.idempotency:
        params = idempotency_params(entry)
        fire.execute(_KEY, {**{n: params[n] for n in _KEY_NAMES},
                            "statement_hash": statement_hash})
    for statement_hash, finding in writes.findings:
        params = finding_params(finding)
        fire.execute(_FINDING, {**{n: params[n] for n in _FINDING_NAMES},
                                "statement_hash": statement_hash})
    return record_cursors
