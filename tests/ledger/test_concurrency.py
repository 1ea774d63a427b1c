"""Concurrent writers never fork a chain (DESIGN invariant 2).

Many threads append at once, through one AppendService as the API does, to the same order
and to different orders. Afterwards every chain has seq 0..n with no gap and no fork,
every prev links, every acknowledged record is in its chain at the seq it was told, and
the ledger audits clean. PostgreSQL gets 16 threads; SQLite, whose writers serialise on
the database file, gets 4.

The contract, as the code has it: without `expected_seq` an append waits for the order's
head (row lock / BEGIN IMMEDIATE) and then always succeeds; with `expected_seq` the
writers that lost the race get ConcurrencyConflict and store nothing.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

import pytest

from ledger.append import Appended
from ledger.audit import audit_ledger
from ledger.errors import ConcurrencyConflict, InvalidInput, OrderExists
from ledger.service import Ledger
from ledger.statement import GENESIS_PREV
from ledger.store import StoredRecord
from statemodel.scenarios import SCENARIOS, scenario
from tests.ledger.support import open_test_ledger, requests_for

HAPPY = scenario("domestic_happy_path")
#: The happy path up to the first hub scan leaves the order in M05.02, where `hub_scan`
#: may repeat (a self-loop): the one event any number of writers can append in any order.
AT_HUB = 10
HUB_SCAN = requests_for(HAPPY, steps=AT_HUB + 1)[AT_HUB]
PER_THREAD = 4

T = TypeVar("T")


@pytest.fixture
def ledger(database_url: str, tmp_path: Path) -> Iterator[Ledger]:
    opened = open_test_ledger(database_url, tmp_path / "data")
    yield opened
    opened.close()


def thread_count(ledger: Ledger) -> int:
    return 16 if ledger.recorder.dialect == "postgresql" else 4


def run_together(threads: int, work: Callable[[int, threading.Barrier], T]) -> list[T]:
    """Run `work(i, barrier)` in `threads` threads that start together; their results
    in thread order. An exception in any thread fails the test."""
    barrier = threading.Barrier(threads, timeout=60)
    with ThreadPoolExecutor(max_workers=threads) as pool:
        futures = [pool.submit(work, i, barrier) for i in range(threads)]
        return [f.result(timeout=120) for f in futures]


def chain_of(ledger: Ledger, tenant: str, order: str) -> list[StoredRecord]:
    with ledger.recorder.unit_of_work() as uow:
        return uow.get_chain(tenant, order)


def assert_whole_chain(chain: list[StoredRecord], acknowledged: list[StoredRecord]) -> None:
    """No gap, no fork, every link; every acknowledged record at the seq it was told."""
    assert [r.statement.seq for r in chain] == list(range(len(chain)))
    assert chain[0].statement.prev == GENESIS_PREV
    for before, after in itertools.pairwise(chain):
        assert after.statement.prev == before.statement_hash
        assert after.statement.from_state == before.statement.to_state
    by_seq = {r.statement.seq: r for r in chain}
    for record in acknowledged:
        stored = by_seq.get(record.statement.seq)
        assert stored is not None, f"acknowledged seq {record.statement.seq} is not stored"
        assert stored.statement_hash == record.statement_hash
        assert stored.record_id == record.record_id
    seqs = [r.statement.seq for r in acknowledged]
    assert len(set(seqs)) == len(seqs), "two writers were told the same seq"


def at_hub(ledger: Ledger, order: str = "order-1") -> None:
    ledger.appender.append_many(requests_for(HAPPY, order=order, steps=AT_HUB))


def test_writers_to_one_order_without_expected_seq_all_succeed_in_one_chain(
    ledger: Ledger,
) -> None:
    at_hub(ledger)
    threads = thread_count(ledger)

    def write(i: int, barrier: threading.Barrier) -> list[list[StoredRecord]]:
        barrier.wait()
        calls: list[list[StoredRecord]] = []
        for _ in range(PER_THREAD // 2):
            if i % 2:  # half the writers send batches of two records of the same order
                results = ledger.appender.append_many([HUB_SCAN, HUB_SCAN])
                calls.append([r.record for r in results if isinstance(r, Appended)])
            else:
                calls.extend([ledger.appender.append(HUB_SCAN).record] for _ in range(2))
        return calls

    calls = [call for thread_calls in run_together(threads, write) for call in thread_calls]
    acknowledged = [record for call in calls for record in call]

    chain = chain_of(ledger, "shop-1", "order-1")
    assert len(acknowledged) == threads * PER_THREAD
    assert len(chain) == AT_HUB + threads * PER_THREAD
    assert_whole_chain(chain, acknowledged)
    # A batch is one unit of work: its two records are neighbours in the chain.
    for call in calls:
        assert [r.statement.seq - call[0].statement.seq for r in call] == list(range(len(call)))
    report = audit_ledger(ledger.recorder)
    assert report.ok, report.problems


def test_writers_with_the_same_expected_seq_one_wins_the_others_conflict(
    ledger: Ledger,
) -> None:
    at_hub(ledger)
    threads = thread_count(ledger)

    def write(_: int, barrier: threading.Barrier) -> StoredRecord | ConcurrencyConflict:
        request = replace(HUB_SCAN, expected_seq=AT_HUB - 1)
        barrier.wait()
        try:
            return ledger.appender.append(request).record
        except ConcurrencyConflict as conflict:
            return conflict

    outcomes = run_together(threads, write)

    winners = [o for o in outcomes if isinstance(o, StoredRecord)]
    losers = [o for o in outcomes if isinstance(o, ConcurrencyConflict)]
    assert len(winners) == 1
    assert winners[0].statement.seq == AT_HUB
    assert len(losers) == threads - 1
    assert {(c.field, c.expected_seq, c.actual_seq) for c in losers} == {
        ("expected_seq", AT_HUB - 1, AT_HUB)
    }
    chain = chain_of(ledger, "shop-1", "order-1")
    assert len(chain) == AT_HUB + 1, "a conflicting writer stored a record"
    assert_whole_chain(chain, winners)


def test_writers_that_retry_on_conflict_all_get_in_without_a_fork(ledger: Ledger) -> None:
    at_hub(ledger)
    threads = thread_count(ledger)

    def write(_: int, barrier: threading.Barrier) -> tuple[list[StoredRecord], int]:
        barrier.wait()
        done: list[StoredRecord] = []
        conflicts = 0
        while len(done) < PER_THREAD:
            with ledger.recorder.unit_of_work(read_only=True) as uow:
                head = uow.get_head("shop-1", "order-1")
            assert head is not None
            try:
                request = replace(HUB_SCAN, expected_seq=head.head_seq)
                done.append(ledger.appender.append(request).record)
            except ConcurrencyConflict:
                conflicts += 1
        return done, conflicts

    outcomes = run_together(threads, write)

    acknowledged = [r for rs, _ in outcomes for r in rs]
    chain = chain_of(ledger, "shop-1", "order-1")
    assert len(chain) == AT_HUB + threads * PER_THREAD
    assert_whole_chain(chain, acknowledged)
    assert audit_ledger(ledger.recorder).ok


def test_writers_to_different_orders_each_get_a_whole_chain(ledger: Ledger) -> None:
    threads = thread_count(ledger)
    lifecycles = [SCENARIOS[i % len(SCENARIOS)] for i in range(threads)]

    def write(i: int, barrier: threading.Barrier) -> list[StoredRecord]:
        tenant = f"shop-{i % 3}"
        requests = requests_for(lifecycles[i], tenant=tenant, order=f"order-{i}")
        barrier.wait()
        return [ledger.appender.append(r).record for r in requests]

    acknowledged = run_together(threads, write)

    for i, records in enumerate(acknowledged):
        chain = chain_of(ledger, f"shop-{i % 3}", f"order-{i}")
        assert [r.statement.to_state for r in chain] == [s.expect for s in lifecycles[i].steps]
        assert_whole_chain(chain, records)
    report = audit_ledger(ledger.recorder)
    assert report.ok, report.problems
    assert report.orders == threads


def test_writers_creating_the_same_order_one_creates_the_others_are_refused(
    ledger: Ledger,
) -> None:
    threads = thread_count(ledger)
    create = requests_for(HAPPY, order="order-new", steps=1)[0]

    def write(_: int, barrier: threading.Barrier) -> StoredRecord | InvalidInput:
        barrier.wait()
        try:
            return ledger.appender.append(create).record
        except InvalidInput as refused:
            return refused

    outcomes = run_together(threads, write)

    created = [o for o in outcomes if isinstance(o, StoredRecord)]
    refused = [o for o in outcomes if not isinstance(o, StoredRecord)]
    assert len(created) == 1
    # SQLite serialises whole transactions, so a loser sees the order: OrderExists.
    # PostgreSQL has no head row to lock yet; a loser trips over the winner's seq 0 at
    # insert time: ConcurrencyConflict. Either way it is refused and stores nothing.
    assert all(isinstance(r, OrderExists | ConcurrencyConflict) for r in refused), refused
    chain = chain_of(ledger, "shop-1", "order-new")
    assert_whole_chain(chain, created)
    assert len(chain) == 1
    assert audit_ledger(ledger.recorder).ok
