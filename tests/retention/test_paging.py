"""A run reads and writes page by page (plan, archive, erasure, report): the page sizes
change how many queries it makes, never what it does. And the archive is written as it
comes, appearing whole or not at all."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import ledger.retention.runner as runner_module
from ledger.audit import audit_ledger
from ledger.keyring import published_key
from ledger.retention.archive import (
    MANIFEST_FILE,
    RECORDS_FILE,
    ArchiveEntry,
    ArchiveWriter,
    verify_archive,
    write_archive,
)
from ledger.retention.policy import eligibility
from ledger.store import KeyRow
from tests.retention.support import Harness

FAR_FUTURE = datetime(2031, 1, 1, tzinfo=UTC)
STORY = {"a": "happy", "b": "open", "c": "happy", "d": "open", "e": "happy"}


def outcome_of(harness: Harness, run_id: int) -> dict[str, Any]:
    """What a run left, without times, hashes and signatures."""
    archive = harness.data_dir / "archives" / f"run-{run_id}"
    manifest = json.loads((archive / MANIFEST_FILE).read_text())["manifest"]
    lines = [json.loads(line) for line in (archive / RECORDS_FILE).read_text().splitlines()]
    with harness.ledger.recorder.unit_of_work(read_only=True) as uow:
        run = uow.get_retention_run(run_id)
    assert run is not None
    report = run.report or {}
    return {
        "erased": {order: harness.erased(order) for order in STORY},
        "purges": {order: [r.payload["erased_seqs"] for r in harness.chain(order)
                           if r.statement.kind.value == "retention_purge" and r.payload]
                   for order in STORY},
        "manifest": {k: manifest[k] for k in ("records", "orders", "counts")},
        # Proof hashes differ between ledgers (their keys sign differently); their length
        # and the leaf they prove do not.
        "lines": [(line["statement"]["order"], line["statement"]["seq"], line["leaf_index"],
                   len(line["inclusion_proof"]), line["retention"]) for line in lines],
        "report": {k: report.get(k) for k in ("erased", "skipped", "holds")},
    }


def test_pages_of_one_order_give_the_outcome_of_the_default_pages(
    database_url: str, another_database_url: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    default = Harness(database_url, tmp_path / "default")
    small = Harness(another_database_url, tmp_path / "small")
    try:
        for harness in (default, small):
            harness.feed_orders(**STORY)
        [big_pages] = default.run_at(FAR_FUTURE)
        for name in ("PLAN_ORDERS_PER_PAGE", "ARCHIVE_ORDERS_PER_PAGE", "ITEMS_PER_INSERT"):
            monkeypatch.setattr(runner_module, name, 1)
        [one_page] = small.run_at(FAR_FUTURE, per_transaction=2)

        assert one_page.erased == big_pages.erased > 0
        assert outcome_of(small, one_page.run_id) == outcome_of(default, big_pages.run_id)
        for harness, outcome in ((small, one_page), (default, big_pages)):
            assert verify_archive(harness.data_dir / "archives" / f"run-{outcome.run_id}") == []
            assert audit_ledger(harness.ledger.recorder).ok
    finally:
        default.close()
        small.close()


def test_an_archive_cut_short_leaves_nothing_and_a_left_one_is_replaced_whole(
    harness: Harness,
) -> None:
    harness.feed_orders(a="happy", b="happy")
    [outcome] = harness.run_at(FAR_FUTURE)
    archive = harness.data_dir / "archives" / f"run-{outcome.run_id}"
    good = (archive / RECORDS_FILE).read_bytes()
    lines = [json.loads(line) for line in good.decode().splitlines()]

    class Cut(Exception):
        pass

    with pytest.raises(Cut), ArchiveWriter(archive.parent / "run-99"):
        raise Cut
    assert sorted(p.name for p in archive.parent.iterdir()) == [archive.name]

    # An entry out of (tenant, order) order is refused; the staging directory goes away.
    with harness.ledger.recorder.unit_of_work(read_only=True) as uow:
        chains = uow.chains_of([("shop-1", "a"), ("shop-1", "b")])
    def entry(order: str) -> ArchiveEntry:
        line = next(x for x in lines if x["statement"]["order"] == order)
        # The run erased the payload: the archived one stands in.
        record = replace(chains[("shop-1", order)][line["statement"]["seq"]],
                         payload=line["payload"], salt=base64.b64decode(line["salt"]))
        return ArchiveEntry(record, line["leaf_index"],
                            [bytes.fromhex(h) for h in line["inclusion_proof"]],
                            eligibility(record.statement, None))

    with ArchiveWriter(archive.parent / "run-99") as writer:
        writer.add(entry("b"))
        with pytest.raises(ValueError, match="out of order"):
            writer.add(entry("a"))
        writer.abort()
    assert sorted(p.name for p in archive.parent.iterdir()) == [archive.name]
    assert (archive / RECORDS_FILE).read_bytes() == good

    # A directory left by a crashed attempt (renamed, but not recorded) is replaced whole.
    left = archive.parent / "run-77"
    left.mkdir()
    (left / "stray").write_text("half")
    keyring = harness.ledger.keyring
    written = write_archive(
        left, run_id=77, log=harness.ledger.settings.log_origin, reference_time="x",
        created_at=str(lines[0]["statement"]["recorded_at"]), entries=[entry("a")],
        checkpoint=json.loads((archive / MANIFEST_FILE).read_text())["manifest"]["checkpoint"],
        log_key=keyring.log_vkey(), keys=[published_key(k) for k in keyring_rows(harness)],
        signer=keyring.record_key(),
    )
    assert sorted(p.name for p in left.iterdir()) == [MANIFEST_FILE, RECORDS_FILE]
    assert (written.manifest["records"], written.manifest["orders"]) == (1, 1)
    assert verify_archive(left) == []


def keyring_rows(harness: Harness) -> list[KeyRow]:
    with harness.ledger.recorder.unit_of_work(read_only=True) as uow:
        return uow.list_keys()
