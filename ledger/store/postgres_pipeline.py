"""The append path's writes on PostgreSQL: one pipeline, then COPY for a batch.

Everything a unit of work's appends produced is sent in one pipeline, nothing waiting
for a result before its end:

1. the UPDATEs — timer disarms first (so they can only close timers armed before this
   unit of work), then head moves, each only where the head still stands at the seq this
   unit of work locked (the caller compares the count). For one record they are
   single-row statements by key; for more, one statement each over arrays
   (`postgres_arrays`), which costs the client a fraction of the ~45 µs psycopg spends on
   each statement;
2. for one record (a single append) the INSERTs as single-row statements — record and
   payload, new order, timers, idempotency entry, findings (rows that need the record's id
   find it by statement hash): the whole write is this one round trip;
3. for more records, the new orders (one statement over arrays) and the draw of the
   records' ids; the rows then go in with COPY (`postgres_copy`), a round trip or two per
   table. For one record the single-row statements are cheaper: COPY's extra round trips
   pay off only in batches.

The single-row statements are the recorder's own (`HotPath`, the timer statements),
compiled to the driver's parameter style once.
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import bindparam, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql import ClauseElement

from ledger.store.postgres_arrays import (
    ADVANCE_HEADS,
    DISARM_TIMERS,
    INSERT_ORDERS,
    advance_heads_params,
    disarm_timers_params,
    first_disarms,
    insert_orders_params,
)
from ledger.store.postgres_copy import NEXT_IDS_SQL, copy_inserts
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

#: Up to this many records a unit of work inserts row by row, above it with COPY.
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
    connection: Any, writes: AppendWrites, *, bulk: bool
) -> tuple[list[int], int]:
    """Send every write of `writes` on the psycopg `connection` (inside its open
    transaction): in one pipeline, plus COPY when `bulk`; returns the new
    records' ids in order and how many heads moved (fewer than `writes.head_moves` when
    a head moved since it was locked: the caller decides). Driver errors (a taken key, a
    stored seq) propagate."""
    fire = connection.cursor()  # statements whose results nobody reads
    moves = connection.cursor()
    inserts = connection.cursor()
    record_cursors = []
    with connection.pipeline():
        if bulk:
            _send_array_statements(fire, moves, writes)
            inserts.execute(NEXT_IDS_SQL, (len(writes.records),))
        else:
            if writes.timer_disarms:
                fire.executemany(_DISARM, [disarm_params(d) for d in writes.timer_disarms])
            if writes.head_moves:
                moves.executemany(_HOT.advance_head,
                                  [advance_params(seq, h) for seq, h in writes.head_moves])
            record_cursors = _send_inserts(connection, fire, writes)
    if bulk:
        ids = [int(record_id) for (record_id,) in inserts.fetchall()]
        copy_inserts(inserts, writes, ids)
    else:
        ids = [int(cursor.fetchone()[0]) for cursor in record_cursors]
    moved = moves.rowcount if writes.head_moves else 0
    for cursor in (fire, moves, inserts, *record_cursors):
        cursor.close()
    return ids, moved


def _send_array_statements(fire: Any, moves: Any, writes: AppendWrites) -> None:
    """Queue a batch's disarms, head moves and new orders as one statement each over
    arrays (`postgres_arrays`), each planned for the tables as they are now."""
    disarms = first_disarms(writes.timer_disarms)
    if disarms:
        fire.execute(DISARM_TIMERS, disarm_timers_params(disarms), prepare=False)
    if writes.head_moves:
        moves.execute(ADVANCE_HEADS, advance_heads_params(writes.head_moves), prepare=False)
    if writes.new_orders:  # before the records: a taken order is OrderExists
        fire.execute(INSERT_ORDERS, insert_orders_params(writes.new_orders), prepare=False)


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
