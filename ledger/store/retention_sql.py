"""SQL for legal holds and retention runs, mixed into the shared unit of work.

`legal_holds` is the fast lookup of holds in force (the chained `legal_hold` records are
the evidence); `retention_runs` and `retention_run_items` hold a run's plan and progress,
so a run that stopped half-way resumes to the same end state (migration 0006).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import groupby, islice
from typing import Any, Literal

from sqlalchemy import Connection, RowMapping, bindparam, insert, select, update

from ledger.store.errors import translated
from ledger.store.tables import (
    LEGAL_HOLDS,
    ORDERS,
    RECORDS,
    RETENTION_RUN_ITEMS,
    RETENTION_RUNS,
)
from statemodel.canonical import canonical_json

_H = LEGAL_HOLDS.c
_R = RETENTION_RUNS.c
_I = RETENTION_RUN_ITEMS.c
_REC = RECORDS.c
_O = ORDERS.c

HoldScope = Literal["order", "tenant"]
#: A run's states, in the order it passes through them.
RunState = Literal["planned", "archived", "finished"]

_ITEM_COLUMNS = (RETENTION_RUN_ITEMS, _REC.seq, _REC.recorded_at)
# Pages of a run's items: the keys of the items after an order key, in index order, then
# the first orders' items by `tenant = ? AND order_id IN (...)`. "After (t, o)" is asked
# as two plain ranges of the (run_id, tenant, order_id) index — the rest of tenant t, then
# the tenants after it — because PostgreSQL walks a row comparison `(tenant, order_id) >
# (?, ?)` behind `run_id = ?` from the start of the run (measured: a page cost grew with
# the run). No GROUP BY: ORDER BY + LIMIT keeps both databases on the index.
_ITEM_KEYS = select(_I.tenant, _I.order_id).where(_I.run_id == bindparam("run_id"))
_NEXT_ITEM_KEYS_SAME_TENANT = (
    _ITEM_KEYS.where((_I.tenant == bindparam("tenant")) & (_I.order_id > bindparam("order_id")))
    .order_by(_I.tenant, _I.order_id)
    .limit(bindparam("lim"))
)
_NEXT_ITEM_KEYS_LATER_TENANTS = (
    _ITEM_KEYS.where(_I.tenant > bindparam("tenant"))
    .order_by(_I.tenant, _I.order_id)
    .limit(bindparam("lim"))
)
#: Item keys read per order wanted in a page: an order with more items than this makes
#: its page hold fewer orders, never lose one.
_KEYS_PER_ORDER = 16
_NEXT_PENDING_ITEM_KEYS = (
    _NEXT_ITEM_KEYS_SAME_TENANT.where(_I.erased.is_(False)),
    _NEXT_ITEM_KEYS_LATER_TENANTS.where(_I.erased.is_(False)),
)
_NEXT_ITEM_KEYS = (_NEXT_ITEM_KEYS_SAME_TENANT, _NEXT_ITEM_KEYS_LATER_TENANTS)
# The page's orders are consecutive keys of the run in index order, so they are read as
# the range [first, last] of the (run_id, tenant, order_id) index: `order_id IN (...)`
# is only a filter there for PostgreSQL while the fresh items have no statistics (it
# scanned the whole tenant for each page). Without a join to `records` for the same
# reason (it may hash-join against a full scan): the records' seq and recorded_at are
# read by primary key instead (_SEQ_OF_RECORDS).
_ITEMS_OF_ORDERS = select(RETENTION_RUN_ITEMS).where(
    (_I.run_id == bindparam("run_id"))
    & (_I.tenant == bindparam("tenant"))
    & (_I.order_id >= bindparam("first"))
    & (_I.order_id <= bindparam("last"))
)
# The seq and recorded_at of every record of the same orders, by the same range of the
# records' (tenant, order_id, seq) index: two bound values instead of an IN list of ids.
_SEQ_OF_RECORDS = select(_REC.id, _REC.seq, _REC.recorded_at).where(
    (_REC.tenant == bindparam("tenant"))
    & (_REC.order_id >= bindparam("first"))
    & (_REC.order_id <= bindparam("last"))
)
_PENDING_ITEMS_OF_ORDERS = _ITEMS_OF_ORDERS.where(_I.erased.is_(False))
_MARK_ERASED = (
    update(RETENTION_RUN_ITEMS)
    .where((_I.run_id == bindparam("b_run_id")) & (_I.record_id == bindparam("b_record_id")))
    .values(erased=True, purge_seq=bindparam("b_purge_seq"))
)


@dataclass(frozen=True, slots=True)
class HoldEntry:
    """A legal hold on one order, or on every order of a tenant when `order` is None."""

    tenant: str
    order: str | None
    reason: str
    placed_by: str
    placed_at: str
    released_by: str | None = None
    released_at: str | None = None
    id: int | None = None

    @property
    def scope(self) -> HoldScope:
        return "tenant" if self.order is None else "order"

    @property
    def active(self) -> bool:
        return self.released_at is None

    def covers(self, tenant: str, order: str) -> bool:
        """True when this hold, if active, protects that order."""
        return self.tenant == tenant and self.order in (None, order)

    def to_json(self) -> dict[str, Any]:
        return {
            "hold_id": self.id,
            "scope": self.scope,
            "tenant": self.tenant,
            "order": self.order,
            "reason": self.reason,
            "placed_by": self.placed_by,
            "placed_at": self.placed_at,
            "released_by": self.released_by,
            "released_at": self.released_at,
        }


@dataclass(frozen=True, slots=True)
class RunEntry:
    """One retention run as stored; `report` is the plan summary until the run finishes,
    then the signed report (signature and key id set)."""

    id: int
    reference_time: str
    started_at: str
    finished_at: str | None
    state: str
    archive_path: str | None
    report: dict[str, Any] | None
    report_signature: str | None
    key_id: str | None


@dataclass(frozen=True, slots=True)
class RunItemEntry:
    """A record a run planned to erase; `seq` and `recorded_at` come from the record."""

    run_id: int
    record_id: int
    tenant: str
    order: str
    seq: int
    recorded_at: str
    record_class: str
    erased: bool = False
    purge_seq: int | None = None


class RetentionSql:
    """Legal hold and retention run methods of `UnitOfWork` for SQLAlchemy connections."""

    _conn: Connection

    # --- legal holds -----------------------------------------------------------------

    @translated
    def insert_hold(self, hold: HoldEntry) -> int:
        statement = insert(LEGAL_HOLDS).values(
            tenant=hold.tenant,
            order_id=hold.order,
            reason=hold.reason,
            placed_by=hold.placed_by,
            placed_at=hold.placed_at,
        )
        return int(self._conn.execute(statement.returning(_H.id)).scalar_one())

    @translated
    def release_hold(self, hold_id: int, *, released_by: str, released_at: str) -> bool:
        result = self._conn.execute(
            update(LEGAL_HOLDS)
            .where((_H.id == hold_id) & _H.released_at.is_(None))
            .values(released_by=released_by, released_at=released_at)
        )
        return int(result.rowcount) == 1

    @translated
    def list_holds(
        self, *, tenant: str | None = None, active_only: bool = True
    ) -> list[HoldEntry]:
        query = select(LEGAL_HOLDS).order_by(_H.id)
        if tenant is not None:
            query = query.where(_H.tenant == tenant)
        if active_only:
            query = query.where(_H.released_at.is_(None))
        return [_hold_of(r) for r in self._conn.execute(query).mappings()]

    @translated
    def holds_on(self, tenant: str, order: str) -> list[HoldEntry]:
        query = (
            select(LEGAL_HOLDS)
            .where(
                (_H.tenant == tenant)
                & (_H.order_id.is_(None) | (_H.order_id == order))
                & _H.released_at.is_(None)
            )
            .order_by(_H.id)
        )
        return [_hold_of(r) for r in self._conn.execute(query).mappings()]

    @translated
    def tenant_orders(self, tenant: str) -> list[str]:
        query = select(_O.order_id).where(_O.tenant == tenant).order_by(_O.order_id)
        return [str(o) for o in self._conn.execute(query).scalars()]

    # --- retention runs --------------------------------------------------------------

    @translated
    def insert_retention_run(
        self, *, reference_time: str, started_at: str, state: RunState,
        report: Mapping[str, Any] | None = None,
    ) -> int:
        statement = insert(RETENTION_RUNS).values(
            reference_time=reference_time,
            started_at=started_at,
            state=state,
            report=None if report is None else canonical_json(report).decode("utf-8"),
        )
        return int(self._conn.execute(statement.returning(_R.id)).scalar_one())

    @translated
    def update_retention_run(
        self,
        run_id: int,
        *,
        state: RunState,
        finished_at: str | None = None,
        archive_path: str | None = None,
        report: Mapping[str, Any] | None = None,
        report_signature: str | None = None,
        key_id: str | None = None,
    ) -> None:
        values: dict[str, Any] = {"state": state}
        given = {
            "finished_at": finished_at,
            "archive_path": archive_path,
            "report_signature": report_signature,
            "key_id": key_id,
        }
        values |= {k: v for k, v in given.items() if v is not None}
        if report is not None:
            values["report"] = canonical_json(report).decode("utf-8")
        self._conn.execute(update(RETENTION_RUNS).where(_R.id == run_id).values(**values))

    @translated
    def get_retention_run(self, run_id: int) -> RunEntry | None:
        row = self._conn.execute(select(RETENTION_RUNS).where(_R.id == run_id)).mappings().first()
        return None if row is None else _run_of(row)

    @translated
    def list_retention_runs(self, *, unfinished_only: bool = False) -> list[RunEntry]:
        query = select(RETENTION_RUNS).order_by(_R.id)
        if unfinished_only:
            query = query.where(_R.state != "finished")
        return [_run_of(r) for r in self._conn.execute(query).mappings()]

    @translated
    def add_run_items(self, items: Sequence[RunItemEntry]) -> None:
        if items:
            self._conn.execute(
                insert(RETENTION_RUN_ITEMS),
                [
                    {
                        "run_id": i.run_id,
                        "record_id": i.record_id,
                        "tenant": i.tenant,
                        "order_id": i.order,
                        "record_class": i.record_class,
                        "erased": i.erased,
                        "purge_seq": i.purge_seq,
                    }
                    for i in items
                ],
            )

    @translated
    def run_items(
        self,
        run_id: int,
        *,
        tenant: str | None = None,
        order: str | None = None,
        pending_only: bool = False,
    ) -> list[RunItemEntry]:
        query = (
            select(RETENTION_RUN_ITEMS, _REC.seq, _REC.recorded_at)
            .join(RECORDS, _REC.id == _I.record_id)
            .where(_I.run_id == run_id)
            .order_by(_I.tenant, _I.order_id, _REC.seq)
        )
        if tenant is not None:
            query = query.where(_I.tenant == tenant)
        if order is not None:
            query = query.where(_I.order_id == order)
        if pending_only:
            query = query.where(_I.erased.is_(False))
        return [_item_of(r) for r in self._conn.execute(query).mappings()]

    @translated
    def run_items_page(
        self,
        run_id: int,
        *,
        after: tuple[str, str] | None = None,
        orders: int = 100,
        pending_only: bool = False,
    ) -> list[RunItemEntry]:
        """The items of the next `orders` orders (by tenant, order) after the order key
        `after` (from the first when None), by (tenant, order, seq): pass the last
        item's (tenant, order) back as `after` for the next page; [] at the end. With
        `pending_only`, only items not erased yet (and orders that have some)."""
        if orders < 1:
            raise ValueError("orders must be at least 1")
        tenant, order_id = after or ("", "")
        params = {"run_id": run_id, "tenant": tenant, "order_id": order_id,
                  "lim": orders * _KEYS_PER_ORDER}
        # Every key seen is an order with items after `after`, seen in key order: the
        # first `orders` distinct ones are the page (their items are all read below).
        seen: dict[tuple[str, str], None] = {}
        for statement in _NEXT_PENDING_ITEM_KEYS if pending_only else _NEXT_ITEM_KEYS:
            for row in self._conn.execute(statement, params):
                seen.setdefault((str(row[0]), str(row[1])), None)
            if len(seen) >= orders:
                break
        keys = list(islice(seen, orders))
        items_of = _PENDING_ITEMS_OF_ORDERS if pending_only else _ITEMS_OF_ORDERS
        page: list[RunItemEntry] = []
        for page_tenant, group in groupby(keys, key=lambda k: k[0]):
            orders_of_tenant = [order for _, order in group]
            bounds = {"tenant": page_tenant, "first": orders_of_tenant[0],
                      "last": orders_of_tenant[-1]}
            rows = list(self._conn.execute(items_of, {"run_id": run_id, **bounds}).mappings())
            if not rows:
                continue
            of_record = {
                int(r.id): (int(r.seq), str(r.recorded_at))
                for r in self._conn.execute(_SEQ_OF_RECORDS, bounds)
            }
            page += [
                _item_of({**dict(r), "seq": of_record[int(r["record_id"])][0],
                          "recorded_at": of_record[int(r["record_id"])][1]})
                for r in rows
            ]
        page.sort(key=lambda i: (i.tenant, i.order, i.seq))
        return page

    @translated
    def mark_items_erased_many(self, run_id: int, purge_seqs: Mapping[int, int]) -> None:
        """Mark items erased in one batched statement: each item (record id) by its own
        order's purge record seq."""
        if purge_seqs:
            self._conn.execute(_MARK_ERASED, [
                {"b_run_id": run_id, "b_record_id": record_id, "b_purge_seq": seq}
                for record_id, seq in purge_seqs.items()
            ])


def _item_of(r: Mapping[Any, Any]) -> RunItemEntry:
    return RunItemEntry(
        run_id=int(r["run_id"]),
        record_id=int(r["record_id"]),
        tenant=r["tenant"],
        order=r["order_id"],
        seq=int(r["seq"]),
        recorded_at=r["recorded_at"],
        record_class=r["record_class"],
        erased=bool(r["erased"]),
        purge_seq=None if r["purge_seq"] is None else int(r["purge_seq"]),
    )


def _hold_of(r: RowMapping) -> HoldEntry:
    return HoldEntry(
        id=int(r["id"]),
        tenant=r["tenant"],
        order=r["order_id"],
        reason=r["reason"],
        placed_by=r["placed_by"],
        placed_at=r["placed_at"],
        released_by=r["released_by"],
        released_at=r["released_at"],
    )


def _run_of(r: RowMapping) -> RunEntry:
    return RunEntry(
        id=int(r["id"]),
        reference_time=r["reference_time"],
        started_at=r["started_at"],
        finished_at=r["finished_at"],
        state=r["state"],
        archive_path=r["archive_path"],
        report=None if r["report"] is None else dict(json.loads(r["report"])),
        report_signature=r["report_signature"],
        key_id=r["key_id"],
    )
