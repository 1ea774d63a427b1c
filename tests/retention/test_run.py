"""Retention runs on both backends: the exact boundaries, what a run leaves behind
(archive, bundles, audit, report), tampering found, and a dry run that changes nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from ledger.audit import audit_ledger
from ledger.errors import InvalidInput
from ledger.export import export_bundle
from ledger.keyring import published_key
from ledger.retention.archive import RECORDS_FILE, verify_archive
from ledger.retention.report import report_verifies
from ledger.verify import TrustSet, verify_bundle
from regulations.retention import add_months
from tests.ledger.support import snapshot, tamper
from tests.retention.support import (
    HAPPY,
    OPEN,
    TENANT,
    Harness,
    is_transaction,
    operation_boundary,
    recorded_at,
)

SECOND = timedelta(seconds=1)
OPERATION_SEQS = [i for i, s in enumerate(OPEN.steps) if not is_transaction(s.expect)]
HAPPY_OPERATION_SEQS = [i for i, s in enumerate(HAPPY.steps) if not is_transaction(s.expect)]
COMPLETION_SEQ = next(i for i, s in enumerate(HAPPY.steps) if s.expect == "M12.02")
FAR_FUTURE = datetime(2031, 1, 1, tzinfo=UTC)


def test_an_operation_record_is_kept_until_exactly_18_months_after_it_was_recorded(
    harness: Harness,
) -> None:
    harness.feed_orders(o="open")
    first = OPERATION_SEQS[0]
    boundary = operation_boundary(harness, "o", first)
    assert recorded_at(harness, "o", OPERATION_SEQS[1]) > recorded_at(harness, "o", first)

    cases = [("one second before", -SECOND, []), ("at the boundary", timedelta(0), [first]),
             ("one second after", SECOND, [first])]
    for name, offset, expected in cases:
        harness.run_at(boundary + offset)
        assert harness.erased("o") == expected, name

    # Transaction records of an order that never closed are kept however late it gets.
    harness.run_at(FAR_FUTURE)
    assert harness.erased("o") == OPERATION_SEQS
    assert audit_ledger(harness.ledger.recorder).ok


def test_transaction_records_are_kept_until_exactly_3_years_after_completion(
    harness: Harness,
) -> None:
    harness.feed_orders(o="happy")
    boundary = add_months(recorded_at(harness, "o", COMPLETION_SEQ), 36)

    harness.run_at(boundary - SECOND)
    assert harness.erased("o") == HAPPY_OPERATION_SEQS

    harness.run_at(boundary)
    assert harness.erased("o") == list(range(len(HAPPY.steps)))
    purges = [r for r in harness.chain("o") if r.statement.kind.value == "retention_purge"]
    assert [r.payload is not None for r in purges] == [True, True]  # purge records stay
    assert purges[-1].payload is not None
    assert purges[-1].payload["erased_seqs"] == [
        i for i in range(len(HAPPY.steps)) if i not in HAPPY_OPERATION_SEQS
    ]
    assert {e["record_class"] for e in purges[-1].payload["erased"]} == {"transaction"}
    assert audit_ledger(harness.ledger.recorder).ok


def test_after_a_run_bundles_audit_archive_and_report_all_verify(harness: Harness) -> None:
    harness.feed_orders(done="happy", going="open")
    [outcome] = harness.run_at(FAR_FUTURE)
    trust = TrustSet.from_json(harness.ledger.keyring.trust_set())

    for order in ("done", "going"):
        bundle = export_bundle(harness.ledger, TENANT, order)
        report = verify_bundle(bundle, trust=trust)
        assert report.ok, report.failures
        assert not [w for w in report.warnings if "payload erased" in w]
        erased = [e for e in bundle["entries"] if e["payload"] is None]
        assert [e["salt"] for e in erased] == [None] * len(erased)
        assert [e["statement"]["seq"] for e in erased] == harness.erased(order)
    assert audit_ledger(harness.ledger.recorder).ok

    archive = harness.data_dir / "archives" / f"run-{outcome.run_id}"
    assert verify_archive(archive, trust=trust) == []
    lines = (archive / RECORDS_FILE).read_text().splitlines()
    assert len(lines) == outcome.erased == len(HAPPY.steps) + len(OPERATION_SEQS)

    with harness.ledger.recorder.unit_of_work(read_only=True) as uow:
        run = uow.get_retention_run(outcome.run_id)
        keys = {row.key_id: published_key(row) for row in uow.list_keys()}
    assert run is not None
    assert run.state == "finished"
    assert run.report == outcome.report
    assert run.report is not None
    assert run.report_signature is not None
    assert run.key_id is not None
    assert report_verifies(run.report, run.report_signature, keys[run.key_id],
                           signed_at=run.finished_at or "")
    assert run.report["erased"]["by_tenant"] == {
        TENANT: {"operation": len(HAPPY_OPERATION_SEQS) + len(OPERATION_SEQS),
                 "transaction": len(HAPPY.steps) - len(HAPPY_OPERATION_SEQS)},
    }
    assert run.report["erased"]["oldest"]["seq"] == 0
    forged = {**run.report, "erased": {**run.report["erased"], "records": 0}}
    assert not report_verifies(forged, run.report_signature, keys[run.key_id],
                               signed_at=run.finished_at or "")


def test_a_changed_archive_does_not_verify(harness: Harness) -> None:
    harness.feed_orders(o="happy")
    [outcome] = harness.run_at(FAR_FUTURE)
    archive = harness.data_dir / "archives" / f"run-{outcome.run_id}"
    records = archive / RECORDS_FILE
    lines = records.read_text().splitlines()
    first = json.loads(lines[0])
    first["payload"] = {**first["payload"], "forged": True}
    records.write_text("\n".join([json.dumps(first), *lines[1:]]) + "\n")

    problems = verify_archive(archive)

    assert "records file does not match records_sha256 of the manifest" in problems
    assert "line 1: payload and salt do not match payload_digest" in problems


def test_a_payload_erased_in_the_database_is_reported_even_beside_lawful_erasures(
    harness: Harness,
) -> None:
    harness.feed_orders(o="open")
    harness.run_at(FAR_FUTURE)  # erases the operation records, with a purge record
    assert audit_ledger(harness.ledger.recorder).ok

    tamper(
        harness.url,
        "UPDATE payloads SET payload = NULL, salt = NULL WHERE record_id = "
        "(SELECT id FROM records WHERE tenant = :t AND order_id = 'o' AND seq = 0)",
        t=TENANT,
    )

    report = audit_ledger(harness.ledger.recorder)
    assert [(p.order, p.seq, p.check) for p in report.problems] == [("o", 0, "payload")]
    assert "without a retention_purge record" in report.problems[0].message
    bundle = export_bundle(harness.ledger, TENANT, "o")
    verified = verify_bundle(bundle)
    assert verified.ok  # §7: an erased payload verifies; the verifier only warns
    assert [w for w in verified.warnings if "payload erased" in w] == [
        "entry 0: payload erased, but no later retention_purge entry names its seq"
    ]


def test_a_dry_run_says_what_and_why_and_changes_nothing(harness: Harness) -> None:
    harness.feed_orders(o="open")
    boundary = operation_boundary(harness, "o", OPERATION_SEQS[0])
    harness.clock.set(boundary)
    before = snapshot(harness.url)

    plan = harness.runner().plan()

    assert [c.record.statement.seq for c in plan.candidates] == [OPERATION_SEQS[0]]
    [line] = plan.lines()
    assert line.startswith(f"erase {TENANT}/o seq {OPERATION_SEQS[0]} ")
    assert "operation record, kept 18 months from recorded_at" in line
    assert snapshot(harness.url) == before
    with harness.ledger.recorder.unit_of_work(read_only=True) as uow:
        assert uow.list_retention_runs() == []
    assert not (harness.data_dir / "archives").exists()


def test_a_run_may_not_judge_later_than_the_clock(harness: Harness) -> None:
    harness.feed_orders(o="open")
    before = snapshot(harness.url)

    with pytest.raises(InvalidInput) as refused:
        harness.runner().run(harness.clock.now() + SECOND)

    assert refused.value.field == "now"
    assert snapshot(harness.url) == before
