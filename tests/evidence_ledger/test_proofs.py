"""Proofs on demand (ledger/proofs.py) against stored checkpoints, on both backends."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from ledger import proofs
from ledger.errors import InvalidInput, UnknownOrder
from ledger.export import export_bundle
from ledger.service import Ledger
from ledger.store import CheckpointRow, UnitOfWork
from ledger.verify import leaf_hash, verify_bundle, verify_consistency, verify_inclusion
from statemodel.scenarios import SCENARIOS, scenario
from tests.evidence_ledger.support import TENANT, load_order, sequencer, verified_checkpoint
from tests.ledger.support import requests_for

HAPPY = scenario("domestic_happy_path")


def _rounds(ledger: Ledger) -> list[CheckpointRow]:
    """Several checkpoints of uneven sizes: orders appended and integrated in rounds,
    in batches of 4 (so sizes are both powers of two and not)."""
    seq = sequencer(ledger, batch_size=4)
    for n, lifecycle in enumerate(SCENARIOS[:5]):
        load_order(ledger, lifecycle, f"round-{n}", steps=n + 2)
        seq.integrate_all()
    with ledger.recorder.unit_of_work(read_only=True) as uow:
        return uow.list_checkpoints()


def test_consistency_proofs_between_every_pair_of_checkpoints_verify(ledger: Ledger) -> None:
    checkpoints = _rounds(ledger)
    assert len(checkpoints) >= 6
    roots = {c.size: verified_checkpoint(ledger, c.note).root for c in checkpoints}

    with ledger.recorder.unit_of_work(read_only=True) as uow:
        for old, new in itertools.combinations_with_replacement(checkpoints, 2):
            proof = proofs.consistency(uow, old.size, new.size)

            assert (proof.old_size, proof.new_size) == (old.size, new.size)
            verify_consistency(old.size, new.size, roots[old.size], roots[new.size],
                               list(proof.proof))


def test_a_consistency_proof_file_is_what_verify_reads_for_rule_8(ledger: Ledger) -> None:
    checkpoints = _rounds(ledger)
    old = checkpoints[1]

    bundle = export_bundle(ledger, TENANT, "round-0")
    with ledger.recorder.unit_of_work(read_only=True) as uow:
        proof = proofs.consistency(uow, old.size).to_json()

    assert set(proof) == {"old_size", "new_size", "proof"}
    assert proof["new_size"] == checkpoints[-1].size
    report = verify_bundle(bundle, old_checkpoint=old.note, consistency_proof=proof)
    assert report.ok, [str(f) for f in report.failures]


def test_inclusion_proofs_of_every_record_verify_against_their_checkpoints(
    ledger: Ledger,
) -> None:
    checkpoints = _rounds(ledger)
    earlier = checkpoints[-2].size
    proved = refused = 0
    with ledger.recorder.unit_of_work(read_only=True) as uow:
        for n in range(5):
            for seq in range(n + 2):
                latest = proofs.record_inclusion(uow, TENANT, f"round-{n}", seq)
                _check_inclusion(ledger, latest)
                if latest.leaf_index >= earlier:  # appended after the earlier checkpoint
                    with pytest.raises(InvalidInput) as info:
                        proofs.record_inclusion(uow, TENANT, f"round-{n}", seq, size=earlier)
                    assert info.value.field == "size"
                    refused += 1
                    continue
                old = proofs.record_inclusion(uow, TENANT, f"round-{n}", seq, size=earlier)
                _check_inclusion(ledger, old)
                assert (old.leaf_index, old.tree_size) == (latest.leaf_index, earlier)
                by_leaf = proofs.leaf_inclusion(uow, old.leaf_index, size=earlier)
                assert (by_leaf.leaf_hash, by_leaf.proof) == (old.leaf_hash, old.proof)
                proved += 1
    assert proved > 0
    assert refused > 0


def _check_inclusion(ledger: Ledger, proof: proofs.InclusionProof) -> None:
    """What a third party does: check the note, the leaf hash, the path to the root."""
    head = verified_checkpoint(ledger, proof.checkpoint)
    assert proof.record is not None
    assert proof.tree_size == head.size
    assert proof.leaf_hash == leaf_hash(bytes.fromhex(proof.record.statement_hash))
    verify_inclusion(proof.leaf_index, head.size, proof.leaf_hash, list(proof.proof), head.root)
    assert proof.to_json()["inclusion_proof"] == [h.hex() for h in proof.proof]


@dataclass(frozen=True)
class BadArgument:
    name: str
    ask: Callable[[UnitOfWork], object]
    error: type[InvalidInput]
    field: str


BAD_ARGUMENTS = [
    BadArgument("unknown-order", lambda u: proofs.record_inclusion(u, TENANT, "nope", 0),
                UnknownOrder, "order"),
    BadArgument("unknown-tenant", lambda u: proofs.record_inclusion(u, "other", "o-1", 0),
                UnknownOrder, "order"),
    BadArgument("seq-beyond-head", lambda u: proofs.record_inclusion(u, TENANT, "o-1", 3),
                InvalidInput, "seq"),
    BadArgument("negative-seq", lambda u: proofs.record_inclusion(u, TENANT, "o-1", -1),
                InvalidInput, "seq"),
    BadArgument("record-not-integrated", lambda u: proofs.record_inclusion(u, TENANT, "o-2", 0),
                InvalidInput, "seq"),
    BadArgument("size-not-a-checkpoint",
                lambda u: proofs.record_inclusion(u, TENANT, "o-1", 0, size=2), InvalidInput,
                "size"),
    BadArgument("record-after-checkpoint",
                lambda u: proofs.record_inclusion(u, TENANT, "o-1", 2, size=1), InvalidInput,
                "size"),
    BadArgument("leaf-beyond-tree", lambda u: proofs.leaf_inclusion(u, 3), InvalidInput,
                "leaf_index"),
    BadArgument("checkpoint-size-zero", lambda u: proofs.checkpoint_at(u, 0), InvalidInput,
                "size"),
    BadArgument("old-size-zero", lambda u: proofs.consistency(u, 0, 3), InvalidInput,
                "old_size"),
    BadArgument("old-beyond-new", lambda u: proofs.consistency(u, 3, 1), InvalidInput,
                "old_size"),
    BadArgument("new-beyond-tree", lambda u: proofs.consistency(u, 1, 4), InvalidInput,
                "new_size"),
    BadArgument("old-beyond-default-new", lambda u: proofs.consistency(u, 4), InvalidInput,
                "old_size"),
]


@pytest.mark.parametrize("case", BAD_ARGUMENTS, ids=lambda c: c.name)
def test_bad_arguments_name_their_field(ledger: Ledger, case: BadArgument) -> None:
    steps = requests_for(HAPPY, tenant=TENANT, order="o-1", steps=3)
    ledger.appender.append(steps[0])
    sequencer(ledger).integrate_all()  # checkpoint of size 1
    ledger.appender.append(steps[1])
    ledger.appender.append(steps[2])
    sequencer(ledger).integrate_all()  # checkpoint of size 3
    load_order(ledger, HAPPY, "o-2", steps=1)  # queued, not integrated

    with ledger.recorder.unit_of_work(read_only=True) as uow, pytest.raises(case.error) as info:
        case.ask(uow)

    assert info.value.field == case.field

