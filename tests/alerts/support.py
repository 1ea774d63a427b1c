"""An SLA ledger with webhook delivery, driven by a FixedClock (time moved, never slept)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

from ledger.alerts import (
    AlertDeliverer,
    DeliveryRound,
    RetryPolicy,
    SubscriptionRow,
    UrllibSender,
    WebhookSubscriptions,
)
from ledger.append import EventRequest
from ledger.clock import FixedClock
from ledger.sla import SlaSweeper, SweepResult
from ledger.store.alert_sql import AlertSql, DeliveryDetail
from ledger.timefmt import parse_time
from statemodel.scenarios import scenario
from tests.ledger.support import open_test_ledger, requests_for

START: Final = datetime(2026, 3, 1, tzinfo=UTC)
FAULT: Final = scenario("facility_fault_then_recovery")
FAULT_AT: Final = next(i for i, s in enumerate(FAULT.steps) if s.event == "facility_fault")
#: The facility fault's expected recovery (09:00+08:00) plus its 2 h grace.
BREACH_AT: Final = parse_time("2026-03-03T09:00:00+08:00") + timedelta(hours=2)
#: The payment deadline's 30-minute warning after the order is placed.
WARNING_AT: Final = parse_time("2026-03-02T01:00:00Z")
#: Short enough to keep the suite fast, long enough for a loopback answer.
TIMEOUT: Final = 0.5


def half_jitter(ceiling: float) -> float:
    """Deterministic 'jitter': always half the ceiling."""
    return ceiling / 2


class AlertHarness:
    """A ledger on `database_url` whose clock follows the events fed, with a sweeper,
    subscriptions and a deliverer on one FixedClock."""

    def __init__(
        self,
        database_url: str,
        data_dir: Path,
        *,
        policy: RetryPolicy | None = None,
        clock: FixedClock | None = None,
    ) -> None:
        self.clock = clock or FixedClock(START)
        self.ledger = open_test_ledger(database_url, data_dir, self.clock)
        self.sweeper = SlaSweeper(self.ledger.recorder, self.ledger.appender, self.clock)
        self.subscriptions = WebhookSubscriptions(self.ledger.recorder, self.clock)
        self.policy = policy or RetryPolicy(jitter=half_jitter)
        self.deliverer = AlertDeliverer(
            self.ledger.recorder,
            self.clock,
            sender=UrllibSender(proxies={}),
            policy=self.policy,
            timeout=TIMEOUT,
        )

    def subscribe(self, url: str, events: str | None = None, tenant: str = "shop-1") -> (
        SubscriptionRow
    ):
        return self.subscriptions.subscribe(tenant, url, events)

    def feed(self, requests: Sequence[EventRequest]) -> None:
        for request in requests:
            self.clock.set(parse_time(request.event_time) + timedelta(minutes=1))
            self.ledger.appender.append(request)

    def breach(self, order: str = "order-1") -> SweepResult:
        """Put an order into the facility fault and sweep past its recovery deadline."""
        self.feed(requests_for(FAULT, steps=FAULT_AT + 1, order=order))
        self.clock.set(BREACH_AT)
        result = self.sweeper.sweep()
        assert [t.name for t in result.fired] == ["expected_recovery"]
        return result

    def round_at(self, moment: datetime) -> DeliveryRound:
        self.clock.set(moment)
        return self.deliverer.run_round()

    def deliveries(self) -> list[DeliveryDetail]:
        with self.ledger.recorder.unit_of_work(read_only=True) as uow:
            return AlertSql(uow).list_deliveries()

    def close(self) -> None:
        self.ledger.close()
