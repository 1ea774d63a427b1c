"""The recorder on SQLAlchemy Core, shared by the SQLite and PostgreSQL backends.

The statements live in `ledger.store.statements`. The append path's few statements run
as precompiled SQL text on the driver's cursor (`HotPath`); everything else through
SQLAlchemy. Both share the connection, hence the transaction. Backends override the few
hooks that differ.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar

from sqlalchemy import Connection, Engine, RowMapping

from ledger.errors import ConcurrencyConflict, KeyStoreError, StorageError
from ledger.migrations import upgrade
from ledger.store import statements as q
from ledger.store.errors import DRIVER_ERRORS, SequencerConflict, translate, translated
from ledger.store.log_sql import LogSql
from ledger.store.recorder import NodeId, Recorder, UnitOfWork
from ledger.store.retention_sql import RetentionSql
from ledger.store.rows import (
    CatalogueRow,
    CheckpointRow,
    FindingEntry,
    IdempotencyEntry,
    KeyRow,
    OrderHead,
    StoredRecord,
)
from ledger.store.tables import PAYLOADS, SEQUENCING_QUEUE
from ledger.store.timer_sql import TimerSql

#: The result column names of the hot path's SQL texts (a fixed set), by text.
_COLUMN_NAMES: dict[str, tuple[str, ...]] = {}


class SqlUnitOfWork(TimerSql, RetentionSql, LogSql, UnitOfWork):
    """`UnitOfWork` on one SQLAlchemy connection inside an open transaction."""

    #: The append path's SQL in the backend's dialect.
    hot: ClassVar[q.HotPath]
    #: INSERT ... ON CONFLICT DO NOTHING by table name, in the backend's dialect.
    insert_ignoring_conflict: ClassVar[Mapping[str, Any]] = {}

    def __init__(self, connection: Connection) -> None:
        self._conn = connection
        self._cursor: Any = None

    def close(self) -> None:
        """Release the driver cursor (the recorder calls this when the work ends)."""
        if self._cursor is not None:
            self._cursor.close()
            self._cursor = None

    # SQLAlchemy execution, for everything but the append path.
    def _first(self, statement: Any, params: Mapping[str, Any] | None = None) -> RowMapping | None:
        return self._conn.execute(statement, params).mappings().first()

    def _all(self, statement: Any, params: Mapping[str, Any] | None = None) -> list[RowMapping]:
        return list(self._conn.execute(statement, params).mappings())

    # Driver execution of precompiled SQL text, for the append path.
    def _driver_connection(self) -> Any:
        """The driver's connection under this unit of work (same transaction)."""
        return self._conn.connection.driver_connection

    def _raw_cursor(self) -> Any:
        """The driver's cursor on this transaction's connection (one per unit of work)."""
        if self._cursor is None:
            self._cursor = self._driver_connection().cursor()
        return self._cursor

    def _raw(self, sql: str, params: Mapping[str, Any]) -> Any:
        cursor = self._raw_cursor()
        cursor.execute(sql, params)
        return cursor

    def _raw_first(self, sql: str, params: Mapping[str, Any]) -> dict[str, Any] | None:
        cursor = self._raw(sql, params)
        row = cursor.fetchone()
        if row is None:
            return None
        names = _COLUMN_NAMES.get(sql)
        if names is None:  # the driver builds `description` anew per call: ~50 µs
            names = _COLUMN_NAMES.setdefault(sql, tuple(c[0] for c in cursor.description))
        return dict(zip(names, row, strict=True))

    # Hooks for the backends.
    def _lock_sequencer(self) -> None:
        """Make concurrent sequencers wait for this transaction to end."""

    def _declare_retention_purpose(self, active: bool) -> None:
        """Tell the payload trigger that the erasure is retention's (PostgreSQL)."""

    # --- order heads -------------------------------------------------------------------

    @translated
    def lock_heads(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], OrderHead]:
        if not keys:
            return {}
        heads = (q.head_of(row) for row in self._all(q.lock_heads(keys)))
        return {(h.tenant, h.order): h for h in heads}

    @translated
    def lock_head(self, tenant: str, order: str) -> OrderHead | None:
        row = self._raw_first(self.hot.lock_head, {"tenant": tenant, "order_id": order})
        return None if row is None else q.head_of(row)

    @translated
    def get_head(self, tenant: str, order: str) -> OrderHead | None:
        row = self._raw_first(self.hot.get_head, {"tenant": tenant, "order_id": order})
        return None if row is None else q.head_of(row)

    @translated
    def insert_order(self, head: OrderHead) -> None:
        self._raw(self.hot.insert_order, q.order_params(head))

    @translated
    def insert_orders(self, heads: Sequence[OrderHead]) -> None:
        if heads:
            self._raw_cursor().executemany(self.hot.insert_order,
                                           [q.order_params(h) for h in heads])

    @translated
    def advance_head(self, tenant: str, order: str, *, expected_seq: int, new_seq: int,
                     head_hash: str, sub_state: str, main_state: str, model: str,
                     updated_at: str, facts: Mapping[str, Any] | None = None) -> None:
        cursor = self._raw(self.hot.advance_head, {
            "b_tenant": tenant, "b_order_id": order, "b_expected_seq": expected_seq,
            "b_new_seq": new_seq, "b_head_hash": head_hash, "b_sub_state": sub_state,
            "b_main_state": main_state, "b_model": model, "b_updated_at": updated_at,
            "b_facts": q.facts_text(facts),
        })
        if cursor.rowcount != 1:
            raise self._stale(tenant, order, expected_seq)

    @translated
    def advance_heads(self, moves: Sequence[tuple[int, OrderHead]]) -> None:
        if not moves:
            return
        cursor = self._raw_cursor()
        cursor.executemany(self.hot.advance_head, [q.advance_params(seq, h) for seq, h in moves])
        if cursor.rowcount == len(moves):  # the drivers sum rowcount over the batch
            return
        for expected_seq, head in moves:
            current = self.get_head(head.tenant, head.order)
            if current is None or current.head_seq != head.head_seq:
                raise self._stale(head.tenant, head.order, expected_seq)
        raise StorageError("advance_heads: a head did not move, yet every head is in place")

    def _stale(self, tenant: str, order: str, expected_seq: int) -> ConcurrencyConflict:
        current = self.get_head(tenant, order)
        actual = None if current is None else current.head_seq
        return ConcurrencyConflict(
            f"head of order {order!r} (tenant {tenant!r}) is at seq {actual}, "
            f"not {expected_seq}",
            expected_seq=expected_seq,
            actual_seq=actual,
        )

    # --- records -----------------------------------------------------------------------

    @translated
    def insert_records(self, records: Sequence[StoredRecord]) -> list[int]:
        # The sequencing queue is filled by a trigger on `records` (see the migration).
        if not records:
            return []
        if len(records) == 1:
            return [self._insert_one(records[0])]
        return self._insert_many(records)

    def _insert_many(self, records: Sequence[StoredRecord]) -> list[int]:
        """Insert a batch; backends with a cheaper way override this. In SQLite a
        statement costs no round trip, so one after the other is as good as any."""
        return [self._insert_one(record) for record in records]

    def _insert_one(self, record: StoredRecord) -> int:
        params = q.record_and_payload_params(record)
        if self.hot.insert_record_and_payload is not None:
            return int(self._raw(self.hot.insert_record_and_payload, params).fetchone()[0])
        record_id = int(self._raw(self.hot.insert_record, params).fetchone()[0])
        self._raw(self.hot.insert_payload, {
            "record_id": record_id, "payload": params["payload"], "salt": record.salt,
        })
        return record_id

    @translated
    def find_record(self, record_id: int) -> StoredRecord | None:
        row = self._raw_first(self.hot.record_by_id, {"record_id": record_id})
        return None if row is None else q.stored_of(row)

    def get_record(self, record_id: int) -> StoredRecord:
        record = self.find_record(record_id)
        if record is None:
            raise StorageError(f"no record with id {record_id}")
        return record

    @translated
    def get_chain(self, tenant: str, order: str) -> list[StoredRecord]:
        rows = self._all(q.CHAIN, {"tenant": tenant, "order_id": order})
        return [q.stored_of(m) for m in rows]

    def iter_orders(self, *, batch: int = 500) -> Iterator[OrderHead]:
        if batch < 1:
            raise ValueError("batch must be at least 1")
        # Keyset pagination: each page starts after the last key seen, so a page costs
        # the same however far the walk has gone.
        tenant, order_id = "", ""
        while True:
            page = self._page_of_orders(tenant, order_id, batch)
            yield from page
            if len(page) < batch:
                return
            tenant, order_id = page[-1].tenant, page[-1].order

    @translated
    def _page_of_orders(self, tenant: str, order_id: str, batch: int) -> list[OrderHead]:
        params = {"tenant": tenant, "order_id": order_id, "batch": batch}
        return [q.head_of(m) for m in self._all(q.ORDERS_PAGE, params)]

    @translated
    def iter_records(self, after_id: int = 0, limit: int = 1000) -> list[StoredRecord]:
        page = self._all(q.RECORDS_PAGE, {"after_id": after_id, "lim": limit})
        return [q.stored_of(m) for m in page]

    @translated
    def count_records(self) -> int:
        return int(self._conn.execute(q.COUNT_RECORDS).scalar_one())

    def dangling_rows(self, limit: int) -> list[tuple[str, int]]:
        found: list[tuple[str, int]] = []
        for table in (PAYLOADS, SEQUENCING_QUEUE):
            ids = self._conn.execute(q.dangling(table, limit - len(found))).scalars()
            found += [(table.name, int(record_id)) for record_id in ids]
        return found

    @translated
    def erase_payloads(self, record_ids: Sequence[int]) -> int:
        if not record_ids:
            return 0
        self._declare_retention_purpose(True)
        result = self._conn.execute(q.ERASE, {"ids": list(record_ids)})
        # Only this statement is retention's: later updates in the transaction are not.
        self._declare_retention_purpose(False)
        return int(result.rowcount)

    # --- idempotency -------------------------------------------------------------------

    @translated
    def get_idempotency(self, tenant: str, key: str) -> IdempotencyEntry | None:
        m = self._raw_first(self.hot.get_idempotency, {"tenant": tenant, "key": key})
        if m is None:
            return None
        return IdempotencyEntry(tenant=m["tenant"], key=m["key"], request_hash=m["request_hash"],
                                record_id=m["record_id"], created_at=m["created_at"])

    @translated
    def put_idempotency(self, entry: IdempotencyEntry) -> None:
        self._raw(self.hot.put_idempotency, q.idempotency_params(entry))

    @translated
    def put_idempotencies(self, entries: Sequence[IdempotencyEntry]) -> None:
        if entries:
            self._raw_cursor().executemany(self.hot.put_idempotency,
                                           [q.idempotency_params(e) for e in entries])

    # --- regulation findings (rare: plain Core statements) ---------------------------------

    @translated
    def insert_findings(self, findings: Sequence[FindingEntry]) -> None:
        if findings:
            self._conn.execute(q.INSERT_FINDING, [q.finding_params(f) for f in findings])

    @translated
    def list_findings(
        self, *, tenant: str | None = None, since: str | None = None
    ) -> list[FindingEntry]:
        rows = self._conn.execute(q.list_findings(tenant=tenant, since=since)).mappings()
        return [q.finding_of(row) for row in rows]

    # --- catalogues --------------------------------------------------------------------

    @translated
    def save_catalogue(self, digest: str, version: str, document: Mapping[str, Any]) -> None:
        self._conn.execute(self.insert_ignoring_conflict["catalogues"], {
            "digest": digest, "version": version, "document": q.payload_text(document),
        })

    @translated
    def get_catalogue(self, digest: str) -> dict[str, Any] | None:
        text = self._conn.execute(q.GET_CATALOGUE, {"digest": digest}).scalar_one_or_none()
        return None if text is None else dict(json.loads(text))

    @translated
    def list_catalogues(self) -> list[CatalogueRow]:
        return [
            CatalogueRow(digest=r.digest, version=r.version, document=json.loads(r.document))
            for r in self._conn.execute(q.LIST_CATALOGUES)
        ]

    # --- keys --------------------------------------------------------------------------

    @translated
    def insert_key(self, row: KeyRow) -> None:
        self._conn.execute(q.INSERT_KEY, {
            "key_id": row.key_id, "purpose": row.purpose, "alg": row.alg,
            "public_key": row.public_key, "not_before": row.not_before,
            "not_after": row.not_after,
        })

    @translated
    def close_key(self, key_id: str, not_after: str) -> None:
        result = self._conn.execute(q.CLOSE_KEY, {"b_key_id": key_id, "b_not_after": not_after})
        if result.rowcount != 1:
            raise KeyStoreError(f"key {key_id!r} is not an active published key")

    @translated
    def list_keys(self) -> list[KeyRow]:
        return [q.key_of(m) for m in self._all(q.LIST_KEYS)]

    # --- Merkle log --------------------------------------------------------------------

    @translated
    def take_unsequenced(self, limit: int) -> list[tuple[int, str]]:
        self._lock_sequencer()
        rows = self._conn.execute(q.UNSEQUENCED, {"lim": limit})
        return [(int(r.record_id), str(r.statement_hash)) for r in rows]

    @translated
    def store_leaves(self, start_index: int, record_ids: Sequence[int],
                     leaf_hashes: Sequence[bytes]) -> None:
        if len(record_ids) != len(leaf_hashes):
            raise ValueError("store_leaves needs one leaf hash per record id")
        if not record_ids:
            return
        size = self.log_size()
        if start_index != size:
            raise SequencerConflict(f"leaves must start at the log size {size}, not {start_index}")
        self._conn.execute(q.INSERT_LEAVES, [
            {"leaf_index": start_index + i, "record_id": rid, "leaf_hash": leaf}
            for i, (rid, leaf) in enumerate(zip(record_ids, leaf_hashes, strict=True))
        ])

    @translated
    def store_nodes(self, nodes: Mapping[NodeId, bytes]) -> None:
        if nodes:
            self._conn.execute(q.INSERT_NODES, [
                {"level": level, "idx": idx, "hash": digest}
                for (level, idx), digest in nodes.items()
            ])

    @translated
    def delete_from_queue(self, record_ids: Sequence[int]) -> None:
        if record_ids:
            self._conn.execute(q.DEQUEUE, {"ids": list(record_ids)})

    @translated
    def get_nodes(self, ids: Sequence[NodeId]) -> dict[NodeId, bytes]:
        if not ids:
            return {}
        rows = self._conn.execute(q.get_nodes(ids))
        return {(int(r.level), int(r.idx)): bytes(r.hash) for r in rows}

    @translated
    def log_size(self) -> int:
        return int(self._conn.execute(q.LOG_SIZE).scalar_one())

    @translated
    def leaf_of(self, record_id: int) -> int | None:
        index = self._conn.execute(q.LEAF_OF, {"record_id": record_id}).scalar_one_or_none()
        return None if index is None else int(index)

    @translated
    def insert_checkpoint(self, row: CheckpointRow) -> bool:
        result = self._conn.execute(self.insert_ignoring_conflict["checkpoints"], {
            "size": row.size, "root": row.root, "note": row.note, "created_at": row.created_at,
        })
        return bool(result.rowcount == 1)

    @translated
    def latest_checkpoint(self) -> CheckpointRow | None:
        row = self._first(q.LATEST_CHECKPOINT)
        return None if row is None else q.checkpoint_of(row)

    @translated
    def list_checkpoints(self) -> list[CheckpointRow]:
        return [q.checkpoint_of(m) for m in self._all(q.LIST_CHECKPOINTS)]


class SqlRecorder(Recorder):
    """`Recorder` on a SQLAlchemy engine; backends supply the engine and unit of work."""

    unit_of_work_class: ClassVar[type[SqlUnitOfWork]] = SqlUnitOfWork

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @property
    def engine(self) -> Engine:
        """The engine, for administration and tests; the ledger itself goes through
        units of work."""
        return self._engine

    def migrate(self) -> None:
        try:
            with self._engine.connect() as connection:
                upgrade(connection)
        except DRIVER_ERRORS as exc:
            raise translate(exc) from exc

    def _begin(self, connection: Connection, read_only: bool) -> None:
        """Start the transaction on `connection` (backends add their settings)."""
        connection.begin()

    @contextmanager
    def unit_of_work(self, *, read_only: bool = False) -> Iterator[UnitOfWork]:
        try:
            with self._engine.connect() as connection:
                self._begin(connection, read_only)
                work = self.unit_of_work_class(connection)
                try:
                    yield work
                except BaseException:
                    work.close()
                    connection.rollback()
                    raise
                work.close()
                connection.commit()
        except DRIVER_ERRORS as exc:
            raise translate(exc) from exc

    def close(self) -> None:
        self._engine.dispose()
