"""The records of one unit of work share one reading of the ledger's clock, taken once
their chain heads are locked: one `recorded_at` for a batch, and never earlier than the
record it follows, however long the batch waited for a head."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from pathlib import Path

from ledger.clock import FixedClock
from ledger.timefmt import format_time
from statemodel.scenarios import scenario
from tests.ledger.support import NOW, open_test_ledger, requests_for

HAPPY = scenario("domestic_happy_path")


class TickingClock(FixedClock):
    """One second later at every reading; the first reading made by `hold_thread` waits
    until the test releases it (with `entered` set meanwhile)."""

    def __init__(self, start: datetime) -> None:
        super().__init__(start)
        self.readings = 0
        self.last = start
        self.hold_thread: int | None = None
        self.entered = threading.Event()
        self.release = threading.Event()
        self._lock = threading.Lock()

    def now(self) -> datetime:
        if threading.get_ident() == self.hold_thread:
            self.hold_thread = None
            self.entered.set()
            assert self.release.wait(30)
        with self._lock:
            self.readings += 1
            self.advance(timedelta(seconds=1))
            self.last = super().now()
            return self.last


def test_a_batch_reads_the_clock_once(database_url: str, tmp_path: Path) -> None:
    clock = TickingClock(NOW)
    ledger = open_test_ledger(database_url, tmp_path, clock)
    try:
        appender = ledger.new_appender(group_commit=False)
        first = [*requests_for(HAPPY, order="order-1", steps=2),
                 *requests_for(HAPPY, order="order-2", steps=3)]
        before = clock.readings
        stored = appender.append_many(first)
        assert clock.readings - before == 1
        assert {r.record.statement.recorded_at for r in stored} == {  # type: ignore[union-attr]
            format_time(clock.last)}
    finally:
        ledger.close()


def test_a_batch_that_waited_for_a_head_records_after_the_record_it_follows(
    database_url: str, tmp_path: Path
) -> None:
    clock = TickingClock(NOW)
    ledger = open_test_ledger(database_url, tmp_path, clock)
    try:
        appender = ledger.new_appender(group_commit=False)
        steps = requests_for(HAPPY, order="order-1", steps=5)
        appender.append_many(steps[:3])
        results: dict[str, object] = {}

        def single() -> None:  # locks order-1's head, then reads the clock (held)
            clock.hold_thread = threading.get_ident()
            results["single"] = appender.append_many([steps[3]])

        def batch() -> None:  # waits for order-1's head
            results["batch"] = appender.append_many(
                [steps[4], *requests_for(HAPPY, order="order-2", steps=1)])

        holder = threading.Thread(target=single)
        holder.start()
        assert clock.entered.wait(30)
        waiter = threading.Thread(target=batch)
        waiter.start()
        waiter.join(1.0)  # it waits for the head that `single` holds
        assert waiter.is_alive()
        clock.release.set()
        holder.join(30)
        waiter.join(30)
        with ledger.recorder.unit_of_work() as uow:
            chain = uow.get_chain("shop-1", "order-1")
        times = [r.statement.recorded_at for r in chain]
        assert len(times) == 5
        assert times == sorted(times)
        assert times[3] < times[4]
    finally:
        ledger.close()
