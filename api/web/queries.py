"""Read-only queries the console needs and the services lack: order search with filters
and counts, one order's findings and timers, the tenants and carriers to offer in the
search form, and the sequencer's queue length.

Like `ledger.store.queries`, these are reporting queries on the recorder's engine, each
in a transaction of its own; driver errors leave as ledger errors (StorageError).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import Connection, and_, exists, func, or_, select

from ledger.service import Ledger
from ledger.store import FindingEntry, TimerRow
from ledger.store.errors import DRIVER_ERRORS, translate
from ledger.store.queries import engine_of
from ledger.store.tables import FINDINGS, ORDERS, PAYLOADS, RECORDS, SEQUENCING_QUEUE, TIMERS

_O, _R, _P, _F, _T = ORDERS.c, RECORDS.c, PAYLOADS.c, FINDINGS.c, TIMERS.c
#: The catalogue's carrier code pattern: no LIKE wildcard but `_`, which is escaped.
CARRIER_CODE: Final = re.compile(r"[a-z][a-z0-9_]{1,31}")
MAX_PAGE: Final = 200


@dataclass(frozen=True, slots=True)
class OrderQuery:
    """Search conditions; None means "any". Times are canonical RFC 3339 text, `time_from`
    inclusive and `time_to` exclusive, matched against the event times of the order's
    records. `after` is the (tenant, order) of the previous page's last row."""

    tenant: str | None = None
    main_state: str | None = None
    sub_state: str | None = None
    time_from: str | None = None
    time_to: str | None = None
    carrier: str | None = None
    breached: bool | None = None
    flagged: bool | None = None
    after: tuple[str, str] | None = None
    limit: int = 25


@dataclass(frozen=True, slots=True)
class OrderRow:
    tenant: str
    order: str
    main_state: str
    sub_state: str
    head_seq: int
    updated_at: str
    breaches: int
    findings: int


@contextmanager
def _connection(ledger: Ledger) -> Iterator[Connection]:
    try:
        with engine_of(ledger.recorder).connect() as connection:
            yield connection
    except DRIVER_ERRORS as exc:
        raise translate(exc) from exc


def _breach_count() -> Any:
    return (
        select(func.count())
        .where(_R.tenant == _O.tenant, _R.order_id == _O.order_id, _R.kind == "sla_breach")
        .scalar_subquery()
    )


def _finding_count() -> Any:
    return (
        select(func.count())
        .where(_F.tenant == _O.tenant, _F.order_id == _O.order_id)
        .scalar_subquery()
    )


def _carrier_condition(carrier: str) -> Any:
    """The order has a record pushed by this carrier, or a payload naming it. Payloads are
    stored as canonical JSON (no spaces), so the member text is exact."""
    escaped = carrier.replace("_", "\\_")
    by_actor = exists().where(
        _R.tenant == _O.tenant, _R.order_id == _O.order_id,
        _R.actor_type == "carrier", _R.actor_id == carrier,
    )
    by_payload = exists().where(
        _R.tenant == _O.tenant, _R.order_id == _O.order_id, _P.record_id == _R.id,
        _P.payload.like(f'%"carrier_code":"{escaped}"%', escape="\\"),
    )
    return or_(by_actor, by_payload)


def search_orders(ledger: Ledger, query: OrderQuery) -> tuple[list[OrderRow], bool]:
    """A page of orders meeting `query`, by (tenant, order), and whether more follow.

    Raises ValueError for a carrier code that is not one, or a limit outside 1–MAX_PAGE;
    StorageError when the database fails.
    """
    if not 1 <= query.limit <= MAX_PAGE:
        raise ValueError(f"limit must be 1–{MAX_PAGE}")
    breaches, findings = _breach_count(), _finding_count()
    conditions: list[Any] = []
    for column, value in (
        (_O.tenant, query.tenant),
        (_O.main_state, query.main_state),
        (_O.sub_state, query.sub_state),
    ):
        if value is not None:
            conditions.append(column == value)
    if query.time_from is not None or query.time_to is not None:
        window = [_R.tenant == _O.tenant, _R.order_id == _O.order_id]
        if query.time_from is not None:
            window.append(_R.event_time >= query.time_from)
        if query.time_to is not None:
            window.append(_R.event_time < query.time_to)
        conditions.append(exists().where(*window))
    if query.carrier is not None:
        if not CARRIER_CODE.fullmatch(query.carrier):
            raise ValueError(f"not a carrier code: {query.carrier!r}")
        conditions.append(_carrier_condition(query.carrier))
    if query.breached is not None:
        conditions.append(breaches > 0 if query.breached else breaches == 0)
    if query.flagged is not None:
        conditions.append(findings > 0 if query.flagged else findings == 0)
    if query.after is not None:
        tenant, order = query.after
        conditions.append(
            or_(_O.tenant > tenant, and_(_O.tenant == tenant, _O.order_id > order))
        )
    statement = (
        select(
            _O.tenant, _O.order_id, _O.main_state, _O.sub_state, _O.head_seq, _O.updated_at,
            breaches.label("breaches"), findings.label("findings"),
        )
        .where(*conditions)
        .order_by(_O.tenant, _O.order_id)
        .limit(query.limit + 1)
    )
    with _connection(ledger) as connection:
        rows = connection.execute(statement).all()
    page = [
        OrderRow(r.tenant, r.order_id, r.main_state, r.sub_state, r.head_seq, r.updated_at,
                 int(r.breaches), int(r.findings))
        for r in rows[: query.limit]
    ]
    return page, len(rows) > query.limit


def tenants(ledger: Ledger, scope: str | None) -> list[str]:
    """Tenants that have orders, within `scope` (None: every tenant)."""
    statement = select(_O.tenant).distinct().order_by(_O.tenant)
    if scope is not None:
        statement = statement.where(_O.tenant == scope)
    with _connection(ledger) as connection:
        return [str(t) for t in connection.execute(statement).scalars()]


def carriers(ledger: Ledger, scope: str | None) -> list[str]:
    """Carrier actors that pushed records, within `scope`: suggestions for the search."""
    statement = (
        select(_R.actor_id).where(_R.actor_type == "carrier").distinct().order_by(_R.actor_id)
    )
    if scope is not None:
        statement = statement.where(_R.tenant == scope)
    with _connection(ledger) as connection:
        return [str(c) for c in connection.execute(statement).scalars()
                if CARRIER_CODE.fullmatch(str(c))]


def order_findings(ledger: Ledger, tenant: str, order: str) -> list[FindingEntry]:
    """Regulation findings on the order's records, by seq."""
    statement = (
        select(FINDINGS).where(_F.tenant == tenant, _F.order_id == order).order_by(_F.seq, _F.id)
    )
    with _connection(ledger) as connection:
        rows = connection.execute(statement).mappings().all()
    return [
        FindingEntry(
            record_id=r["record_id"], tenant=r["tenant"], order=r["order_id"], seq=r["seq"],
            sub_state=r["sub_state"], recorded_at=r["recorded_at"], pack=r["pack"],
            rule_id=r["rule_id"], severity=r["severity"], citation=r["citation"],
            message=r["message"], field=r["field"],
        )
        for r in rows
    ]


def order_timers(ledger: Ledger, tenant: str, order: str) -> list[TimerRow]:
    """Every SLA timer of the order (armed, fired, disarmed), in deadline order."""
    with ledger.recorder.unit_of_work(read_only=True) as uow:
        return uow.list_timers(tenant=tenant, order=order, limit=10_000)


def queued_records(ledger: Ledger) -> int:
    """Records committed but not yet integrated into the Merkle log (sequencer lag)."""
    with _connection(ledger) as connection:
        return int(connection.execute(select(func.count()).select_from(SEQUENCING_QUEUE))
                   .scalar_one())


def first_event_times(ledger: Ledger, rows: list[OrderRow]) -> dict[tuple[str, str], str]:
    """The event time of seq 0 of each listed order (when the order was placed)."""
    if not rows:
        return {}
    keys = [(r.tenant, r.order) for r in rows]
    statement = select(_R.tenant, _R.order_id, _R.event_time).where(
        _R.seq == 0, or_(*(and_(_R.tenant == t, _R.order_id == o) for t, o in keys))
    )
    with _connection(ledger) as connection:
        return {(r.tenant, r.order_id): r.event_time for r in connection.execute(statement)}
