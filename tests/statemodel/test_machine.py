"""The order machine: every declared edge, every undeclared pair, scenarios, payloads."""

from __future__ import annotations

import copy
import threading
from typing import Any

import pytest

from statemodel.catalogue import catalogue_from_document, load_catalogue
from statemodel.errors import (
    IllegalTransition,
    InvalidInput,
    PayloadInvalid,
    UnknownEvent,
    UnknownState,
)
from statemodel.machine import OrderMachine, get_machine
from statemodel.scenarios import SCENARIOS, Scenario

CAT = load_catalogue()
EDGES = sorted(CAT.edges())
DECLARED = {(event, source): target for event, source, target in EDGES}


@pytest.fixture(scope="module")
def machine() -> OrderMachine:
    return get_machine(CAT)


@pytest.mark.parametrize(("event", "source", "target"), EDGES,
                         ids=[f"{s}-{e}" for e, s, _ in EDGES])
def test_every_declared_edge(machine: OrderMachine, event: str, source: str,
                             target: str) -> None:
    assert machine.target(source, event) == target
    assert machine.is_edge(source, event, target)
    assert event in machine.allowed_events(source)


def test_wildcard_reaches_every_non_final_state_and_no_final_one(machine: OrderMachine) -> None:
    for code, sub in CAT.sub_states.items():
        if sub.final:
            with pytest.raises(IllegalTransition):
                machine.target(code, "order_voided")
        else:
            assert machine.target(code, "order_voided") == "M12.01"


def test_every_undeclared_pair_is_illegal(machine: OrderMachine) -> None:
    checked = 0
    for state in CAT.sub_states:
        for event in CAT.events:
            if (event, state) in DECLARED:
                continue
            with pytest.raises(IllegalTransition) as caught:
                machine.target(state, event)
            assert caught.value.state == state
            assert caught.value.event == event
            assert state in str(caught.value)
            assert repr(event) in str(caught.value)
            assert not machine.is_edge(state, event, "M12.01")
            checked += 1
    assert checked == len(CAT.sub_states) * len(CAT.events) - len(DECLARED)


def test_illegal_transition_lists_the_allowed_events(machine: OrderMachine) -> None:
    with pytest.raises(IllegalTransition) as caught:
        machine.target("M01.01", "hub_scan")
    assert str(caught.value) == (
        "event 'hub_scan' is not allowed in sub-state M01.01 (Awaiting payment); allowed "
        "there: order_cancelled, order_voided, payment_captured, payment_expired"
    )
    assert caught.value.field == "event"


def test_final_state_says_nothing_leaves_it(machine: OrderMachine) -> None:
    with pytest.raises(IllegalTransition, match="it is final, no event leaves it"):
        machine.target("M12.03", "order_voided")
    assert machine.allowed_events("M12.03") == []


@pytest.mark.parametrize(("event", "target"), [("order_placed", "M01.01"),
                                               ("order_placed_paid", "M01.02"),
                                               ("cod_order_placed", "M02.01")])
def test_creation(machine: OrderMachine, event: str, target: str) -> None:
    assert machine.target(None, event) == target
    assert machine.is_initial(target)


def test_non_creation_event_cannot_create(machine: OrderMachine) -> None:
    with pytest.raises(IllegalTransition, match="creation events: cod_order_placed, "
                                                "order_placed, order_placed_paid"):
        machine.target(None, "hub_scan")
    assert machine.allowed_events(None) == ["cod_order_placed", "order_placed",
                                            "order_placed_paid"]


def test_creation_event_is_not_a_transition(machine: OrderMachine) -> None:
    with pytest.raises(IllegalTransition):
        machine.target("M01.01", "order_placed")


UNKNOWN = [
    ("unknown state", "M99.01", "hub_scan", UnknownState, "state"),
    ("unknown event", "M05.02", "beamed_up", UnknownEvent, "event"),
    ("unknown event at creation", None, "beamed_up", UnknownEvent, "event"),
    ("main code is not a sub-state", "M05", "hub_scan", UnknownState, "state"),
]


@pytest.mark.parametrize(("state", "event", "error", "field"), [u[1:] for u in UNKNOWN],
                         ids=[u[0] for u in UNKNOWN])
def test_unknown_names(machine: OrderMachine, state: str | None, event: str,
                       error: type[InvalidInput], field: str) -> None:
    with pytest.raises(error) as caught:
        machine.target(state, event)
    assert caught.value.field == field


def test_queries(machine: OrderMachine) -> None:
    assert machine.main_of("M09.02") == "M09"
    assert machine.is_final("M12.03")
    assert not machine.is_final("M12.01")
    assert machine.is_initial("M02.01")
    assert not machine.is_initial("M02.02")
    assert machine.allowed_events("M05.02") == sorted(
        e for e, s in DECLARED if s == "M05.02")
    with pytest.raises(UnknownState):
        machine.main_of("M13.01")


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_lifecycle_scenario(machine: OrderMachine, scenario: Scenario) -> None:
    state: str | None = None
    for index, step in enumerate(scenario.steps):
        state = machine.target(state, step.event)
        assert state == step.expect, f"step {index} ({step.event})"
        machine.validate_payload(state, dict(step.payload))
    assert scenario.steps[0].expect in {c.to for c in CAT.creations}


def test_scenarios_cover_the_named_lifecycles() -> None:
    names = {s.name for s in SCENARIOS}
    assert {"domestic_happy_path", "cross_border_documents_missing_then_released",
            "weather_delay_then_recovery", "failed_delivery_then_locker_then_signed",
            "proxy_signature", "return_within_cooling_off_then_refund",
            "installation_after_delivery", "cancellation_before_shipping",
            "cold_chain_breach"} <= names


# ---------------------------------------------------------------- payloads

HUB_SCAN: dict[str, Any] = {
    "waybill_no": "DB7700123456789", "carrier_code": "deppon", "hub_name": "上海虹桥分拨中心",
    "hub_admin_code": "310112", "scan_type": "arrival", "scanned_at": "2026-03-02T15:37:00+08:00",
}
DOCS_REQUIRED: dict[str, Any] = {
    "declaration_no": "223320261000123456", "submission_deadline_at": "2026-03-05T17:00:00+08:00",
    "missing_items": [{"doc_type": "commercial_invoice", "page": 3, "field": "HS code"}],
}


def _without(payload: dict[str, Any], name: str) -> dict[str, Any]:
    return {k: v for k, v in payload.items() if k != name}


def _with(payload: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**copy.deepcopy(payload), **changes}


BAD_PAYLOADS = [
    ("missing actionable field", "M05.02", _without(HUB_SCAN, "scanned_at"),
     "payload.scanned_at", "missing required actionable field"),
    ("wrong type", "M05.02", _with(HUB_SCAN, hub_admin_code=310112),
     "payload.hub_admin_code", "310112 is not of type 'string'"),
    ("admin code not six digits", "M05.02", _with(HUB_SCAN, hub_admin_code="31011"),
     "payload.hub_admin_code", "does not match"),
    ("date-time without offset", "M05.02", _with(HUB_SCAN, scanned_at="2026-03-02T15:37:00"),
     "payload.scanned_at", "is not a 'date-time'"),
    ("impossible date", "M05.02", _with(HUB_SCAN, scanned_at="2026-02-30T15:37:00+08:00"),
     "payload.scanned_at", "is not a 'date-time'"),
    ("unknown field", "M05.02", _with(HUB_SCAN, driver_mobile="13812345678"),
     "payload.driver_mobile", "unknown field"),
    ("enum", "M05.02", _with(HUB_SCAN, scan_type="sideways"),
     "payload.scan_type", "is not one of"),
    ("nested missing field", "M06.02", _with(DOCS_REQUIRED, missing_items=[{"page": 3}]),
     "payload.missing_items[0].doc_type", "missing required actionable field"),
    ("nested wrong type", "M06.02", _with(DOCS_REQUIRED, missing_items=[
        {"doc_type": "packing_list"}, {"doc_type": "commercial_invoice", "page": "3"}]),
     "payload.missing_items[1].page", "'3' is not of type 'integer'"),
    ("dependent field", "M06.02", _with(DOCS_REQUIRED, duty_amount="120.00"),
     "payload.currency", "is a dependency of 'duty_amount'"),
    ("bad common source", "M05.02", _with(HUB_SCAN, source={"system": "kuaidi100"}),
     "payload.source.raw_code", "missing required actionable field"),
    ("raw name instead of masked", "M08.02", {
        "waybill_no": "SF1428806573291", "proxy_type": "family_member",
        "proxy_name_masked": "张三", "consent_ref": "CONSENT-1", "pod_hash": "0" * 64,
        "signed_at": "2026-03-04T10:48:00+08:00"},
     "payload.proxy_name_masked", "does not match"),
    ("payload not an object", "M05.02", ["scanned"], "payload", "must be a JSON object"),
]


@pytest.mark.parametrize(("sub_state", "payload", "field", "message"),
                         [b[1:] for b in BAD_PAYLOADS], ids=[b[0] for b in BAD_PAYLOADS])
def test_bad_payload(machine: OrderMachine, sub_state: str, payload: Any, field: str,
                     message: str) -> None:
    with pytest.raises(PayloadInvalid) as caught:
        machine.validate_payload(sub_state, payload)
    assert caught.value.field == field
    assert any(path == field and message in text for path, text in caught.value.errors)
    assert str(caught.value).startswith(f"payload for {sub_state} is invalid: {field}: ")


def test_every_error_is_reported_sorted(machine: OrderMachine) -> None:
    payload = _with(_without(HUB_SCAN, "scan_type"), hub_admin_code="x", extra=1)
    with pytest.raises(PayloadInvalid) as caught:
        machine.validate_payload("M05.02", payload)
    paths = [path for path, _ in caught.value.errors]
    assert paths == ["payload.extra", "payload.hub_admin_code", "payload.scan_type"]
    assert "(and 2 more)" in str(caught.value)


def test_valid_payload_with_common_fields(machine: OrderMachine) -> None:
    payload = _with(HUB_SCAN, reason_code="weather_delay", note="延误后恢复", source={
        "system": "kuaidi100", "raw_code": "0", "raw_text": "快件已到达【上海虹桥分拨中心】",
        "mapping_version": "2026.1", "received_at": "2026-03-02T07:37:05Z", "event_id": "e-1"})
    machine.validate_payload("M05.02", payload)  # raises nothing


def test_validate_payload_of_unknown_state(machine: OrderMachine) -> None:
    with pytest.raises(UnknownState):
        machine.validate_payload("M05.07", HUB_SCAN)


# ---------------------------------------------------------------- sharing


def test_machine_is_shared_per_digest() -> None:
    assert get_machine(CAT) is get_machine(load_catalogue())
    doc = CAT.document
    doc["version"] = "2026.9"
    other = catalogue_from_document(doc)
    assert get_machine(other) is not get_machine(CAT)
    assert get_machine(other).digest == other.digest != CAT.digest


def test_machine_is_built_once_under_concurrency() -> None:
    doc = CAT.document
    doc["version"] = "2026.8"
    fresh = catalogue_from_document(doc)
    seen: list[OrderMachine] = []
    barrier = threading.Barrier(8)

    def build() -> None:
        barrier.wait()
        seen.append(get_machine(fresh))

    threads = [threading.Thread(target=build) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 8
    assert all(m is seen[0] for m in seen)
