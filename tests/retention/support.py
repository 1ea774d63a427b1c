"""A ledger whose clock follows the events it is fed, then jumps years ahead for retention
runs (time is moved, never slept)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ledger.append import EventRequest
from ledger.clock import FixedClock
from ledger.holds import HoldService
from ledger.retention.runner import RetentionRunner, RunHooks, RunOutcome
from ledger.store import StoredRecord
from ledger.timefmt import parse_time
from regulations.retention import add_months
from statemodel.scenarios import scenario
from tests.ledger.support import open_test_ledger, requests_for

START = datetime(2026, 3, 1, tzinfo=UTC)
TENANT = "shop-1"
HAPPY = scenario("domestic_happy_path")  # ends completed (M12.02), then archived (M12.03)
OPEN = scenario("facility_fault_then_recovery")  # ends out for delivery: never closed
#: Main states the shipped pack counts as transaction records (the rest are operations).
TRANSACTION_MAINS = ("M01", "M02", "M08", "M10", "M11", "M12")


class Harness:
    def __init__(self, database_url: str, data_dir: Path) -> None:
        # Keys are created at the clock's start: before the first event fed.
        self.url = database_url
        self.data_dir = data_dir
        self.clock = FixedClock(START)
        self.ledger = open_test_ledger(database_url, data_dir, self.clock)
        self.holds = HoldService(self.ledger.recorder, self.ledger.appender, self.clock)

    def feed(self, requests: Sequence[EventRequest]) -> None:
        for request in requests:
            self.clock.set(parse_time(request.event_time) + timedelta(minutes=1))
            self.ledger.appender.append(request)

    def feed_orders(self, tenant: str = TENANT, **orders: str) -> None:
        """`order_id="happy"` or `"open"`: that order through its whole scenario."""
        for order, which in orders.items():
            self.feed(requests_for(HAPPY if which == "happy" else OPEN, tenant=tenant,
                                   order=order))

    def runner(self, hooks: RunHooks | None = None, per_transaction: int = 50) -> RetentionRunner:
        return RetentionRunner(self.ledger, orders_per_transaction=per_transaction,
                               hooks=hooks or RunHooks())

    def run_at(
        self, moment: datetime, hooks: RunHooks | None = None, per_transaction: int = 50
    ) -> list[RunOutcome]:
        """Move the clock to `moment` and run retention there (resuming first)."""
        self.clock.set(moment)
        return self.runner(hooks, per_transaction).run()

    def chain(self, order: str, tenant: str = TENANT) -> list[StoredRecord]:
        with self.ledger.recorder.unit_of_work(read_only=True) as uow:
            return uow.get_chain(tenant, order)

    def erased(self, order: str, tenant: str = TENANT) -> list[int]:
        return [r.statement.seq for r in self.chain(order, tenant) if r.payload is None]

    def kinds(self, order: str, tenant: str = TENANT) -> list[str]:
        return [r.statement.kind.value for r in self.chain(order, tenant)]

    def close(self) -> None:
        self.ledger.close()


def recorded_at(harness: Harness, order: str, seq: int) -> datetime:
    return parse_time(harness.chain(order)[seq].statement.recorded_at)


def operation_boundary(harness: Harness, order: str, seq: int) -> datetime:
    """18 calendar months after the record was recorded."""
    return add_months(recorded_at(harness, order, seq), 18)


def is_transaction(sub_state: str) -> bool:
    return sub_state.split(".")[0] in TRANSACTION_MAINS
