"""The sequencer: gapless leaves, one checkpoint per batch and none while idle, no fork
under concurrent sequencers, refusal to sign over a rewritten tree, and the scheduled
job that integrates within its bound."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from apscheduler.schedulers.background import BackgroundScheduler

from ledger.audit_log import audit_log
from ledger.sequencer import LogCorrupted
from ledger.service import Ledger
from retention.sequencing import JOB_ID, schedule_sequencing
from statemodel.scenarios import SCENARIOS, scenario
from tests.evidence_ledger.support import (
    TENANT,
    leaf_indexes,
    load_order,
    sequencer,
    verified_checkpoint,
)
from tests.ledger.support import open_test_ledger, requests_for, snapshot, tamper

HAPPY = scenario("domestic_happy_path")


def _checkpoint_sizes(ledger: Ledger) -> list[int]:
    with ledger.recorder.unit_of_work(read_only=True) as uow:
        return [c.size for c in uow.list_checkpoints()]


def _assert_log_is_whole(ledger: Ledger) -> None:
    """Every record is exactly one leaf, leaves are 0..n-1, and the log audits clean."""
    with ledger.recorder.unit_of_work(read_only=True) as uow:
        records, size = uow.count_records(), uow.log_size()
        queued = uow.take_unsequenced(1)
    assert (size, queued) == (records, [])
    assert audit_log(ledger.recorder, batch=16) == []


def test_each_batch_gets_one_checkpoint_and_an_idle_log_none(ledger: Ledger) -> None:
    records = load_order(ledger, HAPPY, "o-1", steps=7)
    seq = sequencer(ledger, batch_size=3)

    first = seq.integrate_all()
    again = seq.integrate_all()

    assert (first.integrated, first.size) == (7, 7)
    assert _checkpoint_sizes(ledger) == [3, 6, 7]
    assert first.checkpoint is not None
    assert verified_checkpoint(ledger, first.checkpoint).size == 7
    assert (again.integrated, again.size, again.root, again.checkpoint) == (
        0, 7, first.root, None
    )
    assert _checkpoint_sizes(ledger) == [3, 6, 7]
    assert leaf_indexes(ledger, records) == list(range(7))


def test_a_short_last_batch_ends_integrate_all_with_its_checkpoint(ledger: Ledger) -> None:
    load_order(ledger, HAPPY, "o-1", steps=6)

    result = sequencer(ledger, batch_size=3).integrate_all()

    # Two full batches, then an empty one: the last checkpoint published is returned.
    assert (result.integrated, result.size) == (6, 6)
    assert result.checkpoint is not None
    assert verified_checkpoint(ledger, result.checkpoint).size == 6


def test_concurrent_appends_and_integration_leave_no_gap(ledger: Ledger) -> None:
    done = threading.Event()
    seq = sequencer(ledger, batch_size=4)

    def integrate_until_done() -> int:
        rounds = 0
        while not done.is_set():
            seq.integrate_once()
            rounds += 1
        return rounds

    with ThreadPoolExecutor(max_workers=5) as pool:
        integrating = pool.submit(integrate_until_done)
        appends = [
            pool.submit(load_order, ledger, lifecycle, f"c-{n}")
            for n, lifecycle in enumerate(SCENARIOS[:4])
        ]
        chains = [a.result() for a in appends]
        done.set()
        assert integrating.result() > 0
    seq.integrate_all()

    indexes = [i for chain in chains for i in leaf_indexes(ledger, chain)]
    assert sorted(i for i in indexes if i is not None) == list(range(len(indexes)))
    for chain in chains:  # within one order, leaf order is chain order
        chain_leaves = leaf_indexes(ledger, chain)
        assert chain_leaves == sorted(i for i in chain_leaves if i is not None)
    _assert_log_is_whole(ledger)


@pytest.mark.postgres
def test_two_sequencers_on_postgresql_do_not_fork_the_log(
    postgres_url: str, tmp_path: Path
) -> None:
    """Two sequencers with their own connection pools (as two processes would have)
    integrate concurrently while orders are appended: the advisory lock serialises
    them, so the log grows as one tree with one checkpoint per batch."""
    ledgers = [open_test_ledger(postgres_url, tmp_path / "data") for _ in range(2)]
    try:
        main = ledgers[0]
        load_order(main, HAPPY, "pre-0")  # queued before the sequencers start
        start = threading.Barrier(3)
        done = threading.Event()

        def run(ledger: Ledger) -> int:
            seq = sequencer(ledger, batch_size=3)
            start.wait()
            integrated = 0
            while not done.is_set():
                integrated += seq.integrate_once().integrated
            return integrated + seq.integrate_all().integrated

        def append() -> int:
            start.wait()
            count = sum(len(load_order(main, lc, f"p-{n}")) for n, lc in enumerate(SCENARIOS[:3]))
            done.set()
            return count

        with ThreadPoolExecutor(max_workers=3) as pool:
            runs = [pool.submit(run, ledger) for ledger in ledgers]
            appended = pool.submit(append).result()
            integrated = [r.result() for r in runs]

        assert sum(integrated) == appended + len(HAPPY.steps)
        sizes = _checkpoint_sizes(main)
        assert sizes == sorted(set(sizes))
        assert sizes[-1] == sum(integrated)
        _assert_log_is_whole(main)
    finally:
        for ledger in ledgers:
            ledger.close()


def test_the_sequencer_refuses_to_sign_over_a_rewritten_tree(
    ledger: Ledger, database_url: str
) -> None:
    load_order(ledger, HAPPY, "o-1", steps=4)
    sequencer(ledger).integrate_all()
    load_order(ledger, HAPPY, "o-2", steps=1)  # before `tamper`: it drops SQLite's triggers
    tamper(database_url, "UPDATE merkle_nodes SET hash = :h WHERE level = 2 AND idx = 0",
           h=b"\x07" * 32)
    before = snapshot(database_url)

    with pytest.raises(LogCorrupted, match="does not hash to the checkpoint root"):
        sequencer(ledger).integrate_once()

    assert snapshot(database_url) == before


# --- the scheduled job ----------------------------------------------------------------------

def _poll(condition: Callable[[], bool], timeout: float) -> bool:
    """Wait until `condition()` holds, checking every 20 ms, for at most `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def test_the_scheduled_job_integrates_within_its_bound(ledger: Ledger) -> None:
    scheduler = BackgroundScheduler()
    job = schedule_sequencing(scheduler, sequencer(ledger), bound_seconds=0.1)
    scheduler.start()
    try:
        request = requests_for(HAPPY, tenant=TENANT, order="sched-1", steps=1)[0]
        record = ledger.appender.append(request).record
        appended_at = time.monotonic()

        integrated = _poll(lambda: leaf_indexes(ledger, [record]) != [None], timeout=10)
        took = time.monotonic() - appended_at
    finally:
        scheduler.shutdown(wait=True)

    assert integrated, "the job did not integrate the record within 10 s"
    assert took < 5  # the bound is 0.1 s; generous for a loaded test machine
    assert (job.id, job.max_instances, job.coalesce) == (JOB_ID, 1, True)
    assert job.trigger.interval.total_seconds() == pytest.approx(0.1)


def test_scheduling_twice_replaces_the_job_and_a_bound_must_be_positive(ledger: Ledger) -> None:
    scheduler = BackgroundScheduler()
    schedule_sequencing(scheduler, sequencer(ledger), bound_seconds=1)
    schedule_sequencing(scheduler, sequencer(ledger), bound_seconds=2)

    assert [j.id for j in scheduler.get_jobs()] == [JOB_ID]
    with pytest.raises(ValueError, match="positive"):
        schedule_sequencing(scheduler, sequencer(ledger), bound_seconds=0)

