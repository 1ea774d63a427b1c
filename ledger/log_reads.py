"""Paged reads of the Merkle log's tables, for the log audit and proofs on demand.

The recorder interface (`ledger.store.UnitOfWork`) reads the log only as the sequencer
and export need it: nodes by id, a record's leaf index, all checkpoints at once. Auditing
a log of millions of leaves needs pages (leaves by index, nodes by range, checkpoints by
size) and set queries the database answers better than Python (records that are no leaf,
leaves that share a record). They are here, on the unit of work's own connection, so they
read in its transaction; both backends are `SqlUnitOfWork`s. Candidates for the recorder
interface proper.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, func, select

from ledger.store import CheckpointRow, NodeId, StoredRecord, UnitOfWork
from ledger.store import statements as q
from ledger.store.core import SqlUnitOfWork
from ledger.store.errors import translated
from ledger.store.tables import CHECKPOINTS, LEAVES, MERKLE_NODES, RECORDS, SEQUENCING_QUEUE

_L, _N, _Q, _R, _C = LEAVES.c, MERKLE_NODES.c, SEQUENCING_QUEUE.c, RECORDS.c, CHECKPOINTS.c

_LEAVES_PAGE = (
    select(_L.leaf_index, _L.record_id, _L.leaf_hash)
    .where(_L.leaf_index > bindparam("after"))
    .order_by(_L.leaf_index)
    .limit(bindparam("lim"))
)
_RECORDS_BY_ID = q.SELECT_RECORDS.where(_R.id.in_(bindparam("ids", expanding=True)))
_NODES_RANGE = select(_N.idx, _N.hash).where(
    (_N.level == bindparam("level")) & (_N.idx >= bindparam("start")) & (_N.idx < bindparam("end"))
)
_NODE_COUNTS = select(_N.level, func.count()).group_by(_N.level)
_NODES_FROM = (
    select(_N.idx)
    .where((_N.level == bindparam("level")) & (_N.idx >= bindparam("first")))
    .order_by(_N.idx)
    .limit(bindparam("lim"))
)
_LEAF_COUNT = select(func.count()).select_from(LEAVES)
_SHARED_LEAF_RECORDS = (
    select(_L.record_id).group_by(_L.record_id).having(func.count() > 1)
    .order_by(_L.record_id).limit(bindparam("lim"))
)
_UNLOGGED_RECORDS = (
    select(_R.id)
    .select_from(
        RECORDS.outerjoin(LEAVES, _L.record_id == _R.id).outerjoin(
            SEQUENCING_QUEUE, _Q.record_id == _R.id
        )
    )
    .where(_L.record_id.is_(None) & _Q.record_id.is_(None))
    .order_by(_R.id)
    .limit(bindparam("lim"))
)
_QUEUED_LEAVES = (
    select(_Q.record_id).join_from(SEQUENCING_QUEUE, LEAVES, _L.record_id == _Q.record_id)
    .order_by(_Q.record_id).limit(bindparam("lim"))
)
_CHECKPOINTS_PAGE = (
    select(*q.CHECKPOINT_COLUMNS)
    .where(_C.size > bindparam("after"))
    .order_by(_C.size)
    .limit(bindparam("lim"))
)
_CHECKPOINT_OF_SIZE = select(*q.CHECKPOINT_COLUMNS).where(_C.size == bindparam("size"))


@dataclass(frozen=True, slots=True)
class LeafRow:
    leaf_index: int
    record_id: int
    leaf_hash: bytes


class LogReads:
    """Paged reads in the transaction of `uow`. Driver errors leave as ledger errors.

    Raises TypeError for a unit of work that is not SQL-backed (every backend is).
    """

    def __init__(self, uow: UnitOfWork) -> None:
        if not isinstance(uow, SqlUnitOfWork):
            raise TypeError(f"LogReads needs a SQL unit of work, not {type(uow).__name__}")
        self._uow = uow
        # The unit of work's connection carries its transaction; reading on it keeps
        # these reads in the same snapshot as the unit of work's own.
        self._conn: Connection = uow._conn

    @translated
    def repeatable_read(self) -> None:
        """On PostgreSQL, make the whole transaction read one snapshot (call before the
        first read). SQLite's read transactions see one snapshot already (WAL)."""
        if self._conn.dialect.name == "postgresql":
            self._conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")

    def get_nodes(self, ids: Sequence[NodeId]) -> dict[NodeId, bytes]:
        """The `NodeReader` protocol, so `ledger.merkle` can compute from these reads."""
        return self._uow.get_nodes(ids)

    @translated
    def leaves_page(self, after_index: int, limit: int) -> list[LeafRow]:
        """Up to `limit` leaves with index > `after_index` (start with -1), by index."""
        rows = self._conn.execute(_LEAVES_PAGE, {"after": after_index, "lim": limit})
        return [LeafRow(int(r.leaf_index), int(r.record_id), bytes(r.leaf_hash)) for r in rows]

    @translated
    def leaf_count(self) -> int:
        return int(self._conn.execute(_LEAF_COUNT).scalar_one())

    @translated
    def records_by_id(self, ids: Sequence[int]) -> dict[int, StoredRecord]:
        """The stored records among `ids`, by id (missing ids are left out)."""
        if not ids:
            return {}
        rows = self._conn.execute(_RECORDS_BY_ID, {"ids": list(ids)}).mappings()
        return {int(m["id"]): q.stored_of(m) for m in rows}

    @translated
    def nodes_range(self, level: int, start: int, end: int) -> dict[int, bytes]:
        """Stored hashes of nodes (level, idx) for start <= idx < end, by idx."""
        params = {"level": level, "start": start, "end": end}
        return {int(r.idx): bytes(r.hash) for r in self._conn.execute(_NODES_RANGE, params)}

    @translated
    def node_counts(self) -> dict[int, int]:
        """How many nodes are stored at each level."""
        return {int(r[0]): int(r[1]) for r in self._conn.execute(_NODE_COUNTS)}

    @translated
    def nodes_from(self, level: int, first: int, limit: int) -> list[int]:
        """Indexes of up to `limit` stored nodes at `level` with idx >= `first`."""
        params = {"level": level, "first": first, "lim": limit}
        return [int(i) for i in self._conn.execute(_NODES_FROM, params).scalars()]

    @translated
    def shared_leaf_records(self, limit: int) -> list[int]:
        """Record ids that are more than one leaf (at most `limit`)."""
        return self._ids(_SHARED_LEAF_RECORDS, limit)

    @translated
    def unlogged_records(self, limit: int) -> list[int]:
        """Record ids that are neither a leaf nor queued for the log (at most `limit`)."""
        return self._ids(_UNLOGGED_RECORDS, limit)

    @translated
    def queued_leaves(self, limit: int) -> list[int]:
        """Record ids that are a leaf and queued again (at most `limit`)."""
        return self._ids(_QUEUED_LEAVES, limit)

    @translated
    def checkpoints_page(self, after_size: int, limit: int) -> list[CheckpointRow]:
        """Up to `limit` checkpoints of size > `after_size`, by size."""
        rows = self._conn.execute(_CHECKPOINTS_PAGE, {"after": after_size, "lim": limit})
        return [q.checkpoint_of(m) for m in rows.mappings()]

    @translated
    def checkpoint_of_size(self, size: int) -> CheckpointRow | None:
        row = self._conn.execute(_CHECKPOINT_OF_SIZE, {"size": size}).mappings().first()
        return None if row is None else q.checkpoint_of(row)

    def _ids(self, statement: Any, limit: int) -> list[int]:
        return [int(i) for i in self._conn.execute(statement, {"lim": limit}).scalars()]
