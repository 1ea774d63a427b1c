"""The inserts of a unit of work with many records on PostgreSQL, as COPY.

`UnitOfWork.write_appends` gets everything a unit of work's appends produced. With more
than one record the rows go in with `COPY ... FROM STDIN`, PostgreSQL's bulk load: no
statement to plan per batch, no JSON for the server to decode, and psycopg formats the rows
in C. Measured against the single set-based `INSERT ... SELECT FROM json_to_recordset`
statement it replaces, records and payloads cost ~12 µs less client CPU and ~19 µs less
server CPU per record (bench/RESULTS.md, session 4).

COPY returns no ids, so the records' ids are drawn first from their sequence
(`records_id_seq`, in the same round trip as the head moves: `next_ids_sql`), in the
order of the records — ids, and so the Merkle log, follow chain order as before — and
every row that names a record (payload, idempotency entry, finding) carries its id.
New orders are inserted before the records (also in that round trip), so an order that
a concurrent writer created meanwhile fails as OrderExists, not on the records' keys.
Each COPY is checked like an INSERT: constraints and triggers (the sequencing queue's
statement trigger among them) run, and a violation reaches the application with its
constraint name (ledger.store.errors).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Final

from sqlalchemy import Table

from ledger.store.rows import AppendWrites
from ledger.store.statements import (
    RECORD_ROW_COLUMNS,
    finding_params,
    idempotency_params,
    payload_text,
    record_row,
)
from ledger.store.tables import FINDINGS, IDEMPOTENCY_KEYS, PAYLOADS, RECORDS, TIMERS
from ledger.store.timer_sql import TIMER_ROW_COLUMNS, timer_row

#: The record ids a unit of work's records will get, one row each, in order.
NEXT_IDS_SQL: Final = "SELECT nextval('records_id_seq') FROM generate_series(1, %s)"


def _columns(table: Table, skip: tuple[str, ...] = ()) -> tuple[str, ...]:
    return tuple(c.name for c in table.c if c.name not in skip)


def _copy_sql(table: Table, columns: Sequence[str]) -> str:
    return f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"


_RECORD_COLUMNS: Final = ("id", *RECORD_ROW_COLUMNS)
_PAYLOAD_COLUMNS: Final = _columns(PAYLOADS)
_TIMER_COLUMNS: Final = TIMER_ROW_COLUMNS
_KEY_COLUMNS: Final = _columns(IDEMPOTENCY_KEYS)
_FINDING_COLUMNS: Final = _columns(FINDINGS, ("id",))
_COPY_RECORDS: Final = _copy_sql(RECORDS, _RECORD_COLUMNS)
_COPY_PAYLOADS: Final = _copy_sql(PAYLOADS, _PAYLOAD_COLUMNS)
_COPY_TIMERS: Final = _copy_sql(TIMERS, _TIMER_COLUMNS)
_COPY_KEYS: Final = _copy_sql(IDEMPOTENCY_KEYS, _KEY_COLUMNS)
_COPY_FINDINGS: Final = _copy_sql(FINDINGS, _FINDING_COLUMNS)


def copy_inserts(cursor: Any, writes: AppendWrites, ids: Sequence[int]) -> None:
    """COPY the records of `writes` with `ids` (from NEXT_IDS_SQL, one per record, in
    order), their payloads, timers, idempotency entries and findings, on the psycopg
    `cursor` inside its open transaction. New orders and head moves are not here (the
    caller sent them with NEXT_IDS_SQL). Driver errors propagate."""
    records = writes.records
    if len(ids) != len(records):
        raise ValueError(f"{len(ids)} ids for {len(records)} records")
    by_hash = {r.statement_hash: i for r, i in zip(records, ids, strict=True)}
    record_rows = []
    payload_rows = []
    for record, record_id in zip(records, ids, strict=True):
        record_rows.append((record_id, *record_row(record)))
        text = record.payload_text
        payload_rows.append(
            (record_id, payload_text(record.payload) if text is None else text, record.salt))
    _copy(cursor, _COPY_RECORDS, record_rows)
    _copy(cursor, _COPY_PAYLOADS, payload_rows)
    if writes.timers:
        _copy(cursor, _COPY_TIMERS, map(timer_row, writes.timers))
    for sql, columns, named in (
        (_COPY_KEYS, _KEY_COLUMNS,
         [(h, idempotency_params(e)) for h, e in writes.idempotency]),
        (_COPY_FINDINGS, _FINDING_COLUMNS,
         [(h, finding_params(f)) for h, f in writes.findings]),
    ):
        if named:  # rows that name their record by statement hash get its id
            _copy(cursor, sql, ([by_hash[h] if c == "record_id" else params[c]
                                 for c in columns] for h, params in named))


def _copy(cursor: Any, sql: str, rows: Iterable[Sequence[Any]]) -> None:
    with cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)
