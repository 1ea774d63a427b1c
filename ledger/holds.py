"""Legal holds: place and release them, per order or per tenant, as chained records.

A hold is two things written in ONE transaction: a row in `legal_holds` (what the
retention run looks up) and a signed `legal_hold` record in the chain of every order it
concerns (what a court sees). Releasing is the same with `legal_hold_release`.

Which orders a hold concerns: an order hold, that order; a tenant hold, every order the
tenant has when it is placed (orders created later are held too, through the row, but
have no record of it), and on release every order the tenant has then. Appending locks
each order's head, and the retention run locks a head before it looks at the holds, so a
hold placed while a run is going either waits for the order's erasure to commit (the
hold comes after it in the chain) or is seen by it.

Hold reasons and actor ids stay in the chain for good (records of these kinds are never
erased, see `ledger.retention.policy`): write a case reference, not personal data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ledger.append import Appended, AppendService, EventRequest
from ledger.clock import Clock
from ledger.errors import InvalidInput, StorageError, UnknownOrder
from ledger.retention.policy import HOLD_ID_FIELD
from ledger.statement import Actor, ActorType, Kind
from ledger.store import Recorder, UnitOfWork
from ledger.store.retention_sql import HoldEntry
from ledger.timefmt import format_time

MAX_REASON_LENGTH = 1000


@dataclass(frozen=True, slots=True)
class HoldChange:
    """A hold placed or released, and the records that say so in the orders concerned."""

    hold: HoldEntry
    records: tuple[Appended, ...]


class HoldService:
    def __init__(self, recorder: Recorder, appender: AppendService, clock: Clock) -> None:
        self._recorder = recorder
        self._appender = appender
        self._clock = clock

    def place(
        self, *, tenant: str, order: str | None = None, reason: str, actor: str
    ) -> HoldChange:
        """Place a hold on `order` of `tenant` (or on the whole tenant when `order` is None)
        and record it in the order(s). Raises InvalidInput for an empty reason or actor,
        UnknownOrder for an order hold on an order that does not exist."""
        _check_text(reason=reason, actor=actor)
        with self._recorder.unit_of_work() as uow:
            now = format_time(self._clock.now())
            orders = self._orders_concerned(uow, tenant, order)
            hold_id = uow.insert_hold(
                HoldEntry(tenant=tenant, order=order, reason=reason, placed_by=actor,
                          placed_at=now)
            )
            hold = HoldEntry(tenant=tenant, order=order, reason=reason, placed_by=actor,
                             placed_at=now, id=hold_id)
            payload = {HOLD_ID_FIELD: hold_id, "scope": hold.scope, "reason": reason,
                       "placed_by": actor}
            records = self._record(uow, Kind.LEGAL_HOLD, tenant, orders, actor, now, payload)
        return HoldChange(hold, records)

    def release(
        self,
        *,
        tenant: str,
        order: str | None = None,
        reason: str,
        actor: str,
        hold_id: int | None = None,
    ) -> HoldChange:
        """Release the active hold of exactly this scope (`hold_id` picks one when the
        scope has several) and record it. Raises InvalidInput (field `hold`) when no
        active hold of the scope matches, or several do and `hold_id` is None."""
        _check_text(reason=reason, actor=actor)
        with self._recorder.unit_of_work() as uow:
            now = format_time(self._clock.now())
            hold = _pick(uow.list_holds(tenant=tenant), order, hold_id)
            assert hold.id is not None
            orders = self._orders_concerned(uow, tenant, order)
            if not uow.release_hold(hold.id, released_by=actor, released_at=now):
                raise StorageError(f"hold {hold.id} was released by someone else meanwhile")
            payload = {HOLD_ID_FIELD: hold.id, "scope": hold.scope, "reason": reason,
                       "released_by": actor}
            records = self._record(uow, Kind.LEGAL_HOLD_RELEASE, tenant, orders, actor, now,
                                   payload)
            released = HoldEntry(
                tenant=hold.tenant, order=hold.order, reason=hold.reason,
                placed_by=hold.placed_by, placed_at=hold.placed_at, released_by=actor,
                released_at=now, id=hold.id,
            )
        return HoldChange(released, records)

    def list_holds(self, *, tenant: str | None = None, active_only: bool = True) -> list[HoldEntry]:
        """Holds by id (by default only those in force)."""
        with self._recorder.unit_of_work(read_only=True) as uow:
            return uow.list_holds(tenant=tenant, active_only=active_only)

    @staticmethod
    def _orders_concerned(uow: UnitOfWork, tenant: str, order: str | None) -> list[str]:
        if order is None:
            return uow.tenant_orders(tenant)
        if uow.get_head(tenant, order) is None:
            raise UnknownOrder(f"no order {order!r} for tenant {tenant!r}", field="order")
        return [order]

    def _record(
        self,
        uow: UnitOfWork,
        kind: Kind,
        tenant: str,
        orders: Sequence[str],
        actor: str,
        now: str,
        payload: Mapping[str, object],
    ) -> tuple[Appended, ...]:
        requests = [
            EventRequest(tenant=tenant, order=o, event=kind.value, event_time=now,
                         actor=Actor(ActorType.USER, actor), payload=payload, kind=kind)
            for o in orders
        ]
        results = self._appender.append_in(uow, requests)
        refused = [r for r in results if isinstance(r, InvalidInput)]
        if refused:
            # A record the ledger composed itself was refused: roll the hold back whole.
            raise StorageError(f"{kind.value} record refused: {refused[0]}")
        return tuple(r for r in results if isinstance(r, Appended))


def _pick(holds: Sequence[HoldEntry], order: str | None, hold_id: int | None) -> HoldEntry:
    scope = [h for h in holds if h.order == order and h.active]
    if hold_id is not None:
        scope = [h for h in scope if h.id == hold_id]
    where = "the tenant" if order is None else f"order {order!r}"
    if not scope:
        raise InvalidInput(
            f"no active legal hold on {where}"
            + ("" if hold_id is None else f" with id {hold_id}"),
            field="hold",
        )
    if len(scope) > 1:
        ids = ", ".join(str(h.id) for h in scope)
        raise InvalidInput(f"several legal holds on {where} ({ids}): say which", field="hold")
    return scope[0]


def _check_text(**values: str) -> None:
    for name, value in values.items():
        if not value.strip() or len(value) > MAX_REASON_LENGTH or not value.isprintable():
            raise InvalidInput(
                f"{name}: must be 1–{MAX_REASON_LENGTH} printable characters", field=name
            )
