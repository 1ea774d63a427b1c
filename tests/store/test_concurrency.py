"""Writers to one order serialise on its head: the chain never forks."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable

from ledger.store import OrderHead, Recorder, UnitOfWork
from tests.store.factories import make_chain, make_record, store_order

WRITERS = 16


def append_next(recorder: Recorder, after_lock: Callable[[], None] = lambda: None) -> int:
    """Append one record after the current head the way the append service does; returns
    the seq it wrote. `after_lock` runs while the head is locked."""
    with recorder.unit_of_work() as uow:
        head = uow.lock_head("shop-1", "order-1")
        assert head is not None
        after_lock()
        return append_after(uow, head)


def append_after(uow: UnitOfWork, head: OrderHead) -> int:
    """Write the record after `head` (locked by `uow`) and move the head; returns its seq."""
    seq = head.head_seq + 1
    record = make_record(seq=seq, prev=head.head_hash, from_state=head.sub_state,
                         to_state=f"S{seq:02d}")
    uow.insert_records([record])
    uow.advance_head("shop-1", "order-1", expected_seq=head.head_seq, new_seq=seq,
                     head_hash=record.statement_hash, sub_state=f"S{seq:02d}",
                     main_state="S", model=head.model,
                     updated_at=record.statement.recorded_at)
    return seq


def test_sixteen_writers_on_one_order_serialize(recorder: Recorder) -> None:
    store_order(recorder, make_chain(1))
    start = threading.Barrier(WRITERS)
    written: list[int] = []
    errors: list[BaseException] = []

    def writer() -> None:
        start.wait()
        try:
            written.append(append_next(recorder))
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=writer) for _ in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert sorted(written) == list(range(1, WRITERS + 1))
    with recorder.unit_of_work() as uow:
        chain = uow.get_chain("shop-1", "order-1")
        head = uow.get_head("shop-1", "order-1")
    assert [r.statement.seq for r in chain] == list(range(WRITERS + 1))
    assert all(b.statement.prev == a.statement_hash for a, b in itertools.pairwise(chain))
    assert head is not None
    assert head.head_hash == chain[-1].statement_hash


def test_a_locked_head_makes_the_next_writer_wait_for_the_commit(recorder: Recorder) -> None:
    store_order(recorder, make_chain(1))
    locked, release = threading.Event(), threading.Event()
    seen_by_second: list[int] = []

    def hold_the_lock() -> None:
        locked.set()
        release.wait(10)

    def first() -> None:
        append_next(recorder, after_lock=hold_the_lock)  # writes seq 1

    def second() -> None:
        locked.wait(10)
        with recorder.unit_of_work() as uow:
            head = uow.lock_head("shop-1", "order-1")
            assert head is not None
            seen_by_second.append(head.head_seq)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    assert locked.wait(10)
    time.sleep(0.3)  # the second writer had every chance to get past the lock
    assert seen_by_second == []
    release.set()
    for thread in threads:
        thread.join(30)
    assert seen_by_second == [1]  # it waited for the first writer's commit


def test_lock_heads_makes_a_writer_of_any_of_those_orders_wait(recorder: Recorder) -> None:
    store_order(recorder, make_chain(1))
    store_order(recorder, make_chain(1, order="order-2"))
    locked, release = threading.Event(), threading.Event()
    seen_by_second: list[int] = []

    def first() -> None:
        with recorder.unit_of_work() as uow:
            heads = uow.lock_heads([("shop-1", "order-2"), ("shop-1", "order-1")])
            assert set(heads) == {("shop-1", "order-1"), ("shop-1", "order-2")}
            locked.set()
            release.wait(10)
            seq = append_after(uow, heads[("shop-1", "order-1")])
            assert seq == 1

    def second() -> None:
        locked.wait(10)
        seen_by_second.append(append_next(recorder))

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    time.sleep(0.3)
    assert seen_by_second == []  # still waiting for the batch's lock
    release.set()
    for thread in threads:
        thread.join(20)
    assert seen_by_second == [2]
