"""The order-facts fold: what it remembers, its JSON form, and its purity."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from regulations.facts import OrderFacts, cooling_off_end, required_range
from statemodel.canonical import canonical_json
from tests.regulations.lifecycle import (
    HAPPY,
    RECEIVED_AT,
    SIGNED_AT,
    T0,
    case,
    facts_after,
    happy_run,
    iso,
    propose,
)

FINAL = facts_after("M12.03")


def test_initial_facts_are_empty() -> None:
    facts = OrderFacts.initial()
    assert facts.records == 0
    assert facts.current_state is None
    assert facts.latest_event_time is None


@pytest.mark.parametrize(
    ("name", "attribute", "expected"),
    [
        ("every record counted", "records", len(HAPPY)),
        ("current state", "current_state", "M12.03"),
        ("placed at seq 0", "placed_at", T0),
        ("paid_at from the payment payload", "paid_at", T0 + timedelta(minutes=5)),
        ("signature is the delivery time", "delivered_at", SIGNED_AT),
        ("delivery by the recipient", "delivery_state", "M08.01"),
        ("7 days from signature", "cooling_off_ends_at", SIGNED_AT + timedelta(days=7)),
        ("no-reason return remembered", "return_request_type", "no_reason_7day"),
        ("return requested", "return_requested_at", SIGNED_AT + timedelta(days=2)),
        ("return received", "return_received_at", RECEIVED_AT),
        ("inspection result", "return_inspection_result", "intact"),
        ("refund due 7 days after receipt", "refund_due_at", RECEIVED_AT + timedelta(days=7)),
        ("refund time from resolved_at", "refunded_at", RECEIVED_AT + timedelta(days=2)),
        ("closed on completion", "closed_at", RECEIVED_AT + timedelta(days=3)),
        ("completed_at from the payload", "completed_at", RECEIVED_AT + timedelta(days=3)),
        ("latest event", "latest_event_time", RECEIVED_AT + timedelta(days=33)),
        ("no cold chain", "cold_chain_range_c", None),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_fold_over_the_happy_order(name: str, attribute: str, expected: object) -> None:
    assert getattr(FINAL, attribute) == expected


def test_states_visited_in_order_without_repeats() -> None:
    assert FINAL.states_visited == tuple(p.to_state for p, _ in happy_run())


def test_advance_is_pure() -> None:
    proposal, before = case("M08.01")
    snapshot = before.to_json()
    after = before.advance(proposal)
    assert before.to_json() == snapshot
    assert after is not before
    assert before.advance(proposal) == after


def test_non_transition_records_only_count() -> None:
    facts = facts_after("M05.02")
    breach = propose("sla_breach", "M05.02", T0 + timedelta(days=9), {}, to_state="M05.02",
                     kind="sla_breach")
    advanced = facts.advance(breach)
    assert advanced == replace(facts, records=facts.records + 1)


def test_latest_event_time_is_a_high_water_mark() -> None:
    proposal, facts = case("M05.02")
    earlier = replace(proposal, event_time=proposal.event_time - timedelta(days=1))
    advanced = facts.advance(earlier)
    assert advanced.latest_event_time == facts.latest_event_time
    assert advanced.last_event_time == earlier.event_time


def test_first_signature_stays_the_delivery_time() -> None:
    again = propose("signed", "M07.02", SIGNED_AT + timedelta(days=1),
                    {"signed_at": iso(SIGNED_AT + timedelta(days=1))})
    assert FINAL.advance(again).delivered_at == SIGNED_AT


def test_platform_may_extend_but_not_shorten_the_window() -> None:
    longer, facts = case("M08.03", set_={"window_end_at": iso(SIGNED_AT + timedelta(days=10))})
    assert facts.advance(longer).cooling_off_ends_at == SIGNED_AT + timedelta(days=10)
    shorter, facts = case("M08.03", set_={"window_end_at": iso(SIGNED_AT + timedelta(days=5))})
    assert facts.advance(shorter).cooling_off_ends_at == SIGNED_AT + timedelta(days=7)


@pytest.mark.parametrize(
    ("name", "reason", "confirmed", "excluded"),
    [
        ("statutory category needs no confirmation", "perishable", None, True),
        ("confirmed before payment", "consumer_confirmed_unsuitable", T0, True),
        ("confirmed after payment", "consumer_confirmed_unsuitable", SIGNED_AT, False),
        ("never confirmed", "consumer_confirmed_unsuitable", None, False),
        ("no exclusion", None, None, False),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_cooling_off_exclusion(name: str, reason: str | None, confirmed: datetime | None,
                               excluded: bool) -> None:
    payload: dict[str, object] = {"eligible": reason is None}
    if reason is not None:
        payload["exclusion_reason_code"] = reason
    if confirmed is not None:
        payload["exclusion_confirmed_at"] = iso(confirmed)
    proposal, facts = case("M08.03", set_=payload)
    assert facts.advance(proposal).cooling_off_excluded is excluded


def test_in_cooling_off_is_half_open() -> None:
    facts = facts_after("M08.03")
    assert facts.in_cooling_off(SIGNED_AT)
    assert not facts.in_cooling_off(SIGNED_AT - timedelta(seconds=1))
    assert not facts.in_cooling_off(SIGNED_AT + timedelta(days=7))
    assert not OrderFacts.initial().in_cooling_off(SIGNED_AT)


def test_cooling_off_end_counts_seven_times_24_hours() -> None:
    signed = datetime(2026, 3, 5, 14, 30, tzinfo=UTC)
    assert cooling_off_end(signed) == datetime(2026, 3, 12, 14, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "payload", "expected"),
    [
        ("min and max", {"required_min_c": 2, "required_max_c": 8}, (2.0, 8.0)),
        ("range list", {"required_range_c": [0, 4]}, (0.0, 4.0)),
        ("range object", {"required_range_c": {"min": -25, "max": -18}}, (-25.0, -18.0)),
        ("chilled class", {"temp_class": "chilled_0_4c"}, (0.0, 4.0)),
        ("frozen class", {"temp_class": "frozen_minus18c"}, (-100.0, -18.0)),
        ("ambient has none", {"temp_class": "ambient"}, None),
        ("inverted range", {"required_min_c": 8, "required_max_c": 2}, None),
        ("nothing declared", {}, None),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_required_range(name: str, payload: dict[str, object],
                        expected: tuple[float, float] | None) -> None:
    assert required_range(payload) == expected


def test_declared_range_is_remembered() -> None:
    packed, facts = case("M03.02", set_={"temp_class": "chilled_2_8c", "logger_id": "LG-7781"})
    assert facts.advance(packed).cold_chain_range_c == (2.0, 8.0)


def test_json_round_trip_of_every_step() -> None:
    for proposal, before in happy_run():
        after = before.advance(proposal)
        document = after.to_json()
        assert OrderFacts.from_json(document) == after
        assert all(value is None or value.endswith("Z")
                   for key, value in document.items() if key.endswith(("_at", "_time")))


@pytest.mark.parametrize(
    ("name", "document", "message"),
    [
        ("unknown key", {"records": 1, "surprise": 2}, "unknown order-facts fields"),
        ("bad time", {"placed_at": "yesterday"}, "placed_at"),
        ("naive time", {"placed_at": "2026-03-02T10:00:00"}, "placed_at"),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_from_json_refuses_bad_documents(name: str, document: dict[str, object],
                                         message: str) -> None:
    with pytest.raises(ValueError, match=message):
        OrderFacts.from_json(document)


@settings(max_examples=40, deadline=None)
@given(
    offsets=st.lists(st.integers(min_value=-3 * 24 * 60, max_value=3 * 24 * 60), max_size=12),
    start=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 1, 1),
                       timezones=st.just(UTC)),
)
def test_fold_of_any_scan_sequence_round_trips(offsets: list[int], start: datetime) -> None:
    facts = facts_after("M05.02")
    for minutes in offsets:
        scan = propose("hub_scan", "M05.02", start + timedelta(minutes=minutes),
                       {"scanned_at": iso(start)}, to_state="M05.02")
        facts = facts.advance(scan)
    assert OrderFacts.from_json(facts.to_json()) == facts
    assert facts.records == len(HAPPY[:10]) + len(offsets)


#: Any code point, lone surrogates included (hypothesis leaves them out by default).
_ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=12)
_TEXT = st.one_of(st.none(), st.sampled_from(['"', "\\", "\n\x00\x7f", "😀", "\ud800"]),
                  _ANY_TEXT)
_TIME = st.one_of(st.none(), st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=8)), timezone(timedelta(0))])))


@settings(max_examples=300, deadline=None)
@given(
    records=st.integers(min_value=-(2**60), max_value=2**60),
    texts=st.tuples(*[_TEXT] * 5),
    times=st.tuples(*[_TIME] * 13),
    visited=st.lists(_ANY_TEXT, max_size=4).map(tuple),
    cold=st.one_of(st.none(), st.tuples(st.floats(allow_nan=False, width=32),
                                        st.floats(allow_nan=False, width=32))),
)
def test_canonical_text_is_the_rfc_8785_text_of_the_json_form(
    records: int, texts: tuple[str | None, ...], times: tuple[datetime | None, ...],
    visited: tuple[str, ...], cold: tuple[float, float] | None,
) -> None:
    """`canonical_text` writes field by field what canonical_json writes of `to_json()`,
    and refuses (ValueError) what it refuses."""
    text_fields = ("current_state", "delivery_state", "exclusion_reason_code",
                   "return_request_type", "return_inspection_result")
    time_fields = tuple(n for n in OrderFacts().__dict__
                        if n not in (*text_fields, "records", "states_visited",
                                     "cold_chain_range_c"))
    assert len(time_fields) == len(times)
    changes: dict[str, Any] = {"records": records, "states_visited": visited,
                               "cold_chain_range_c": cold,
                               **dict(zip(text_fields, texts, strict=True)),
                               **dict(zip(time_fields, times, strict=True))}
    facts = replace(OrderFacts(), **changes)
    try:
        expected = canonical_json(facts.to_json()).decode()
    except ValueError:
        with pytest.raises(ValueError):
            facts.canonical_text()
    else:
        assert facts.canonical_text() == expected


def test_canonical_text_of_every_step_of_the_happy_order() -> None:
    for proposal, before in happy_run():
        after = before.advance(proposal)
        assert after.canonical_text() == canonical_json(after.to_json()).decode()
