"""The PostgreSQL backend (psycopg 3), for production.

Transactions run at READ COMMITTED; one order's writers serialise on the head row
(`SELECT ... FOR UPDATE`), the sequencer on a transaction-scoped advisory lock. The
application should connect as a LOGIN member of `orderledger_app` (docs/storage.md),
which may not update or delete evidence even if the triggers were disabled.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Final

from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import URL

from ledger.errors import ConfigurationError
from ledger.store.core import SqlRecorder, SqlUnitOfWork
from ledger.store.errors import translated
from ledger.store.postgres_pipeline import ROW_BY_ROW_MAX_RECORDS, write_pipelined
from ledger.store.rows import AppendWrites, OrderHead, StoredRecord
from ledger.store.statements import (
    HEAD_COLUMNS,
    POSTGRES_HOT_PATH,
    head_of,
    ignoring_conflict_statements,
    record_and_payload_params,
)

#: Key of the advisory lock that one sequencer holds while it integrates leaves.
SEQUENCER_LOCK_KEY: Final = 0x6F6C_6C6F_67  # "ol log"
#: Connections kept for the service's worker threads (the benchmark drives 16).
POOL_SIZE: Final = 16

_HEAD_NAMES: Final = tuple(c.name for c in HEAD_COLUMNS)
# One text for any number of heads: the keys travel as two arrays. The statement that
# SQLAlchemy would build (`tenant = ? AND order_id IN (...)`) is new for every batch
# size and costs ~3 ms of client CPU to compile for 25 orders. Each key is looked up and
# locked by its own LATERAL subquery, in the keys' order (the nested loop follows
# unnest's ordinality; `lock_heads` sends the keys sorted), so batches cannot deadlock.
# The statement is planned at every execution (`prepare=False`): a plan cached while the
# orders table was small scans the whole table for every batch once it has grown (the
# `IN (SELECT unnest ...)` form this replaces did, 1.3 ms for 25 heads among 1,200
# orders in the benchmark, and more with every order), until autovacuum's next ANALYZE.
_LOCK_HEADS: Final = (
    f"SELECT {', '.join('o.' + n for n in _HEAD_NAMES)}"  # noqa: S608 - names from the table
    " FROM unnest(%s::text[], %s::text[]) WITH ORDINALITY AS k(tenant, order_id, n)"
    f" CROSS JOIN LATERAL (SELECT {', '.join(_HEAD_NAMES)} FROM orders"
    " WHERE orders.tenant = k.tenant AND orders.order_id = k.order_id FOR UPDATE) AS o"
    " ORDER BY k.n"
)
_LOCK_SEQUENCER = text("SELECT pg_advisory_xact_lock(:key)").bindparams(key=SEQUENCER_LOCK_KEY)
_SET_PURPOSE = text("SELECT set_config('orderledger.purpose', :purpose, true)")


class PostgresUnitOfWork(SqlUnitOfWork):
    hot = POSTGRES_HOT_PATH
    #: `write_appends` inserts row by row up to this many records, with COPY above.
    row_by_row_max_records: ClassVar[int] = ROW_BY_ROW_MAX_RECORDS
    insert_ignoring_conflict = ignoring_conflict_statements("postgresql")

    def _insert_many(self, records: Sequence[StoredRecord]) -> list[int]:
        # One prepared statement per record, sent in one pipeline (psycopg's executemany):
        # a round trip for the batch instead of one per record.
        sql = self.hot.insert_record_and_payload
        assert sql is not None
        cursor = self._raw_cursor()
        cursor.executemany(sql, [record_and_payload_params(r) for r in records], returning=True)
        ids: list[int] = []
        while True:
            ids.append(int(cursor.fetchone()[0]))
            if not cursor.nextset():
                return ids

    @translated
    def lock_heads(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], OrderHead]:
        if not keys:
            return {}
        ordered = sorted(set(keys))  # one lock order for every batch: no deadlock
        cursor = self._raw_cursor()
        cursor.execute(_LOCK_HEADS, ([t for t, _ in ordered], [o for _, o in ordered]),
                       prepare=False)
        heads = (head_of(dict(zip(_HEAD_NAMES, row, strict=True))) for row in cursor)
        return {(h.tenant, h.order): h for h in heads}

    @translated
    def write_appends(self, writes: AppendWrites) -> list[int]:
        """Every write in one pipeline (ledger/store/postgres_pipeline.py): updates row
        by row by key, inserts row by row for a single record and with COPY for more
        (ledger/store/postgres_copy.py). Fewer heads moved than asked means a head moved
        since it was locked: advance_heads finds it and raises."""
        if not writes.records:
            return []
        ids, moved = write_pipelined(
            self._driver_connection(), writes,
            bulk=len(writes.records) > self.row_by_row_max_records)
        if moved != len(writes.head_moves):
            self.advance_heads(writes.head_moves)  # finds the head that moved and raises
        return ids

    def _lock_sequencer(self) -> None:
        self._conn.execute(_LOCK_SEQUENCER)

    def _declare_retention_purpose(self, active: bool) -> None:
        # set_config(..., true) is SET LOCAL: it ends with the transaction at the latest.
        self._conn.execute(_SET_PURPOSE, {"purpose": "retention" if active else ""})


class PostgresRecorder(SqlRecorder):
    dialect = "postgresql"
    unit_of_work_class = PostgresUnitOfWork

    @classmethod
    def from_url(cls, url: URL) -> PostgresRecorder:
        """Raises ConfigurationError for a driver other than psycopg (version 3)."""
        driver = url.drivername.partition("+")[2]
        if driver not in ("", "psycopg"):
            raise ConfigurationError(
                f"PostgreSQL is reached through psycopg 3: use postgresql+psycopg://, "
                f"not {url.drivername}://"
            )
        engine = create_engine(
            url.set(drivername="postgresql+psycopg"),
            pool_size=POOL_SIZE,
            max_overflow=POOL_SIZE // 2,
            pool_recycle=1800,
        )
        return cls(engine)

    def _begin(self, connection: Connection, read_only: bool) -> None:
        connection.begin()
        if read_only:
            connection.exec_driver_sql("SET TRANSACTION READ ONLY")
