"""SQL for webhook subscriptions and alert deliveries, in a unit of work's transaction.

A repository on the unit of work's own connection (as `ledger.log_reads` does), not part
of the `UnitOfWork` interface: alert delivery is operations, not evidence, and keeping
it apart leaves the recorder interface to the ledger proper. Every method runs in the
transaction of the unit of work it was made from, so the application still owns the
transaction (STYLE.md §3); nothing here commits.

Concurrency: fan-out serialises on the `alert_cursor` row (`FOR UPDATE` in PostgreSQL;
SQLite's `BEGIN IMMEDIATE` admits one writer anyway). Claiming a delivery and recording
its attempt are conditional UPDATEs on the values read, so two deliverers never both own
one attempt.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection, RowMapping, Select, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ledger.store.core import SqlUnitOfWork
from ledger.store.errors import translated
from ledger.store.recorder import UnitOfWork
from ledger.store.rows import AlertRow
from ledger.store.tables import (
    ALERT_CURSOR,
    ALERT_DELIVERIES,
    ALERT_OUTBOX,
    WEBHOOK_SUBSCRIPTIONS,
)

_S, _D, _A, _C = WEBHOOK_SUBSCRIPTIONS.c, ALERT_DELIVERIES.c, ALERT_OUTBOX.c, ALERT_CURSOR.c

PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"


@dataclass(frozen=True, slots=True)
class SubscriptionRow:
    """A tenant's webhook: where to POST which alert kinds, and the HMAC secret."""

    id: int
    tenant: str
    url: str
    #: The shared HMAC key (shown once when created); kept out of repr and logs.
    secret: str = field(repr=False)
    events: tuple[str, ...]
    created_at: str
    disabled_at: str | None = None

    @property
    def active(self) -> bool:
        return self.disabled_at is None


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    """One alert to one subscription: `state` pending, delivered or dead."""

    id: int
    alert_id: int
    subscription_id: int
    state: str
    attempts: int
    next_attempt_at: str | None
    last_status: int | None
    last_error: str | None
    delivered_at: str | None
    updated_at: str


@dataclass(frozen=True, slots=True)
class DeliveryDetail:
    """A delivery with its subscription and its alert: what sending or listing needs."""

    delivery: DeliveryRow
    subscription: SubscriptionRow
    alert: AlertRow


_SUBSCRIPTION_COLUMNS = (
    _S.id.label("s_id"),
    _S.tenant.label("s_tenant"),
    _S.url.label("s_url"),
    _S.secret.label("s_secret"),
    _S.event_filter.label("s_event_filter"),
    _S.created_at.label("s_created_at"),
    _S.disabled_at.label("s_disabled_at"),
)
_ALERT_COLUMNS = (
    _A.id.label("a_id"),
    _A.tenant.label("a_tenant"),
    _A.kind.label("a_kind"),
    _A.body.label("a_body"),
    _A.created_at.label("a_created_at"),
)
_DETAIL = (
    select(ALERT_DELIVERIES, *_SUBSCRIPTION_COLUMNS, *_ALERT_COLUMNS)
    .join_from(ALERT_DELIVERIES, WEBHOOK_SUBSCRIPTIONS, _S.id == _D.subscription_id)
    .join(ALERT_OUTBOX, _A.id == _D.alert_id)
)


class AlertSql:
    """Subscription, delivery and cursor statements in the transaction of `uow`.

    Driver errors leave every method as ledger errors. Raises TypeError for a unit of
    work that is not SQL-backed (every backend is).
    """

    def __init__(self, uow: UnitOfWork) -> None:
        if not isinstance(uow, SqlUnitOfWork):
            raise TypeError(f"AlertSql needs a SQL unit of work, not {type(uow).__name__}")
        # The unit of work's connection carries its transaction.
        self._conn: Connection = uow._conn

    # --- subscriptions -------------------------------------------------------------------

    @translated
    def insert_subscription(
        self, *, tenant: str, url: str, secret: str, events: Sequence[str], created_at: str
    ) -> SubscriptionRow:
        """Store an active subscription; returns it with its id."""
        new_id = self._conn.execute(
            insert(WEBHOOK_SUBSCRIPTIONS).returning(_S.id),
            {
                "tenant": tenant,
                "url": url,
                "secret": secret,
                "event_filter": json.dumps(list(events)),
                "created_at": created_at,
            },
        ).scalar_one()
        return SubscriptionRow(int(new_id), tenant, url, secret, tuple(events), created_at)

    @translated
    def get_subscription(self, subscription_id: int) -> SubscriptionRow | None:
        row = self._conn.execute(
            select(WEBHOOK_SUBSCRIPTIONS).where(_S.id == subscription_id)
        ).mappings().first()
        return None if row is None else _subscription_of(row)

    @translated
    def list_subscriptions(
        self, *, tenant: str | None = None, tenants: Sequence[str] | None = None,
        active_only: bool = False,
    ) -> list[SubscriptionRow]:
        """Subscriptions by id, of one tenant or of `tenants` (None: every tenant)."""
        query = select(WEBHOOK_SUBSCRIPTIONS).order_by(_S.id)
        if tenant is not None:
            query = query.where(_S.tenant == tenant)
        if tenants is not None:
            query = query.where(_S.tenant.in_(list(tenants)))
        if active_only:
            query = query.where(_S.disabled_at.is_(None))
        return [_subscription_of(r) for r in self._conn.execute(query).mappings()]

    @translated
    def disable_subscription(self, subscription_id: int, *, at: str) -> bool:
        """Set `disabled_at` once; False when the subscription is disabled already or
        unknown."""
        result = self._conn.execute(
            update(WEBHOOK_SUBSCRIPTIONS)
            .where((_S.id == subscription_id) & _S.disabled_at.is_(None))
            .values(disabled_at=at)
        )
        return int(result.rowcount) == 1

    @translated
    def park_pending(self, subscription_id: int, *, reason: str, at: str) -> int:
        """Move the subscription's pending deliveries to dead with `reason`; how many."""
        result = self._conn.execute(
            update(ALERT_DELIVERIES)
            .where((_D.subscription_id == subscription_id) & (_D.state == PENDING))
            .values(state=DEAD, next_attempt_at=None, last_error=reason, updated_at=at)
        )
        return int(result.rowcount)

    # --- fan-out -------------------------------------------------------------------------

    @translated
    def lock_cursor(self, name: str) -> int:
        """The cursor's last fanned-out alert id (0 for a new cursor), locked until the
        transaction ends so that one fan-out runs at a time."""
        dialect_insert = postgresql.insert if self._dialect == "postgresql" else sqlite.insert
        # Created if missing without a race: two first fan-outs must not both insert it.
        self._conn.execute(
            dialect_insert(ALERT_CURSOR).on_conflict_do_nothing(),
            {"name": name, "last_alert_id": 0},
        )
        return int(
            self._conn.execute(
                select(_C.last_alert_id).where(_C.name == name).with_for_update()
            ).scalar_one()
        )

    @translated
    def set_cursor(self, name: str, last_alert_id: int) -> None:
        self._conn.execute(
            update(ALERT_CURSOR).where(_C.name == name).values(last_alert_id=last_alert_id)
        )

    @translated
    def delivery_pairs(self, alert_ids: Sequence[int]) -> set[tuple[int, int]]:
        """The (alert_id, subscription_id) pairs that have a delivery already."""
        if not alert_ids:
            return set()
        rows = self._conn.execute(
            select(_D.alert_id, _D.subscription_id).where(_D.alert_id.in_(list(alert_ids)))
        )
        return {(int(r.alert_id), int(r.subscription_id)) for r in rows}

    @translated
    def add_deliveries(self, pairs: Sequence[tuple[int, int]], *, at: str) -> None:
        """Pending deliveries of (alert_id, subscription_id) pairs, due at `at`. Raises
        StorageError when a pair has a delivery already (callers check first)."""
        if pairs:
            self._conn.execute(
                insert(ALERT_DELIVERIES),
                [
                    {
                        "alert_id": alert_id,
                        "subscription_id": subscription_id,
                        "state": PENDING,
                        "attempts": 0,
                        "next_attempt_at": at,
                        "updated_at": at,
                    }
                    for alert_id, subscription_id in pairs
                ],
            )

    # --- delivery ------------------------------------------------------------------------

    @translated
    def due_deliveries(self, now: str, limit: int) -> list[DeliveryDetail]:
        """Pending deliveries of active subscriptions due at or before `now`, earliest
        first. PostgreSQL skips rows another deliverer has locked for its claim."""
        query = (
            _DETAIL.where(
                (_D.state == PENDING) & (_D.next_attempt_at <= now) & _S.disabled_at.is_(None)
            )
            .order_by(_D.next_attempt_at, _D.id)
            .limit(limit)
            .with_for_update(skip_locked=True, of=ALERT_DELIVERIES)
        )
        return [_detail_of(r) for r in self._conn.execute(query).mappings()]

    @translated
    def claim(self, seen: DeliveryRow, *, lease_until: str, at: str) -> bool:
        """Count one attempt of a pending delivery and hide it until `lease_until`, if it
        is still as `seen` (its attempts and next attempt time); False when another
        deliverer changed it first."""
        result = self._conn.execute(
            update(ALERT_DELIVERIES)
            .where(
                (_D.id == seen.id)
                & (_D.state == PENDING)
                & (_D.attempts == seen.attempts)
                & (_D.next_attempt_at == seen.next_attempt_at)
            )
            .values(attempts=seen.attempts + 1, next_attempt_at=lease_until, updated_at=at)
        )
        return int(result.rowcount) == 1

    @translated
    def record_attempt(
        self,
        delivery_id: int,
        *,
        attempts: int,
        lease_until: str,
        state: str,
        next_attempt_at: str | None,
        last_status: int | None,
        last_error: str | None,
        at: str,
    ) -> bool:
        """Store the result of the attempt claimed with (`attempts`, `lease_until`);
        False (nothing changed) when the claim was lost meanwhile."""
        result = self._conn.execute(
            update(ALERT_DELIVERIES)
            .where(
                (_D.id == delivery_id)
                & (_D.state == PENDING)
                & (_D.attempts == attempts)
                & (_D.next_attempt_at == lease_until)
            )
            .values(
                state=state,
                next_attempt_at=next_attempt_at,
                last_status=last_status,
                last_error=last_error,
                delivered_at=at if state == DELIVERED else None,
                updated_at=at,
            )
        )
        return int(result.rowcount) == 1

    @translated
    def get_delivery(self, delivery_id: int) -> DeliveryDetail | None:
        row = self._conn.execute(_DETAIL.where(_D.id == delivery_id)).mappings().first()
        return None if row is None else _detail_of(row)

    @translated
    def list_deliveries(
        self, *, state: str | None = None, tenant: str | None = None, limit: int = 1000
    ) -> list[DeliveryDetail]:
        """Deliveries by id, optionally in one state and of one tenant."""
        query: Select[tuple[object, ...]] = _DETAIL.order_by(_D.id).limit(limit)
        if state is not None:
            query = query.where(_D.state == state)
        if tenant is not None:
            query = query.where(_S.tenant == tenant)
        return [_detail_of(r) for r in self._conn.execute(query).mappings()]

    @translated
    def requeue_dead(self, delivery_id: int, *, at: str) -> bool:
        """Move a dead delivery back to pending, due at `at`, with a fresh attempt count;
        False when it is not dead."""
        result = self._conn.execute(
            update(ALERT_DELIVERIES)
            .where((_D.id == delivery_id) & (_D.state == DEAD))
            .values(state=PENDING, attempts=0, next_attempt_at=at, updated_at=at)
        )
        return int(result.rowcount) == 1

    @property
    def _dialect(self) -> str:
        return str(self._conn.dialect.name)


def _subscription_of(r: RowMapping, prefix: str = "") -> SubscriptionRow:
    col = {name: f"{prefix}{name}" for name in (
        "id", "tenant", "url", "secret", "event_filter", "created_at", "disabled_at"
    )}
    return SubscriptionRow(
        id=int(r[col["id"]]),
        tenant=r[col["tenant"]],
        url=r[col["url"]],
        secret=r[col["secret"]],
        events=tuple(json.loads(r[col["event_filter"]])),
        created_at=r[col["created_at"]],
        disabled_at=r[col["disabled_at"]],
    )


def _detail_of(r: RowMapping) -> DeliveryDetail:
    delivery = DeliveryRow(
        id=int(r["id"]),
        alert_id=int(r["alert_id"]),
        subscription_id=int(r["subscription_id"]),
        state=r["state"],
        attempts=int(r["attempts"]),
        next_attempt_at=r["next_attempt_at"],
        last_status=r["last_status"],
        last_error=r["last_error"],
        delivered_at=r["delivered_at"],
        updated_at=r["updated_at"],
    )
    alert = AlertRow(
        tenant=r["a_tenant"],
        kind=r["a_kind"],
        body=json.loads(r["a_body"]),
        created_at=r["a_created_at"],
        id=int(r["a_id"]),
    )
    return DeliveryDetail(delivery, _subscription_of(r, "s_"), alert)
