"""Alert delivery: fan the outbox out to subscriptions, POST each delivery, retry, park.

Two steps per round, each in short transactions of its own; no transaction is open
while a request is on the wire:

1. Fan-out (one transaction). Lock the cursor, read the outbox after it, create one
   pending delivery per matching subscription, advance the cursor. A delivery is unique
   per (alert, subscription), so reading an alert twice never sends it twice.
2. Delivery, one at a time: claim a due delivery (one transaction: count the attempt,
   hide it for a lease), POST it, record the outcome (one transaction, conditional on
   the claim still being ours). A process that dies mid-request leaves a claim that
   expires after the lease, and the attempt is made again: delivery is at least once,
   so receivers deduplicate by the delivery id header.

Why the cursor may lag behind what was fanned out: in PostgreSQL, outbox ids come from
a sequence, and a transaction can commit id 11 while id 10's is still open. Moving the
cursor past the hole would lose 10 for good, so the cursor stops before a hole and
alerts beyond it are fanned out (idempotently) on every round until the hole is filled
or is older than `gap_grace` — then its id belonged to a transaction that rolled back
(or runs longer than any sweep does), and the cursor moves on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from ledger.alerts.errors import (
    DeliveryNotDead,
    SubscriptionDisabled,
    UnknownDelivery,
)
from ledger.alerts.policy import RetryPolicy
from ledger.alerts.signing import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    sign,
)
from ledger.alerts.transport import Outcome, Sender, UrllibSender
from ledger.clock import Clock
from ledger.store import AlertRow, Recorder
from ledger.store.alert_sql import (
    DEAD,
    DELIVERED,
    PENDING,
    AlertSql,
    DeliveryDetail,
    DeliveryRow,
    SubscriptionRow,
)
from ledger.timefmt import format_time
from statemodel.canonical import canonical_json

#: The fan-out cursor's name in `alert_cursor`.
CURSOR_NAME: Final = "webhooks"
DEFAULT_TIMEOUT_SECONDS: Final = 5.0
#: How long a claimed attempt stays hidden beyond its timeout before it may be retaken.
LEASE_MARGIN: Final = timedelta(seconds=60)
DEFAULT_GAP_GRACE: Final = timedelta(minutes=10)
DEFAULT_BATCH: Final = 500
USER_AGENT: Final = "orderledger-webhooks/1"
#: `Attempt.state` when the claim expired and another deliverer took the delivery over.
LOST: Final = "lost"

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Attempt:
    """One POST made in a round, and the delivery's state after it."""

    delivery_id: int
    alert_id: int
    subscription_id: int
    #: 1 for the first attempt of the delivery (since it was made or last retried).
    number: int
    outcome: Outcome
    state: str  # delivered | pending | dead | lost
    next_attempt_at: str | None


@dataclass
class DeliveryRound:
    """What one round did: deliveries created by fan-out, then every attempt made."""

    fanned_out: int = 0
    attempts: list[Attempt] = field(default_factory=list)

    def count(self, state: str) -> int:
        return sum(a.state == state for a in self.attempts)


def alert_body(alert: AlertRow) -> bytes:
    """The request body of an alert: its outbox body plus `alert_id`, as RFC 8785
    canonical JSON (compact UTF-8, sorted keys), so every retry sends the same bytes.
    Raises ValueError for a body JSON cannot carry exactly."""
    if alert.id is None:
        raise ValueError("an alert is sent only once stored (it has no id)")
    return canonical_json({**alert.body, "alert_id": alert.id})


def request_headers(detail: DeliveryDetail, body: bytes, timestamp: int) -> dict[str, str]:
    """The headers of a delivery's request sent at `timestamp` (unix seconds)."""
    return {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(detail.subscription.secret, timestamp, body),
        DELIVERY_HEADER: str(detail.delivery.id),
        EVENT_HEADER: detail.alert.kind,
    }


def advance_cursor(cursor: int, alerts: Sequence[AlertRow], horizon: str) -> int:
    """Where the cursor may move after reading `alerts` (ids > `cursor`, ascending):
    over every id that follows without a hole, and over a hole only when the alert after
    it was created at or before `horizon` (so the hole is no transaction still open)."""
    position = cursor
    for alert in alerts:
        assert alert.id is not None
        if alert.id != position + 1 and alert.created_at > horizon:
            break
        position = alert.id
    return position


def wants(subscription: SubscriptionRow, alert: AlertRow) -> bool:
    """A subscription gets the alerts of its tenant and kinds raised since it exists."""
    return (
        subscription.active
        and subscription.tenant == alert.tenant
        and alert.kind in subscription.events
        and subscription.created_at <= alert.created_at
    )


class AlertDeliverer:
    """Fans out and delivers alerts; holds no state between calls, so a new deliverer on
    the same database carries on where an old one (or a crashed process) stopped.

    `sender` POSTs (default: `UrllibSender()`), `timeout` bounds each network step of a
    request in seconds, `policy` decides retries and dead letters. Every method raises
    StorageError (or a subclass) when the database fails.
    """

    def __init__(
        self,
        recorder: Recorder,
        clock: Clock,
        *,
        sender: Sender | None = None,
        policy: RetryPolicy | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        gap_grace: timedelta = DEFAULT_GAP_GRACE,
        batch_size: int = DEFAULT_BATCH,
    ) -> None:
        if not timeout > 0:
            raise ValueError(f"the delivery timeout must be positive, not {timeout}")
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self._recorder = recorder
        self._clock = clock
        self._sender: Sender = sender or UrllibSender()
        self._policy = policy or RetryPolicy()
        self._timeout = timeout
        self._gap_grace = gap_grace
        self._batch = batch_size

    @property
    def policy(self) -> RetryPolicy:
        return self._policy

    def run_round(self, now: datetime | None = None) -> DeliveryRound:
        """Fan out new alerts, then attempt every delivery due. With `now`, the whole
        round happens at that moment (timestamps, backoff, leases); without, each step
        reads the clock."""
        result = DeliveryRound(fanned_out=self.fan_out(now))
        result.attempts = self.deliver_due(now)
        return result

    def fan_out(self, now: datetime | None = None) -> int:
        """Create the pending deliveries of every outbox alert not fanned out yet, due at
        `now`, and advance the cursor (module docstring), in one transaction; returns
        how many deliveries were created."""
        moment = now or self._clock.now()
        at = format_time(moment)
        horizon = format_time(moment - self._gap_grace)
        created = 0
        with self._recorder.unit_of_work() as uow:
            sql = AlertSql(uow)
            cursor = sql.lock_cursor(CURSOR_NAME)
            position, read_up_to, blocked = cursor, cursor, False
            while True:
                page = uow.alerts_after(read_up_to, self._batch)
                if not page:
                    break
                created += self._fan_out_page(sql, page, at)
                last_id = page[-1].id
                assert last_id is not None
                if not blocked:
                    position = advance_cursor(position, page, horizon)
                    blocked = position != last_id
                read_up_to = last_id
                if len(page) < self._batch:
                    break
            if position != cursor:
                sql.set_cursor(CURSOR_NAME, position)
        return created

    def _fan_out_page(self, sql: AlertSql, page: Sequence[AlertRow], at: str) -> int:
        subscriptions = sql.list_subscriptions(
            tenants=sorted({a.tenant for a in page}), active_only=True
        )
        done = sql.delivery_pairs([a.id for a in page if a.id is not None])
        pairs = [
            (alert.id, sub.id)
            for alert in page
            if alert.id is not None
            for sub in subscriptions
            if wants(sub, alert) and (alert.id, sub.id) not in done
        ]
        sql.add_deliveries(pairs, at=at)
        return len(pairs)

    def deliver_due(self, now: datetime | None = None) -> list[Attempt]:
        """Attempt every delivery due at `now` (default: the clock at the start) once,
        earliest first; returns the attempts. A failed attempt is retried after the
        policy's backoff, or the delivery is dead after the policy's last attempt."""
        moment: Callable[[], datetime] = (lambda: now) if now is not None else self._clock.now
        horizon = format_time(moment())
        attempts: list[Attempt] = []
        while True:
            claimed = self._claim_next(horizon, moment())
            if claimed is None:
                return attempts
            detail, lease_until = claimed
            outcome = self._send(detail, moment())
            attempts.append(self._record(detail, lease_until, outcome, moment()))

    def _claim_next(self, horizon: str, at: datetime) -> tuple[DeliveryDetail, str] | None:
        lease_until = format_time(at + timedelta(seconds=self._timeout) + LEASE_MARGIN)
        with self._recorder.unit_of_work() as uow:
            sql = AlertSql(uow)
            for detail in sql.due_deliveries(horizon, 1):
                if sql.claim(detail.delivery, lease_until=lease_until, at=format_time(at)):
                    return detail, lease_until
        return None

    def _send(self, detail: DeliveryDetail, at: datetime) -> Outcome:
        try:
            body = alert_body(detail.alert)
        except ValueError as exc:  # a bug in what the outbox holds: park it, keep going
            return Outcome(status=None, error=f"cannot encode the alert: {exc}")
        headers = request_headers(detail, body, int(at.timestamp()))
        try:
            return self._sender(detail.subscription.url, body, headers, self._timeout)
        except Exception as exc:  # a Sender must not raise; if one does, it is a failure
            _log.exception("sender failed on delivery %d", detail.delivery.id)
            return Outcome(status=None, error=f"sender failed: {type(exc).__name__}: {exc}")

    def _record(
        self, detail: DeliveryDetail, lease_until: str, outcome: Outcome, at: datetime
    ) -> Attempt:
        number = detail.delivery.attempts + 1
        next_attempt: str | None = None
        if outcome.delivered:
            state = DELIVERED
        elif self._policy.gives_up_after(number):
            state = DEAD
        else:
            state = PENDING
            next_attempt = format_time(at + self._policy.delay(number))
        with self._recorder.unit_of_work() as uow:
            kept = AlertSql(uow).record_attempt(
                detail.delivery.id,
                attempts=number,
                lease_until=lease_until,
                state=state,
                next_attempt_at=next_attempt,
                last_status=outcome.status,
                last_error=None if outcome.delivered else outcome.error,
                at=format_time(at),
            )
        if not kept:
            _log.warning("delivery %d: claim expired before its outcome was stored",
                         detail.delivery.id)
            state, next_attempt = LOST, None
        elif state == DEAD:
            _log.warning("delivery %d of alert %d to subscription %d is dead after %d "
                         "attempts: %s", detail.delivery.id, detail.alert.id,
                         detail.subscription.id, number, outcome.error)
        return Attempt(
            delivery_id=detail.delivery.id,
            alert_id=detail.delivery.alert_id,
            subscription_id=detail.delivery.subscription_id,
            number=number,
            outcome=outcome,
            state=state,
            next_attempt_at=next_attempt,
        )

    def deliveries(
        self, *, state: str | None = None, tenant: str | None = None, limit: int = 1000
    ) -> list[DeliveryDetail]:
        """Deliveries by id, optionally in one state (pending, delivered, dead) and of
        one tenant."""
        with self._recorder.unit_of_work(read_only=True) as uow:
            return AlertSql(uow).list_deliveries(state=state, tenant=tenant, limit=limit)

    def dead_letters(self, tenant: str | None = None, limit: int = 1000) -> list[DeliveryDetail]:
        """The dead deliveries (of one tenant), by id."""
        return self.deliveries(state=DEAD, tenant=tenant, limit=limit)

    def retry(self, delivery_id: int, now: datetime | None = None) -> DeliveryRow:
        """Move a dead delivery back to pending, due at `now` (default: the clock), with
        its attempt count reset (it gets the policy's attempts again). Returns it.

        Raises UnknownDelivery, DeliveryNotDead, or SubscriptionDisabled when its
        subscription no longer takes deliveries.
        """
        at = format_time(now or self._clock.now())
        with self._recorder.unit_of_work() as uow:
            sql = AlertSql(uow)
            detail = sql.get_delivery(delivery_id)
            if detail is None:
                raise UnknownDelivery(delivery_id)
            if detail.delivery.state != DEAD:
                raise DeliveryNotDead(delivery_id, detail.delivery.state)
            if not detail.subscription.active:
                raise SubscriptionDisabled(detail.subscription.id)
            if not sql.requeue_dead(delivery_id, at=at):  # another writer got in between
                current = sql.get_delivery(delivery_id)
                raise DeliveryNotDead(delivery_id, current.delivery.state if current else "gone")
            requeued = sql.get_delivery(delivery_id)
        assert requeued is not None
        return requeued.delivery
