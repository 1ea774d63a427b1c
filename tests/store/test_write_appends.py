"""`UnitOfWork.write_appends`, the append path's one write call, on both backends.

PostgreSQL sends all writes in one pipeline, inserting one record row by row and more with
COPY: every test runs both insert routes (the `route` fixture moves the
threshold; SQLite, which runs the single-purpose methods in turn, ignores it). All must
store the same rows, link idempotency entries and findings to the right records, and
refuse a moved head, an existing order or a taken idempotency key with the ledger's
errors, leaving every table as it was.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from ledger.errors import ConcurrencyConflict, OrderExists
from ledger.store import AppendWrites, FindingEntry, IdempotencyEntry, Recorder, TimerRow
from ledger.store.postgres import PostgresUnitOfWork
from ledger.store.postgres_arrays import first_disarms
from ledger.store.statements import RECORD_ROW_COLUMNS
from ledger.store.tables import RECORDS, TIMERS
from ledger.store.timer_sql import TIMER_ROW_COLUMNS
from tests.store.factories import (
    head_after,
    make_chain,
    make_record,
    snapshot,
    store_order,
    time_at,
)


@pytest.fixture(autouse=True, params=["row-by-row", "copy"])
def route(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Which PostgreSQL insert route every write of the test takes."""
    limit = 1_000 if request.param == "row-by-row" else 0
    monkeypatch.setattr(PostgresUnitOfWork, "row_by_row_max_records", limit)
    return str(request.param)


def _idempotency(key: str, record_hash: str) -> tuple[str, IdempotencyEntry]:
    return record_hash, IdempotencyEntry(tenant="shop-1", key=key, request_hash="f" * 64,
                                         record_id=0, created_at=time_at(5))


def _finding(record_hash: str, seq: int, order: str = "order-1") -> tuple[str, FindingEntry]:
    return record_hash, FindingEntry(
        record_id=0, tenant="shop-1", order=order, seq=seq, sub_state="M01.02",
        recorded_at=time_at(seq + 1), pack="cn-express@1.0.0", rule_id="CN-TEST-001",
        severity="flag", citation="test", message=f"finding on {order} seq {seq}", field="x")


def _timer(order: str, seq: int, name: str = "no_scan") -> TimerRow:
    return TimerRow(tenant="shop-1", order=order, name=name, sub_state="M01.02",
                    armed_seq=seq, deadline=time_at(3600), warn_at=(time_at(1800),),
                    next_warn_at=time_at(1800), state="armed", created_at=time_at(seq + 1))


def test_a_batch_over_new_and_existing_orders(recorder: Recorder) -> None:
    first, second, third = make_chain(3)
    store_order(recorder, [first])
    new_order = make_record(order="order-3")
    with recorder.unit_of_work() as uow:
        uow.arm_timers([_timer("order-1", 0)])
    writes = AppendWrites(
        records=[second, new_order, third],
        new_orders=[head_after(new_order)],
        head_moves=[(0, head_after(third, created_at=first.statement.recorded_at))],
        timer_disarms=[("shop-1", "order-1", "no_scan", time_at(2), 1)],
        timers=[_timer("order-1", 2), _timer("order-3", 0)],
        idempotency=[_idempotency("key-a", third.statement_hash),
                     _idempotency("key-b", new_order.statement_hash)],
        findings=[_finding(second.statement_hash, 1),
                  _finding(new_order.statement_hash, 0, "order-3")],
    )
    with recorder.unit_of_work() as uow:
        ids = uow.write_appends(writes)
    with recorder.unit_of_work(read_only=True) as uow:
        assert [uow.get_record(i).statement_hash for i in ids] == [
            second.statement_hash, new_order.statement_hash, third.statement_hash]
        head = uow.get_head("shop-1", "order-1")
        assert head is not None
        assert (head.head_seq, head.head_hash) == (2, third.statement_hash)
        assert uow.get_head("shop-1", "order-3") == head_after(new_order)
        key_a, key_b = uow.get_idempotency("shop-1", "key-a"), uow.get_idempotency("shop-1",
                                                                                    "key-b")
        assert key_a is not None
        assert key_b is not None
        assert (key_a.record_id, key_b.record_id) == (ids[2], ids[1])
        findings = {(f.order, f.seq): f.record_id for f in uow.list_findings()}
        assert findings == {("order-1", 1): ids[0], ("order-3", 0): ids[1]}
        timers = {(t.order, t.armed_seq): t.state for t in uow.list_timers(tenant="shop-1")}
        assert timers == {("order-1", 0): "disarmed", ("order-1", 2): "armed",
                          ("order-3", 0): "armed"}


def test_many_orders_move_at_once_each_with_its_own_values(recorder: Recorder) -> None:
    """A batch over more orders than one statement's row: every head gets its own move
    and facts (with and without), every timer its own disarm, every new order its row."""
    chains = [make_chain(2, order=f"order-{n}") for n in range(30)]
    for first, _ in chains:
        store_order(recorder, [first])
    with recorder.unit_of_work() as uow:
        uow.arm_timers([_timer(first.statement.order, 0) for first, _ in chains])
    news = [make_record(order=f"new-{n}") for n in range(12)]
    moved = [replace(head_after(second, created_at=first.statement.recorded_at),
                     facts=None if n % 3 else {"records": n, "states": ["M01.01", "M01.02"]})
             for n, (first, second) in enumerate(chains)]
    created = [replace(head_after(new), facts=None if n % 2 else {"records": 1})
               for n, new in enumerate(news)]
    with recorder.unit_of_work() as uow:
        uow.write_appends(AppendWrites(
            records=[*(second for _, second in chains), *news],
            new_orders=created,
            head_moves=[(0, head) for head in moved],
            timer_disarms=[("shop-1", first.statement.order, "no_scan", time_at(100 + n), 1)
                           for n, (first, _) in enumerate(chains)],
        ))
    with recorder.unit_of_work(read_only=True) as uow:
        assert [uow.get_head("shop-1", h.order) for h in moved] == moved
        assert [uow.get_head("shop-1", h.order) for h in created] == created
        closed = {t.order: (t.state, t.closed_at, t.closed_by_seq)
                  for t in uow.list_timers(tenant="shop-1", state="disarmed")}
    assert closed == {first.statement.order: ("disarmed", time_at(100 + n), 1)
                      for n, (first, _) in enumerate(chains)}


def test_the_first_of_two_disarms_of_one_timer_closes_it(recorder: Recorder) -> None:
    """Run row by row, a second disarm of a timer the first closed finds none armed; a
    batch does the same, whatever the route."""
    first, second, third = make_chain(3)
    store_order(recorder, [first])
    with recorder.unit_of_work() as uow:
        uow.arm_timers([_timer("order-1", 0), _timer("order-1", 0, name="other")])
    with recorder.unit_of_work() as uow:
        uow.write_appends(AppendWrites(
            records=[second, third],
            head_moves=[(0, head_after(third, created_at=first.statement.recorded_at))],
            timer_disarms=[("shop-1", "order-1", "no_scan", time_at(2), 1),
                           ("shop-1", "order-1", "no_scan", time_at(3), 2)],
        ))
    with recorder.unit_of_work(read_only=True) as uow:
        timers = {t.name: (t.state, t.closed_at, t.closed_by_seq)
                  for t in uow.list_timers(tenant="shop-1")}
    assert timers == {"no_scan": ("disarmed", time_at(2), 1), "other": ("armed", None, None)}


def test_a_batch_statement_gets_only_the_first_disarm_of_each_timer() -> None:
    """In one join, two disarms of one key would both match its timer, and PostgreSQL
    does not say which one updates it; row by row, the first closes it."""
    disarms = [("shop-1", "order-1", "no_scan", time_at(2), 1),
               ("shop-1", "order-2", "no_scan", time_at(2), 1),
               ("shop-1", "order-1", "no_scan", time_at(3), 2),
               ("shop-1", "order-1", "other", time_at(3), 2)]
    assert first_disarms(disarms) == [disarms[0], disarms[1], disarms[3]]


def test_a_head_that_moved_since_its_lock_is_a_conflict(recorder: Recorder) -> None:
    first, second, third = make_chain(3)
    store_order(recorder, [first, second])  # the head is at seq 1, not 0
    before = snapshot(recorder)
    stale = AppendWrites(records=[third], head_moves=[(0, head_after(third))])
    with pytest.raises(ConcurrencyConflict, match="order-1"), recorder.unit_of_work() as uow:
        uow.write_appends(stale)
    assert snapshot(recorder) == before


def test_creating_an_existing_order_is_refused(recorder: Recorder) -> None:
    store_order(recorder, [make_record()])
    before = snapshot(recorder)
    again = make_record(payload={"note": "another genesis"}, salt=b"\x07" * 16)
    again = replace(again, statement_hash="ab" * 32)
    with pytest.raises(OrderExists), recorder.unit_of_work() as uow:
        uow.write_appends(AppendWrites(records=[again], new_orders=[head_after(again)]))
    assert snapshot(recorder) == before


def test_a_taken_idempotency_key_is_refused(recorder: Recorder) -> None:
    first, second = make_chain(2)
    ids = store_order(recorder, [first])
    with recorder.unit_of_work() as uow:
        uow.put_idempotency(IdempotencyEntry(tenant="shop-1", key="key-a",
                                             request_hash="e" * 64, record_id=ids[0],
                                             created_at=time_at(1)))
    before = snapshot(recorder)
    writes = AppendWrites(records=[second], head_moves=[(0, head_after(second))],
                          idempotency=[_idempotency("key-a", second.statement_hash)])
    with pytest.raises(ConcurrencyConflict), recorder.unit_of_work() as uow:
        uow.write_appends(writes)
    assert snapshot(recorder) == before


def test_nothing_to_write_writes_nothing(recorder: Recorder) -> None:
    before = snapshot(recorder)
    with recorder.unit_of_work() as uow:
        assert uow.write_appends(AppendWrites(records=[])) == []
    assert snapshot(recorder) == before


def test_a_record_row_fills_every_column_of_the_records_table_but_its_id() -> None:
    """COPY names the records' columns from RECORD_ROW_COLUMNS: a column added to the
    table must be added there too, or batches would leave it to its default."""
    assert ("id", *RECORD_ROW_COLUMNS) == tuple(c.name for c in RECORDS.c)


def test_a_timer_row_fills_every_column_of_the_timers_table_but_its_id() -> None:
    """The same for timers (TIMER_ROW_COLUMNS, timer_row)."""
    assert ("id", *TIMER_ROW_COLUMNS) == tuple(c.name for c in TIMERS.c)
