"""The audit of the Merkle log finds every change made to it directly in the database,
and nothing on a clean one; both backends, with pages small enough to cross boundaries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from ledger.audit import audit_ledger
from ledger.audit_log import audit_log
from ledger.checkpoint import Checkpoint
from ledger.keys import LocalKey
from ledger.service import Ledger
from statemodel.scenarios import SCENARIOS
from tests.evidence_ledger.support import load_order, sequencer
from tests.ledger.support import tamper

ORIGIN = "test.orderledger.example/log"  # tests.ledger.support.open_test_ledger's


def _grow(ledger: Ledger) -> int:
    """Three orders integrated in batches of 5: several checkpoints, uneven sizes."""
    seq = sequencer(ledger, batch_size=5)
    for n, lifecycle in enumerate(SCENARIOS[:3]):
        load_order(ledger, lifecycle, f"a-{n}")
        seq.integrate_all()
    with ledger.recorder.unit_of_work(read_only=True) as uow:
        return uow.log_size()


@pytest.mark.parametrize("batch", [2, 3, 4096])
def test_a_clean_log_has_no_problems(ledger: Ledger, batch: int) -> None:
    _grow(ledger)
    load_order(ledger, SCENARIOS[3], "queued")  # queued records are not missing

    assert audit_log(ledger.recorder, batch=batch) == []
    assert audit_ledger(ledger.recorder).ok


def test_an_empty_log_has_no_problems(ledger: Ledger) -> None:
    assert audit_log(ledger.recorder) == []


def _foreign_note(size: int, root: bytes) -> str:
    return Checkpoint.new(ORIGIN, size, root).sign(LocalKey.generate("log"))


@dataclass(frozen=True)
class Tampering:
    name: str
    sql: tuple[str, ...]
    expected: set[str]
    params: dict[str, Any] = field(default_factory=dict)
    #: Fill params from the database before tampering (e.g. a note over a real root).
    prepare: str | None = None


FAKE = b"\x5a" * 32
FIRST_CHECKPOINT = "(SELECT min(size) FROM checkpoints)"

TAMPERINGS = [
    Tampering("leaf-deleted", ("DELETE FROM leaves WHERE leaf_index = 7",),
              {"log-leaf-gap", "log-record-missing"}),
    Tampering("last-leaf-deleted",
              ("DELETE FROM leaves WHERE leaf_index = (SELECT max(leaf_index) FROM leaves)",),
              {"log-record-missing", "log-checkpoint"}),
    Tampering("leaf-hash-changed", ("UPDATE leaves SET leaf_hash = :h WHERE leaf_index = 4",),
              {"log-leaf-hash", "log-node"}, {"h": FAKE}),
    Tampering("leaf-moved-to-another-record",
              ("UPDATE leaves SET record_id = (SELECT record_id FROM leaves WHERE leaf_index "
               "= 2) + 1000 WHERE leaf_index = 3",),
              {"log-leaf-record", "log-record-missing"}),
    Tampering("node-changed", ("UPDATE merkle_nodes SET hash = :h WHERE level = 1 AND idx = 2",),
              {"log-node"}, {"h": FAKE}),
    Tampering("node-deleted", ("DELETE FROM merkle_nodes WHERE level = 2 AND idx = 1",),
              {"log-node"}),
    Tampering("node-beyond-tree",
              ("INSERT INTO merkle_nodes (level, idx, hash) VALUES (0, 100000, :h)",),
              {"log-node"}, {"h": FAKE}),
    Tampering("checkpoint-root-changed",
              (f"UPDATE checkpoints SET root = :h WHERE size = {FIRST_CHECKPOINT}",),
              {"log-checkpoint", "log-checkpoint-root"}, {"h": FAKE}),
    Tampering("checkpoint-signed-by-another-key",
              (f"UPDATE checkpoints SET note = :note WHERE size = {FIRST_CHECKPOINT}",),
              {"log-checkpoint-signature"}, prepare="foreign-note"),
    Tampering("checkpoint-note-garbled",
              (f"UPDATE checkpoints SET note = 'garbage' WHERE size = {FIRST_CHECKPOINT}",),
              {"log-checkpoint-signature"}),
    Tampering("checkpoint-forged-over-another-tree",
              (f"UPDATE checkpoints SET root = :h, note = :note WHERE size = {FIRST_CHECKPOINT}",),
              {"log-checkpoint-signature", "log-checkpoint-root", "log-consistency"},
              {"h": FAKE}, prepare="forged-note"),
    Tampering("record-dropped-from-queue", ("DELETE FROM sequencing_queue",),
              {"log-record-missing"}),
    Tampering("leaf-queued-again",
              ("INSERT INTO sequencing_queue (record_id) SELECT record_id FROM leaves "
               "WHERE leaf_index = 0",),
              {"log-queued-leaf"}),
]


@pytest.mark.parametrize("case", TAMPERINGS, ids=lambda c: c.name)
def test_every_direct_change_to_the_log_is_found(
    ledger: Ledger, database_url: str, case: Tampering
) -> None:
    _grow(ledger)
    load_order(ledger, SCENARIOS[3], "queued", steps=2)  # before `tamper` drops triggers
    params = dict(case.params)
    if case.prepare is not None:
        with ledger.recorder.unit_of_work(read_only=True) as uow:
            first = uow.list_checkpoints()[0]
        root = first.root if case.prepare == "foreign-note" else FAKE
        params["note"] = _foreign_note(first.size, root)
    assert audit_log(ledger.recorder, batch=3) == []

    tamper(database_url, *case.sql, **params)
    problems = audit_log(ledger.recorder, batch=3)

    found = {p.check for p in problems}
    assert case.expected <= found, [str(p) for p in problems]
    assert all(p.check.startswith("log-") for p in problems)


def test_a_leaf_problem_names_the_record_and_audit_ledger_reports_it(
    ledger: Ledger, database_url: str
) -> None:
    _grow(ledger)
    tamper(database_url, "UPDATE leaves SET leaf_hash = :h WHERE leaf_index = 0", h=FAKE)

    report = audit_ledger(ledger.recorder)

    leaf = [p for p in report.problems if p.check == "log-leaf-hash"]
    assert [(p.tenant, p.order, p.seq) for p in leaf] == [("shop-1", "a-0", 0)]


def test_problems_of_one_kind_are_capped_with_a_count_of_the_rest(
    ledger: Ledger, database_url: str
) -> None:
    size = _grow(ledger)
    tamper(database_url, "UPDATE leaves SET leaf_hash = :h", h=FAKE)

    problems = [p for p in audit_log(ledger.recorder, batch=3) if p.check == "log-leaf-hash"]

    assert size > 21
    assert len(problems) == 21
    assert problems[-1].message == f"... and {size - 20} more like these"
