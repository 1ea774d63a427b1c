"""SQL for legal holds and retention runs, mixed into the shared unit of work.

`legal_holds` is the fast lookup of holds in force (the chained `legal_hold` records are
the evidence); `retention_runs` and `retention_run_items` hold a run's plan and progress,
so a run that stopped half-way resumes to the same end state (migration 0006).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Connection, RowMapping, insert, select, update

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
        return [
            RunItemEntry(
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
            for r in self._conn.execute(query).mappings()
        ]

    @translated
    def mark_items_erased(self, run_id: int, record_ids: Sequence[int], purge_seq: int) -> int:
        if not record_ids:
            return 0
        result = self._conn.execute(
            update(RETENTION_RUN_ITEMS)
            .where((_I.run_id == run_id) & _I.record_id.in_(list(record_ids)))
            .values(erased=True, purge_seq=purge_seq)
        )
        return int(result.rowcount)


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
