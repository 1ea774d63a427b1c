"""The append path's writes on PostgreSQL as a pipeline of small statements.

A unit of work with few records writes them as single-row statements, all sent in one
psycopg pipeline: one round trip, like the set-based statement of `postgres_append`, but
each statement is a plain prepared INSERT or UPDATE. For one record that costs the server
about 0.9 ms of CPU less than the set-based statement, whose JSON decoding, joins and
sorts pay off only from a handful of records on (bench/RESULTS.md, session 3).

The statements are the recorder's own (`HotPath`, the timer statements), compiled to the
driver's parameter style once. Idempotency entries and findings find their record by its
statement hash (unique), so nothing waits for a record id before the pipeline ends.
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import bindparam, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql import ClauseElement

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

#: Up to this many records a unit of work writes through the pipeline, above it through
#: the set-based statement (measured crossover: bench/RESULTS.md, session 3).
PIPELINE_MAX_RECORDS: Final = 1

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


def write_pipelined(connection: Any, writes: AppendWrites) -> tuple[list[int], int]:
    """Send every write of `writes` in one pipeline on the psycopg `connection` (inside
    its open transaction); returns the new records' ids in order and how many heads
    moved (fewer than `writes.head_moves` when a head moved since it was locked: the
    caller decides). Driver errors (a taken key, a stored seq) propagate."""
    fire = connection.cursor()  # statements whose results nobody reads
    moves = connection.cursor()
    record_cursors = []
    with connection.pipeline():
        for head in writes.new_orders:  # first: a taken order is OrderExists
            fire.execute(_HOT.insert_order, order_params(head))
        for record in writes.records:
            cursor = connection.cursor()
            cursor.execute(_HOT.insert_record_and_payload, record_and_payload_params(record))
            record_cursors.append(cursor)
        if writes.head_moves:
            moves.executemany(_HOT.advance_head,
                              [advance_params(seq, head) for seq, head in writes.head_moves])
        for disarm in writes.timer_disarms:
            fire.execute(_DISARM, disarm_params(disarm))
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
    ids = [int(cursor.fetchone()[0]) for cursor in record_cursors]
    moved = moves.rowcount if writes.head_moves else 0
    for cursor in (fire, moves, *record_cursors):
        cursor.close()
    return ids, moved
