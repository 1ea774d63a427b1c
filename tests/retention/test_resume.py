"""A run killed anywhere leaves nothing audit calls tampering, and the next run finishes it
to the end state an uninterrupted run reaches."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ledger.audit import audit_ledger
from ledger.retention.archive import verify_archive
from ledger.retention.runner import RunHooks
from tests.retention.support import Harness

FAR_FUTURE = datetime(2031, 1, 1, tzinfo=UTC)
ORDERS = ("a", "b", "c")


class Crash(Exception):
    """The injected failure: stands for a killed process."""


@dataclass(frozen=True)
class CrashCase:
    name: str
    per_transaction: int
    #: Raise after the archive is recorded, or inside the transaction of the n-th order.
    after_archive: bool = False
    after_orders: int | None = None
    #: Orders whose erasure committed before the crash.
    committed: tuple[str, ...] = ()


CASES = [
    CrashCase("after the archive, before any erasure", 50, after_archive=True),
    CrashCase("inside the second transaction of one order each", 1, after_orders=2,
              committed=("a",)),
    CrashCase("inside the second transaction of two orders each", 2, after_orders=3,
              committed=("a", "b")),
]


def crashing_hooks(case: CrashCase) -> RunHooks:
    done: list[str] = []

    def after_archive(run_id: int) -> None:
        if case.after_archive:
            raise Crash

    def after_order(tenant: str, order: str) -> None:
        done.append(order)
        if len(done) == case.after_orders:
            raise Crash

    return RunHooks(after_archive=after_archive, after_order=after_order)


def end_state(harness: Harness) -> dict[str, Any]:
    """What a finished run leaves, without run-time details (times, hashes)."""
    state: dict[str, Any] = {}
    for order in ORDERS:
        purges = [r.payload for r in harness.chain(order)
                  if r.statement.kind.value == "retention_purge"]
        state[order] = {
            "erased": harness.erased(order),
            "purges": [
                (p["run_id"], p["erased_seqs"], p["archive"]) for p in purges if p is not None
            ],
        }
    with harness.ledger.recorder.unit_of_work(read_only=True) as uow:
        runs = uow.list_retention_runs()
        state["runs"] = [(r.id, r.state, r.archive_path) for r in runs]
        state["items"] = [(i.order, i.seq, i.erased) for i in uow.run_items(1)]
        report = runs[0].report or {}
    state["report"] = {k: report.get(k) for k in ("erased", "skipped", "holds")}
    return state


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_a_crashed_run_resumes_to_the_end_state_of_an_uninterrupted_one(
    case: CrashCase, database_url: str, another_database_url: str, tmp_path: Path
) -> None:
    crashed = Harness(database_url, tmp_path / "crashed")
    clean = Harness(another_database_url, tmp_path / "clean")
    try:
        crashed.feed_orders(**dict.fromkeys(ORDERS, "happy"))
        with pytest.raises(Crash):
            crashed.run_at(FAR_FUTURE, hooks=crashing_hooks(case),
                           per_transaction=case.per_transaction)

        # Nothing half-done: only the committed orders are erased, and lawfully so.
        assert [o for o in ORDERS if crashed.erased(o)] == list(case.committed)
        assert audit_ledger(crashed.ledger.recorder).ok
        with crashed.ledger.recorder.unit_of_work(read_only=True) as uow:
            assert [r.state for r in uow.list_retention_runs()] == ["archived"]

        # The next day's job finishes run 1 first, then runs anew (finding nothing).
        outcomes = crashed.run_at(FAR_FUTURE + timedelta(days=1))
        assert [o.run_id for o in outcomes] == [1, 2]
        assert outcomes[1].erased == 0
        assert audit_ledger(crashed.ledger.recorder).ok
        assert verify_archive(crashed.data_dir / "archives" / "run-1") == []

        clean.feed_orders(**dict.fromkeys(ORDERS, "happy"))
        clean.run_at(FAR_FUTURE)
        clean.run_at(FAR_FUTURE + timedelta(days=1))

        assert end_state(crashed) == end_state(clean)
        assert all(end_state(clean)[o]["erased"] for o in ORDERS)
    finally:
        crashed.close()
        clean.close()
