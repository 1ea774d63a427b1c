"""The regulation pack in force judges every append: blocks change nothing, flags are
stored as findings linked to the record, facts ride along with the head, and every
statement names the pack it was judged by."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from ledger.compliance import compliance_report
from ledger.service import Ledger
from regulations.errors import RuleViolation
from regulations.registry import pack_in_force
from statemodel.scenarios import scenario
from tests.ledger.support import NOW, open_test_ledger, requests_for, snapshot

HAPPY = scenario("domestic_happy_path")


@pytest.fixture
def ledger(database_url: str, tmp_path: Path) -> Iterator[Ledger]:
    opened = open_test_ledger(database_url, tmp_path / "data")
    yield opened
    opened.close()


def _hub_scan_index() -> int:
    return [i for i, s in enumerate(HAPPY.steps) if s.event == "hub_scan"][1]


def test_statements_name_the_pack_in_force(ledger: Ledger) -> None:
    record = ledger.appender.append(requests_for(HAPPY, steps=1)[0]).record
    assert record.statement.rules == str(pack_in_force(NOW))


def test_a_blocking_rule_refuses_the_append_and_changes_nothing(
    ledger: Ledger, database_url: str
) -> None:
    n = _hub_scan_index()
    for request in requests_for(HAPPY, steps=n):
        ledger.appender.append(request)
    before = snapshot(database_url)
    scan = requests_for(HAPPY, steps=n + 1)[n]
    # A raw mainland mobile number in a free-text field: PIPL minimisation blocks it.
    leaking = replace(scan, payload={**scan.payload, "next_node_name": "联系 13800138000"})

    with pytest.raises(RuleViolation) as raised:
        ledger.appender.append(leaking)

    assert raised.value.rule_id.startswith("CN-PII")
    assert "payload.next_node_name" in str(raised.value)
    assert snapshot(database_url) == before


def test_a_flagging_rule_accepts_the_record_and_stores_the_finding(ledger: Ledger) -> None:
    n = _hub_scan_index()
    requests = requests_for(HAPPY, steps=n + 1)
    for request in requests[:n]:
        ledger.appender.append(request)
    early = "2026-03-02T15:10:00+08:00"  # 27 minutes before the previous scan
    late_scan = replace(requests[n], event_time=early,
                        payload={**requests[n].payload, "scanned_at": early})

    appended = ledger.appender.append(late_scan)

    assert [f.rule_id for f in appended.findings] == ["CN-TIME-001"]
    with ledger.recorder.unit_of_work() as uow:
        stored = uow.list_findings(tenant="shop-1")
    assert [(f.record_id, f.seq, f.rule_id, f.severity) for f in stored] == [
        (appended.record.record_id, n, "CN-TIME-001", "flag")]
    report = compliance_report(ledger.recorder)
    assert report["shop-1"].findings_by_rule == {"CN-TIME-001": 1}
    assert report["shop-1"].sub_states["M05.02"].findings == 1


def test_order_facts_ride_with_the_head(ledger: Ledger) -> None:
    for request in requests_for(HAPPY):
        ledger.appender.append(request)
    with ledger.recorder.unit_of_work() as uow:
        head = uow.get_head("shop-1", "order-1")
    assert head is not None
    assert head.facts is not None
    signed = next(s for s in HAPPY.steps if s.event == "signed")
    assert head.facts["delivered_at"].startswith(signed.payload["signed_at"][:10])


def test_a_clean_lifecycle_has_complete_required_fields_and_no_findings(ledger: Ledger) -> None:
    for request in requests_for(HAPPY):
        ledger.appender.append(request)
    figures = compliance_report(ledger.recorder)["shop-1"]
    assert figures.orders == 1
    assert figures.records == len(HAPPY.steps)
    assert not figures.findings_by_rule
    for code, cell in figures.sub_states.items():
        share = cell.to_json()["completeness"]
        assert share is not None, code
        assert 0 < share <= 1, code
