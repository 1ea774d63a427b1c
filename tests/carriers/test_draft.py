"""From CarrierEvent to (event, payload fragment): the mapping decides, the schema filters."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from api.carrier_feeds import (
    CHINA_STANDARD_TIME,
    AppendDraft,
    Unmappable,
    parse_aftership_webhook,
    parse_generic_feed,
    parse_kuaidi100_push,
    to_append,
)
from statemodel.carriers.draft import infer_scan_type
from statemodel.carriers.event import CarrierEvent
from statemodel.carriers.mapping import MappingBook, load_mappings
from statemodel.errors import IllegalTransition, PayloadInvalid
from statemodel.machine import get_machine
from tests.carriers.fixtures import (
    AFTERSHIP_SECRET,
    GENERIC_SECRET,
    KUAIDI100_CASES,
    KUAIDI100_SALT,
    fixture_bytes,
    hmac_header,
)

WHEN = datetime(2026, 2, 19, 18, 32, 45, tzinfo=CHINA_STANDARD_TIME)


@pytest.fixture(scope="module")
def book() -> MappingBook:
    return load_mappings()


def _event(
    source: str, code: str, *fallback: str, text: str = "scan", **extra: Any
) -> CarrierEvent:
    return CarrierEvent.build(
        source=source,
        raw_code=code,
        fallback_codes=fallback,
        raw_text=text,
        occurred_at=WHEN,
        waybill_no="78912345678901",
        carrier_code="zhongtong",
        raw_message={"code": code},
        **extra,
    )


def _draft(result: AppendDraft | Unmappable) -> AppendDraft:
    assert isinstance(result, AppendDraft), result
    return result


def _fixture_events() -> list[CarrierEvent]:
    events: list[CarrierEvent] = []
    for case in KUAIDI100_CASES:
        body = fixture_bytes(f"kuaidi100_push_{case}.txt")
        events += parse_kuaidi100_push(body, salt=KUAIDI100_SALT).events
    body = fixture_bytes("aftership_tracking_update.json")
    events += parse_aftership_webhook(
        body,
        {"aftership-hmac-sha256": hmac_header(body, AFTERSHIP_SECRET)},
        secret=AFTERSHIP_SECRET,
    ).events
    body = fixture_bytes("generic_feed_batch.json")
    events += parse_generic_feed(
        body, {"x-orderledger-signature": hmac_header(body, GENERIC_SECRET)}, secret=GENERIC_SECRET
    )
    return events


def test_kuaidi100_hub_scan_gives_a_complete_valid_payload(book: MappingBook) -> None:
    push = parse_kuaidi100_push(fixture_bytes("kuaidi100_push_polling.txt"), salt=KUAIDI100_SALT)
    hub = next(e for e in push.events if e.raw_code == "0")
    draft = _draft(to_append(hub, book))
    assert (draft.event, draft.sub_state, draft.missing_required) == ("hub_scan", "M05.02", ())
    assert draft.payload == {
        "source": {
            "system": "kuaidi100",
            "raw_code": "0",
            "raw_text": "【杭州市】快件已到达【杭州转运中心】",
            "mapping_version": "2026.1",
        },
        "waybill_no": "78912345678901",
        "carrier_code": "zhongtong",
        "hub_name": "杭州转运中心",
        "hub_admin_code": "330110",
        "scan_type": "arrival",
        "scanned_at": "2026-02-19T18:32:45+08:00",
    }
    get_machine(book.catalogue).validate_payload("M05.02", draft.payload)


def test_every_fixture_fragment_only_lacks_required_fields(book: MappingBook) -> None:
    """No fragment carries an undeclared or invalid field: at most required ones are missing."""
    machine = get_machine(book.catalogue)
    drafts = [d for e in _fixture_events() if isinstance(d := to_append(e, book), AppendDraft)]
    assert len(drafts) >= 10
    for draft in drafts:
        assert draft.sub_state is not None
        try:
            machine.validate_payload(draft.sub_state, draft.payload)
        except PayloadInvalid as exc:
            # A root-level choice (M06.02: missing_items or duty_amount) is also the caller's.
            fields = [(p, m) for p, m in exc.errors if p != "payload" or "any of" not in m]
            assert {message for _p, message in fields} == {"missing required actionable field"}
            assert {p.removeprefix("payload.") for p, _m in fields} == set(draft.missing_required)
        else:
            assert draft.missing_required == ()


def test_aftership_2026_subtags_draft_into_their_sub_states(book: MappingBook) -> None:
    body = fixture_bytes("aftership_tracking_update.json")
    events = parse_aftership_webhook(
        body,
        {"aftership-hmac-sha256": hmac_header(body, AFTERSHIP_SECRET)},
        secret=AFTERSHIP_SECRET,
    ).events
    drafts = {e.raw_code: _draft(to_append(e, book)) for e in events}
    fault, documents = drafts["Exception_016"], drafts["Exception_018"]
    assert (fault.event, fault.sub_state) == ("facility_fault", "M09.02")
    assert fault.payload["detected_at"] == "2026-03-29T06:05:00+08:00"
    assert fault.payload["reason_code"] == "carrier_processing"
    assert (documents.event, documents.sub_state) == ("customs_documents_required", "M06.02")
    assert documents.missing_required == ("declaration_no", "submission_deadline_at")
    assert documents.payload["source"]["event_id"] == "7c1e35a2-4d8b-4e6f-9a31-2f0b5c8d9e14"


def test_current_state_picks_the_target_and_refuses_illegal_steps(book: MappingBook) -> None:
    picked = _event("kuaidi100", "103")
    assert _draft(to_append(picked, book, current_state="M04.01")).sub_state == "M04.02"
    with pytest.raises(IllegalTransition):
        to_append(picked, book, current_state="M07.02")


def test_unmappable_and_unknown_codes(book: MappingBook) -> None:
    problem = to_append(_event("kuaidi100", "2"), book)
    assert isinstance(problem, Unmappable)
    assert problem.known
    assert "ambiguous" in problem.reason
    unknown = to_append(_event("kuaidi100", "999", "uncoded"), book)
    assert isinstance(unknown, Unmappable)
    assert not unknown.known
    assert "999, uncoded" in unknown.reason


def test_specific_code_first_then_fallback(book: MappingBook) -> None:
    weather = _draft(to_append(_event("karrio", "reason.weather_delay", "delivery_delayed"), book))
    assert weather.event == "weather_delay"
    status_only = _draft(to_append(_event("karrio", "reason.unknown", "delivery_failed"), book))
    assert (status_only.event, status_only.payload["source"]["raw_code"]) == (
        "delivery_failed",
        "delivery_failed",
    )


def test_mapping_constants_beat_text_inference(book: MappingBook) -> None:
    event = _event("17track", "InTransit_Departure", text="Arrived at Shanghai hub")
    assert _draft(to_append(event, book)).payload["scan_type"] == "departure"
    refused = _draft(to_append(_event("kuaidi100", "203"), book))
    assert refused.payload["fail_reason_code"] == "refused"
    assert refused.payload["responsible_party"] == "BUYER"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("快件已到达【杭州转运中心】", "arrival", id="zh-arrival"),
        pytest.param("快件已从【杭州转运中心】发出", "departure", id="zh-departure"),
        pytest.param("快件到达【杭州转运中心】，准备发往【上海】", None, id="zh-both"),
        pytest.param("Departed Facility in SHENZHEN", "departure", id="en-departure"),
        pytest.param("Processed", None, id="neither"),
    ],
)
def test_scan_type_inference(text: str, expected: str | None) -> None:
    assert infer_scan_type(text) == expected


def test_long_texts_are_cut_to_the_schema_and_odd_values_dropped(book: MappingBook) -> None:
    event = _event(
        "kuaidi100",
        "0",
        text="到达" + "长" * 2100,
        location_name="某" * 120,
        location_admin_code="330110",
        event_id="bad id with spaces",
    )
    draft = _draft(to_append(event, book, received_at=WHEN))
    assert len(draft.payload["source"]["raw_text"]) == 2000
    assert draft.payload["hub_name"] == "某" * 80
    assert "event_id" not in draft.payload["source"]  # outside the catalogue's pattern
    assert draft.payload["source"]["received_at"] == "2026-02-19T18:32:45+08:00"
    lower = CarrierEvent.build(
        source="kuaidi100",
        raw_code="0",
        raw_text="x",
        occurred_at=WHEN,
        waybill_no="sf-1",
        raw_message={},
    )
    assert "waybill_no" not in _draft(to_append(lower, book)).payload  # not a waybill pattern
