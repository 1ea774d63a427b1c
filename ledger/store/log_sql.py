"""Batched reads of records and leaves, mixed into the shared unit of work.

A retention run touches hundreds of thousands of records; reading them one order or one
leaf at a time costs a round trip (and SQLAlchemy's per-statement bookkeeping) each. The
reads here take a whole page of orders or record ids per query. Their statements are
built once with expanding IN parameters, so SQLAlchemy compiles each shape once.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import groupby
from typing import Final

from sqlalchemy import Connection, bindparam, select

from ledger.store import statements as q
from ledger.store.errors import translated
from ledger.store.rows import StoredRecord
from ledger.store.tables import LEAVES, RECORDS

_R = RECORDS.c
_L = LEAVES.c

#: Most values bound to one IN list (SQLite binds at most 32,766 per statement).
MAX_IN_VALUES: Final = 5_000

# One tenant's orders per query: `tenant = ? AND order_id IN (...)` is answered by the
# (tenant, order_id, seq) unique index on both databases.
_CHAINS = q.SELECT_RECORDS.where(
    (_R.tenant == bindparam("tenant"))
    & _R.order_id.in_(bindparam("orders", expanding=True))
).order_by(_R.order_id, _R.seq)
_LEAVES_OF = select(_L.record_id, _L.leaf_index).where(
    _L.record_id.in_(bindparam("ids", expanding=True))
)


class LogSql:
    """Batched record and leaf reads of `UnitOfWork` for SQLAlchemy connections."""

    _conn: Connection

    @translated
    def chains_of(
        self, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], list[StoredRecord]]:
        """`get_chain` for many (tenant, order) keys in one query per tenant (and per
        MAX_IN_VALUES orders); orders without records are absent."""
        chains: dict[tuple[str, str], list[StoredRecord]] = {}
        for tenant, group in groupby(sorted(set(keys)), key=lambda k: k[0]):
            orders = [order for _, order in group]
            for start in range(0, len(orders), MAX_IN_VALUES):
                params = {"tenant": tenant, "orders": orders[start:start + MAX_IN_VALUES]}
                for row in self._conn.execute(_CHAINS, params).mappings():
                    record = q.stored_of(row)
                    chains.setdefault((tenant, record.statement.order), []).append(record)
        return chains

    @translated
    def leaves_of(self, record_ids: Sequence[int]) -> dict[int, int]:
        """The leaf index of each sequenced record among `record_ids` (record id ->
        index); records not sequenced yet are absent."""
        ids = list(dict.fromkeys(record_ids))
        found: dict[int, int] = {}
        for start in range(0, len(ids), MAX_IN_VALUES):
            rows = self._conn.execute(_LEAVES_OF, {"ids": ids[start:start + MAX_IN_VALUES]})
            found.update((int(r.record_id), int(r.leaf_index)) for r in rows)
        return found
