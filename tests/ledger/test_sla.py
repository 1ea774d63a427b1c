"""SLA timers: armed and disarmed in the append transaction, fired as chained breach
records exactly once. Time is moved, never slept."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from ledger.append import EventRequest
from ledger.audit import audit_ledger
from ledger.clock import FixedClock
from ledger.compliance import compliance_report
from ledger.errors import StorageError
from ledger.sla import SlaSweeper
from ledger.statement import Kind
from ledger.store import TimerRow, UnitOfWork
from ledger.timefmt import parse_time
from regulations.errors import RuleViolation
from statemodel.scenarios import scenario
from tests.ledger.support import open_test_ledger, raw_connection, requests_for

START = datetime(2026, 3, 1, tzinfo=UTC)
FAULT = scenario("facility_fault_then_recovery")
HAPPY = scenario("domestic_happy_path")
RETURN = scenario("return_within_cooling_off_then_refund")


class Harness:
    """A ledger whose clock follows the events it is fed (one minute after each)."""

    def __init__(self, database_url: str, data_dir: Path) -> None:
        # Keys are created at the clock's start: before the first event fed.
        self.clock = FixedClock(START)
        self.ledger = open_test_ledger(database_url, data_dir, self.clock)
        self.sweeper = SlaSweeper(self.ledger.recorder, self.ledger.appender, self.clock)

    def feed(self, requests: Sequence[EventRequest]) -> None:
        for request in requests:
            self.clock.set(parse_time(request.event_time) + timedelta(minutes=1))
            self.ledger.appender.append(request)

    def sweep_at(self, moment: datetime) -> list[TimerRow]:
        self.clock.set(moment)
        return self.sweeper.sweep().fired

    def timers(self, state: str | None = None) -> list[TimerRow]:
        with self.ledger.recorder.unit_of_work() as uow:
            return uow.list_timers(tenant="shop-1", state=state)

    def chain_kinds(self) -> list[str]:
        with self.ledger.recorder.unit_of_work() as uow:
            return [r.statement.kind.value for r in uow.get_chain("shop-1", "order-1")]


@pytest.fixture
def harness(database_url: str, tmp_path: Path) -> Iterator[Harness]:
    opened = Harness(database_url, tmp_path / "data")
    yield opened
    opened.ledger.close()


def _index(name: str, event: str) -> int:
    return next(i for i, s in enumerate(scenario(name).steps) if s.event == event)


FAULT_AT = _index("facility_fault_then_recovery", "facility_fault")
RECOVERY = parse_time("2026-03-03T09:00:00+08:00") + timedelta(hours=2)  # expected + 2 h


def test_facility_fault_breaches_two_hours_after_the_expected_recovery(harness: Harness) -> None:
    harness.feed(requests_for(FAULT, steps=FAULT_AT + 1))
    armed = [t for t in harness.timers("armed") if t.name == "expected_recovery"]
    assert [t.deadline for t in armed] == ["2026-03-03T03:00:00.000Z"]

    assert harness.sweep_at(RECOVERY - timedelta(seconds=1)) == []
    fired = harness.sweep_at(RECOVERY)

    assert [t.name for t in fired] == ["expected_recovery"]
    assert harness.chain_kinds()[-1] == "sla_breach"
    with harness.ledger.recorder.unit_of_work() as uow:
        breach = uow.get_chain("shop-1", "order-1")[-1]
        alerts = uow.alerts_after(0, 10)
    assert breach.statement.from_state == breach.statement.to_state == "M09.02"
    assert breach.payload is not None
    assert breach.payload["timer"] == "expected_recovery"
    assert breach.payload["lateness_seconds"] == 0
    assert [a.kind for a in alerts] == ["sla_breach"]
    assert alerts[0].body["statement_hash"] == breach.statement_hash
    assert audit_ledger(harness.ledger.recorder).ok
    # The same sweep again fires nothing: the timer is fired, not armed.
    assert harness.sweep_at(RECOVERY + timedelta(hours=1)) == []


def test_facility_fault_does_not_breach_when_the_order_moved_at_10_59(harness: Harness) -> None:
    requests = requests_for(FAULT, steps=FAULT_AT + 2)
    moved_at = "2026-03-03T10:59:00+08:00"
    recovery = requests[FAULT_AT + 1]
    requests[FAULT_AT + 1] = replace(
        recovery, event_time=moved_at, payload={**recovery.payload, "scanned_at": moved_at}
    )
    harness.feed(requests)

    assert harness.sweep_at(RECOVERY + timedelta(hours=1)) == []
    fault_timer = next(t for t in harness.timers() if t.name == "expected_recovery")
    assert fault_timer.state == "disarmed"
    assert fault_timer.closed_by_seq == FAULT_AT + 1
    assert "sla_breach" not in harness.chain_kinds()


def test_cooling_off_closes_seven_days_after_the_signature_then_allows_completion(
    harness: Harness,
) -> None:
    start = _index("domestic_happy_path", "cooling_off_started")
    requests = requests_for(HAPPY, steps=start + 2)
    harness.feed(requests[: start + 1])
    signed_at = parse_time(HAPPY.steps[start].payload["signed_at"])
    window_end = signed_at + timedelta(days=7)
    early = replace(requests[start + 1], event_time=(window_end - timedelta(minutes=1)).isoformat())
    harness.clock.set(window_end - timedelta(seconds=30))
    with pytest.raises(RuleViolation, match="CN-COOLOFF-003"):
        harness.ledger.appender.append(early)

    assert harness.sweep_at(window_end - timedelta(milliseconds=1)) == []
    assert [t.name for t in harness.sweep_at(window_end)] == ["cooling_off"]
    on_time = replace(requests[start + 1], event_time=window_end.isoformat())
    record = harness.ledger.appender.append(on_time).record
    assert record.statement.to_state == "M12.02"


def test_refund_deadline_runs_seven_days_from_receiving_the_return(harness: Harness) -> None:
    received = _index("return_within_cooling_off_then_refund", "return_received")
    harness.feed(requests_for(RETURN, steps=received + 1))
    received_at = parse_time(RETURN.steps[received].payload["received_at"])
    deadline = received_at + timedelta(days=7)
    refund = [t for t in harness.timers("armed") if t.name == "refund_deadline"]
    assert len(refund) == 1

    assert harness.sweep_at(deadline - timedelta(seconds=1)) == []
    assert [t.name for t in harness.sweep_at(deadline)] == ["refund_deadline"]


def test_a_timer_whose_sub_state_was_left_never_fires(harness: Harness) -> None:
    harness.feed(requests_for(HAPPY))  # the whole life: every sub-state left in time
    assert harness.sweep_at(parse_time("2026-03-20T00:00:00Z")) == []
    states = {t.state for t in harness.timers()}
    assert states <= {"disarmed", "armed"}
    assert "sla_breach" not in harness.chain_kinds()


class _CrashingSweeper(SlaSweeper):
    """Dies in the middle of its batch, after firing some timers in the transaction."""

    def __init__(self, *args: object, crash_after: int, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._crash_after = crash_after

    def _fire(self, uow: UnitOfWork, due: list[TimerRow], now: str) -> list[TimerRow]:
        fired = super()._fire(uow, due[: self._crash_after], now)
        assert fired, "the crash must come after some timers fired in the transaction"
        raise StorageError("simulated crash in the middle of a sweep")


def _orders_in_fault(harness: Harness, count: int) -> None:
    for n in range(count):
        harness.feed(requests_for(FAULT, steps=FAULT_AT + 1, order=f"order-{n}"))


def _breaches(harness: Harness) -> dict[str, int]:
    with harness.ledger.recorder.unit_of_work() as uow:
        return {
            head.order: sum(
                r.statement.kind is Kind.SLA_BREACH for r in uow.get_chain(head.tenant, head.order)
            )
            for head in uow.iter_orders()
        }


def test_a_restart_in_the_middle_of_a_sweep_fires_each_due_timer_exactly_once(
    harness: Harness,
) -> None:
    _orders_in_fault(harness, 4)
    harness.clock.set(RECOVERY + timedelta(days=30))
    crashing = _CrashingSweeper(
        harness.ledger.recorder, harness.ledger.appender, harness.clock, crash_after=2
    )
    with pytest.raises(StorageError, match="simulated crash"):
        crashing.sweep()
    assert set(_breaches(harness).values()) == {0}  # the crashed transaction left nothing

    fired = harness.sweeper.sweep().fired
    again = harness.sweeper.sweep().fired

    assert again == []
    # Each order had its fault timer and the line-haul no-scan / EDD timers it left:
    # only timers still armed fire, each exactly once.
    assert len({t.id for t in fired}) == len(fired)
    assert all(n >= 1 for n in _breaches(harness).values())
    assert audit_ledger(harness.ledger.recorder).ok


@pytest.mark.postgres
def test_two_sweepers_at_once_fire_each_timer_once(postgres_url: str, tmp_path: Path) -> None:
    harness = Harness(postgres_url, tmp_path / "data")
    try:
        _orders_in_fault(harness, 6)
        harness.clock.set(RECOVERY + timedelta(days=30))
        with harness.ledger.recorder.unit_of_work() as uow:
            due = len(uow.due_timers("2026-04-30T00:00:00.000Z", 1000))
        results: list[list[TimerRow]] = []
        errors: list[BaseException] = []

        def run() -> None:
            try:
                sweeper = SlaSweeper(
                    harness.ledger.recorder, harness.ledger.appender, harness.clock, batch_size=3
                )
                results.append(sweeper.sweep().fired)
            except BaseException as exc:  # surfaced below
                errors.append(exc)

        threads = [threading.Thread(target=run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert errors == []
        fired_ids = [t.id for fired in results for t in fired]
        assert len(fired_ids) == len(set(fired_ids)) == due
        assert sum(_breaches(harness).values()) == due
        assert audit_ledger(harness.ledger.recorder).ok
    finally:
        harness.ledger.close()


def test_the_database_refuses_to_rearm_a_fired_timer(harness: Harness, database_url: str) -> None:
    harness.feed(requests_for(FAULT, steps=FAULT_AT + 1))
    harness.sweep_at(RECOVERY)
    fired = next(t for t in harness.timers("fired"))
    with pytest.raises(DBAPIError, match="timers_close_once"), raw_connection(database_url) as c:
        c.execute(text("UPDATE timers SET state = 'armed' WHERE id = :id"), {"id": fired.id})


def test_compliance_report_counts_met_and_breached_timers(harness: Harness) -> None:
    harness.feed(requests_for(FAULT, steps=FAULT_AT + 1))
    harness.sweep_at(RECOVERY)

    figures = compliance_report(harness.ledger.recorder)["shop-1"]

    fault = figures.on_time_by_sub_state["M09.02"].to_json()
    assert fault == {"met": 0, "breached": 1, "on_time_rate": 0.0}
    deppon = figures.on_time_by_carrier["deppon"]
    assert deppon.breached == 1
    assert deppon.met == sum(t.state == "disarmed" for t in harness.timers())


def test_a_warning_before_the_deadline_is_an_alert_not_a_record(harness: Harness) -> None:
    received = _index("return_within_cooling_off_then_refund", "return_received")
    harness.feed(requests_for(RETURN, steps=received + 1))
    deadline = parse_time(RETURN.steps[received].payload["received_at"]) + timedelta(days=7)
    kinds_before = harness.chain_kinds()

    harness.clock.set(deadline - timedelta(days=1, seconds=1))
    assert harness.sweeper.sweep().warned == []
    harness.clock.set(deadline - timedelta(days=1))
    warned = harness.sweeper.sweep().warned
    assert [t.name for t in warned] == ["refund_deadline"]
    assert harness.sweeper.sweep().warned == []  # each warning once

    assert harness.chain_kinds() == kinds_before
    with harness.ledger.recorder.unit_of_work() as uow:
        alerts = uow.alerts_after(0, 10)
    assert [(a.kind, a.body["timer"]) for a in alerts] == [("sla_warning", "refund_deadline")]


def test_a_batch_applies_timer_changes_in_record_order(harness: Harness) -> None:
    """Three hub scans in one batch: each resets the no-scan timer the previous one armed.
    The net effect is written at once, with the same history as one append at a time."""
    scans = _index("domestic_happy_path", "hub_scan")
    requests = requests_for(HAPPY, steps=scans + 2)
    harness.feed(requests[: scans + 1])
    first_scan = requests[scans]
    later = [
        replace(first_scan, create=False, event_time=t,
                payload={**first_scan.payload, "scanned_at": t})
        for t in ("2026-03-02T16:00:00+08:00", "2026-03-02T16:30:00+08:00",
                  "2026-03-02T17:00:00+08:00")
    ]
    harness.clock.set(parse_time(later[-1].event_time) + timedelta(minutes=1))
    results = harness.ledger.appender.append_many(later)
    seqs = [r.record.statement.seq for r in results if not isinstance(r, Exception)]
    assert len(seqs) == 3

    no_scan = [t for t in harness.timers() if t.name == "no_scan"]
    armed = [t for t in no_scan if t.state == "armed"]
    assert [t.armed_seq for t in armed] == [seqs[-1]]
    assert armed[0].deadline == "2026-03-04T09:00:00.000Z"  # last scan (09:00Z) + 48 h
    closed = {t.armed_seq: t.closed_by_seq for t in no_scan if t.state == "disarmed"}
    assert closed[seqs[0]] == seqs[1]
    assert closed[seqs[1]] == seqs[2]
    assert closed[scans] == seqs[0]
