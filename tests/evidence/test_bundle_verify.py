"""verify_bundle against valid bundles and a matrix of tampered ones (spec §7)."""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import verify
from ledger.checkpoint import Checkpoint
from ledger.keys import PublishedKey
from ledger.note import vkey
from ledger.timefmt import format_time, parse_time
from tests.evidence.bundle_factory import (
    ORIGIN,
    BundleKit,
    build_bundle,
    deterministic_key,
)

Bundle = dict[str, Any]
MIDDLE = 5


@cache
def _kit() -> BundleKit:
    return build_bundle(seed=7)


def kit() -> BundleKit:
    """A fresh deep copy of one valid bundle kit, so each test may mutate it."""
    return copy.deepcopy(_kit())


def trust(k: BundleKit) -> verify.TrustSet:
    return verify.TrustSet.from_json(k.trust)


def rules(report: verify.VerificationReport) -> set[int]:
    return {f.rule for f in report.failures}


# --- mutations ------------------------------------------------------------------------

def change_payload(b: Bundle, k: BundleKit) -> None:
    b["entries"][MIDDLE]["payload"]["fields"]["node"] = "北京顺义分拨中心"


def change_salt(b: Bundle, k: BundleKit) -> None:
    b["entries"][MIDDLE]["salt"] = base64.b64encode(b"\x01" * 16).decode()


def change_statement_field(b: Bundle, k: BundleKit) -> None:
    b["entries"][MIDDLE]["statement"]["event_time"] = "2026-02-10T08:00:00.000Z"


def change_signature(b: Bundle, k: BundleKit) -> None:
    b["entries"][MIDDLE]["signature"] = b["entries"][MIDDLE + 1]["signature"]


def remove_middle_entry(b: Bundle, k: BundleKit) -> None:
    del b["entries"][MIDDLE]


def swap_two_entries(b: Bundle, k: BundleKit) -> None:
    e = b["entries"]
    e[MIDDLE], e[MIDDLE + 1] = e[MIDDLE + 1], e[MIDDLE]


def alter_inclusion_proof(b: Bundle, k: BundleKit) -> None:
    proof = b["entries"][MIDDLE]["inclusion_proof"]
    proof[0] = ("0" if proof[0][0] != "0" else "1") + proof[0][1:]


def change_leaf_index(b: Bundle, k: BundleKit) -> None:
    b["entries"][MIDDLE]["leaf_index"] += 1


def _rewrite_checkpoint(b: Bundle, line: int, replace: Callable[[str], str]) -> None:
    body, sep, signatures = b["checkpoint"].partition("\n\n")
    lines = body.split("\n")
    lines[line] = replace(lines[line])
    b["checkpoint"] = "\n".join(lines) + sep + signatures


def change_checkpoint_size(b: Bundle, k: BundleKit) -> None:
    _rewrite_checkpoint(b, 1, lambda size: str(int(size) + 1))


def change_checkpoint_root(b: Bundle, k: BundleKit) -> None:
    _rewrite_checkpoint(b, 2, lambda _: base64.b64encode(b"\x07" * 32).decode())


def checkpoint_signed_by_another_key(b: Bundle, k: BundleKit) -> None:
    other = deterministic_key(999, "log", "log")
    b["checkpoint"] = Checkpoint.parse(b["checkpoint"]).sign(other)


def edit_catalogue(b: Bundle, k: BundleKit) -> None:
    b["models"][0]["transitions"].append({"event": "teleported", "from": "*", "to": "M12.02"})


def insert_illegal_transition_with_expired_key(b: Bundle, k: BundleKit) -> None:
    """A leaked rotated-out key signs a new tail record that jumps to a state no edge
    leads to from where the chain is. The forger cannot re-sign the checkpoint."""
    old_key, published = k.record_keys[0]
    assert published.not_after is not None
    last = b["entries"][-1]["statement"]
    statement = dict(last, seq=last["seq"] + 1, kind="transition", event="completed",
                     **{"from": last["to"], "to": "M12.02"},
                     prev=verify.statement_hash(last).hex(), key_id=old_key.key_id,
                     recorded_at=format_time(parse_time(published.not_after).replace(year=2027)))
    digest = verify.statement_hash(statement)
    b["entries"].append({"statement": statement, "signature": old_key.sign_record(digest),
                         "payload": None, "salt": None,
                         "leaf_index": b["entries"][-1]["leaf_index"] + 1,
                         "inclusion_proof": []})


def change_format(b: Bundle, k: BundleKit) -> None:
    b["format"] = "orderledger.bundle.v2"


def add_statement_field(b: Bundle, k: BundleKit) -> None:
    b["entries"][MIDDLE]["statement"]["note"] = "added later"


def leaf_index_beyond_tree(b: Bundle, k: BundleKit) -> None:
    b["entries"][MIDDLE]["leaf_index"] = verify.parse_checkpoint_body(
        verify.parse_note(b["checkpoint"]).body).size


def short_hash_in_proof(b: Bundle, k: BundleKit) -> None:
    b["entries"][MIDDLE]["inclusion_proof"][0] = b["entries"][MIDDLE]["inclusion_proof"][0][:62]


def widen_key_interval(b: Bundle, k: BundleKit) -> None:
    """The bundle claims the rotated-out key never expired; the trust set knows better."""
    b["keys"][0]["not_after"] = None


def key_id_of_another_key(b: Bundle, k: BundleKit) -> None:
    b["entries"][MIDDLE]["statement"]["key_id"] = k.record_keys[1][0].key_id


def log_key_swapped(b: Bundle, k: BundleKit) -> None:
    """A well-formed verifier key for the right public key under another name."""
    b["log_key"] = vkey("attacker.example/log", k.log_key.public_bytes)


@dataclass(frozen=True)
class Case:
    name: str
    mutate: Callable[[Bundle, BundleKit], None]
    must: set[int]  # every one of these rules fails ...
    may: set[int] = field(default_factory=set)  # ... and at most these others fail too


TAMPER_MATRIX = [
    Case("payload changed", change_payload, {5}),
    Case("salt changed", change_salt, {5}),
    Case("statement field changed", change_statement_field, {3, 4, 7}),
    Case("signature changed", change_signature, {3}),
    Case("middle entry removed", remove_middle_entry, {4}, {6}),
    Case("two entries swapped", swap_two_entries, {4}, {6}),
    Case("illegal transition signed by a key outside its interval",
         insert_illegal_transition_with_expired_key, {3, 6}, {7}),
    Case("inclusion proof altered", alter_inclusion_proof, {7}),
    Case("leaf index changed", change_leaf_index, {7}),
    Case("checkpoint size changed", change_checkpoint_size, {2}, {7}),
    Case("checkpoint root changed", change_checkpoint_root, {2, 7}),
    Case("checkpoint signed by another key", checkpoint_signed_by_another_key, {2}),
    Case("catalogue in the bundle edited", edit_catalogue, {6}),
    Case("format changed", change_format, {1}),
    Case("statement field added", add_statement_field, {1}, {3, 4, 7}),
    Case("leaf index equal to tree size", leaf_index_beyond_tree, {7}),
    Case("wrong-length hash in inclusion proof", short_hash_in_proof, {7}),
    Case("statement names another key", key_id_of_another_key, {3}, {4, 7}),
    Case("log key name is not the log", log_key_swapped, {2}),
]


@pytest.mark.parametrize("case", TAMPER_MATRIX, ids=lambda c: c.name)
def test_tampered_bundle_is_rejected_naming_the_rule(case: Case) -> None:
    k = kit()
    case.mutate(k.bundle, k)
    report = verify.verify_bundle(k.bundle)
    found = rules(report)
    assert not report.ok
    assert case.must <= found <= case.must | case.may, [str(f) for f in report.failures]


TRUST_MATRIX = [
    Case("bundle widens a key's interval", widen_key_interval, {0}),
    Case("log key replaced", log_key_swapped, {0, 2}),
]


@pytest.mark.parametrize("case", TRUST_MATRIX, ids=lambda c: c.name)
def test_bundle_disagreeing_with_trust_set_fails_rule_0(case: Case) -> None:
    k = kit()
    real_trust = trust(k)
    case.mutate(k.bundle, k)
    report = verify.verify_bundle(k.bundle, trust=real_trust)
    assert case.must <= rules(report) <= case.must | case.may, [str(f) for f in report.failures]


def test_untouched_bundle_verifies() -> None:
    k = kit()
    report = verify.verify_bundle(k.bundle, trust=trust(k))
    assert report.ok
    assert report.failures == ()
    assert report.warnings == ()


def test_without_trust_set_it_verifies_with_a_warning_and_fingerprints() -> None:
    k = kit()
    report = verify.verify_bundle(k.bundle)
    assert report.ok
    [warning] = report.warnings
    assert "no trust set" in warning
    assert k.bundle["log_key"] in warning  # the CLI prints warnings: fingerprints are in it
    assert any(k.bundle["log_key"] in f for f in report.fingerprints)
    for key, _ in k.record_keys:
        assert any(key.key_id in f for f in report.fingerprints)


def test_consistent_forgery_with_fresh_keys_passes_only_without_trust() -> None:
    real = kit()
    forged = build_bundle(seed=7, key_seed=4242)
    alone = verify.verify_bundle(forged.bundle)
    assert alone.ok
    assert alone.warnings
    report = verify.verify_bundle(forged.bundle, trust=trust(real))
    assert rules(report) == {0}
    assert {f.error for f in report.failures} == {"UntrustedKey"}


def test_bundle_with_erased_payloads_verifies() -> None:
    k = kit()
    for entry in k.bundle["entries"][:MIDDLE]:
        entry["payload"] = entry["salt"] = None
    assert verify.verify_bundle(k.bundle, trust=trust(k)).ok


def test_half_erased_payload_fails_rule_5() -> None:
    k = kit()
    k.bundle["entries"][MIDDLE]["salt"] = None
    assert rules(verify.verify_bundle(k.bundle)) == {5}


def test_removed_tail_is_not_detectable_offline() -> None:
    """A KNOWN LIMITATION, stated so nobody relies on it: dropping the newest records
    leaves a shorter chain that is itself valid and whose leaves are still in the log.
    The bundle format has no commitment to the chain head, so only a check against the
    log (`orderledger audit`, or a later bundle/the auditor's earlier one that shows
    more records) can find it. This test keeps that fact visible."""
    k = kit()
    del k.bundle["entries"][-1]
    assert verify.verify_bundle(k.bundle, trust=trust(k)).ok


def test_every_failure_is_reported_not_just_the_first() -> None:
    k = kit()
    change_payload(k.bundle, k)
    change_signature(k.bundle, k)
    alter_inclusion_proof(k.bundle, k)
    report = verify.verify_bundle(k.bundle)
    assert {3, 5, 7} <= rules(report)
    assert all(f.entry == MIDDLE for f in report.failures)
    assert {f.error for f in report.failures} >= {"BadSignature", "BadPayloadDigest",
                                                  "BadInclusionProof"}


# --- rule 8 ---------------------------------------------------------------------------

def test_consistency_between_old_and_new_checkpoint_verifies() -> None:
    k = kit()
    report = verify.verify_bundle(k.bundle, trust=trust(k), old_checkpoint=k.old_checkpoint,
                                  consistency_proof=k.consistency_proof)
    assert report.ok, [str(f) for f in report.failures]


def test_same_checkpoint_is_consistent_without_a_proof() -> None:
    k = kit()
    report = verify.verify_bundle(k.bundle, old_checkpoint=k.bundle["checkpoint"])
    assert report.ok


def _flip_first_proof_hash(p: dict[str, Any]) -> None:
    p["proof"][0] = ("f" if p["proof"][0][0] != "f" else "e") + p["proof"][0][1:]


CONSISTENCY_TAMPERS: list[tuple[str, Callable[[BundleKit], None]]] = [
    ("proof hash flipped", lambda k: _flip_first_proof_hash(k.consistency_proof)),
    ("proof truncated", lambda k: k.consistency_proof["proof"].pop()),
    ("old size misstated", lambda k: k.consistency_proof.update(old_size=3)),
    ("old checkpoint forged by another key", lambda k: setattr(
        k, "old_checkpoint",
        Checkpoint.parse(k.old_checkpoint).sign(deterministic_key(5, "log", "log")))),
    ("old root rewritten and re-signed", lambda k: setattr(
        k, "old_checkpoint",
        Checkpoint(ORIGIN, k.consistency_proof["old_size"], b"\x09" * 32).sign(k.log_key))),
    ("proof is not an object", lambda k: setattr(k, "consistency_proof", ["deadbeef"])),
]


@pytest.mark.parametrize(("name", "tamper"), CONSISTENCY_TAMPERS,
                         ids=[n for n, _ in CONSISTENCY_TAMPERS])
def test_tampered_consistency_fails_rule_8(name: str, tamper: Callable[[BundleKit], None]) -> None:
    k = kit()
    tamper(k)
    report = verify.verify_bundle(k.bundle, trust=trust(k), old_checkpoint=k.old_checkpoint,
                                  consistency_proof=k.consistency_proof)
    assert rules(report) == {8}, [str(f) for f in report.failures]


def test_consistency_proof_without_old_checkpoint_fails_rule_8() -> None:
    k = kit()
    report = verify.verify_bundle(k.bundle, consistency_proof=k.consistency_proof)
    assert rules(report) == {8}


# --- unreadable input, trust set parsing -------------------------------------------------

@pytest.mark.parametrize(
    ("name", "bundle"),
    [("a list", []), ("a string", "bundle"), ("entries missing", {"format": "x"}),
     ("entries not objects", {"entries": [1, 2]})],
)
def test_unreadable_bundle_raises_malformed(name: str, bundle: object) -> None:
    with pytest.raises(verify.MalformedBundle):
        verify.verify_bundle(bundle)


@pytest.mark.parametrize(
    ("name", "text"),
    [("duplicate keys", '{"entries": [], "entries": []}'), ("NaN", '{"a": NaN}'),
     ("not JSON", "{")],
)
def test_read_json_refuses_ambiguous_json(name: str, text: str) -> None:
    with pytest.raises(verify.MalformedBundle):
        verify.read_json(text)


def test_trust_set_round_trip_and_rejections() -> None:
    k = kit()
    parsed = trust(k)
    assert verify.TrustSet.from_json(parsed.to_json()) == parsed
    broken_sets: list[dict[str, Any]] = [{"keys": []}, {"log_key": k.trust["log_key"]},
                   {"log_key": k.trust["log_key"], "keys": [{"key_id": "x"}]}]
    for broken in broken_sets:
        with pytest.raises(verify.MalformedTrustSet):
            verify.TrustSet.from_json(broken)


def test_published_key_rejects_a_key_id_that_is_not_its_own() -> None:
    k = kit()
    obj = k.bundle["keys"][0]
    assert PublishedKey.from_json(obj).to_json() == obj
    with pytest.raises(ValueError, match="not the id"):
        PublishedKey.from_json(dict(obj, key_id=k.bundle["keys"][1]["key_id"]))


STRING_FIELDS = ["kind", "tenant", "order", "prev", "from", "to", "event", "event_time",
                 "recorded_at", "payload_digest", "model", "rules", "key_id", "log"]


@settings(max_examples=30, deadline=None)
@given(entry=st.integers(0, 11), name=st.sampled_from(STRING_FIELDS),
       position=st.integers(0, 80), char=st.characters(codec="utf-8"))
def test_any_single_character_change_in_a_statement_is_found(
    entry: int, name: str, position: int, char: str
) -> None:
    bundle = copy.deepcopy(_kit().bundle)
    statement = bundle["entries"][entry]["statement"]
    value = statement[name]
    if value is None:
        value = ""
    index = position % (len(value) + 1)
    changed = value[:index] + char + value[index + 1 :]
    if changed == statement[name]:
        changed += char
    statement[name] = changed
    assert not verify.verify_bundle(bundle).ok
