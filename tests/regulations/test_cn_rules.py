"""Every rule of cn-fulfilment-2026@1.0.0: named cases that make it fire and keep it quiet.

Each case takes a step of the lawful lifecycle (tests/regulations/lifecycle.py), bends
what the rule is about, and evaluates that one rule. `test_every_rule_has_both_cases`
makes sure no rule is left without a firing and a quiet case.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import pytest

from regulations.facts import OrderFacts
from regulations.model import Pack, Severity
from regulations.proposal import Proposal
from regulations.registry import get_pack
from tests.regulations.lifecycle import (
    POD_HASH,
    RECEIVED_AT,
    SIGNED_AT,
    T0,
    after,
    case,
    facts_after,
    iso,
    propose,
)

PACK: Pack = get_pack("cn-fulfilment-2026@1.0.0")
Built = tuple[Proposal, OrderFacts]


@dataclass(frozen=True)
class RuleCase:
    name: str
    rule_id: str
    build: Callable[[], Built]
    fires: bool
    field: str | None = None


# --- steps outside the happy path --------------------------------------------------

def deposit(**payload: Any) -> Built:
    """M07.02 -> M07.03: placed in a locker."""
    at = T0 + timedelta(hours=75)
    body = {"point_id": "LK-8812", "point_type": "smart_locker",
            "point_name": "丰巢 嘉禾望岗 3号柜",
            "pickup_code_hash": POD_HASH, "consent_ref": "CNS-20260305-991",
            "deposited_at": iso(at), "hold_until": iso(at + timedelta(days=2))}
    return propose("deposited_at_point", "M07.02", at, {**body, **payload}), facts_after("M07.02")


def proxy_signature(**payload: Any) -> Built:
    """M07.02 -> M08.02: signed by the reception desk."""
    body = {"waybill_no": "SF1234567890123", "proxy_type": "reception_desk",
            "consent_ref": "CNS-20260305-992", "signed_at": iso(SIGNED_AT), "pod_hash": POD_HASH}
    proposal = propose("signed_by_proxy", "M07.02", SIGNED_AT, {**body, **payload})
    return proposal, facts_after("M07.02")


def proxy_without_consent() -> Built:
    proposal, facts = proxy_signature()
    payload = {key: value for key, value in proposal.payload.items() if key != "consent_ref"}
    return replace(proposal, payload=payload), facts


def facility_fault(**payload: Any) -> Built:
    """M05.02 -> M09.02: the Wuhan sorter is down."""
    at = T0 + timedelta(hours=23)
    body = {"facility_name": "武汉分拨中心", "fault_type": "sorter", "detected_at": iso(at),
            "expected_recovery_at": iso(at + timedelta(hours=3))}
    return propose("facility_fault", "M05.02", at, {**body, **payload}), facts_after("M05.02")


def cooling_off(*, facts: OrderFacts | None = None, **payload: Any) -> Built:
    return case("M08.03", set_=payload, facts=facts)


def confirmed_exclusion(confirmed: str | None) -> Built:
    payload: dict[str, Any] = {"eligible": False,
                               "exclusion_reason_code": "consumer_confirmed_unsuitable"}
    if confirmed is not None:
        payload["exclusion_confirmed_at"] = confirmed
    return cooling_off(**payload)


def complete_after_signature(days: float) -> Built:
    """cooling_off_ended (M08.03 -> M12.02) `days` after the signature."""
    at = SIGNED_AT + timedelta(days=days)
    body = {"completed_at": iso(at), "retention_until": iso(at + timedelta(days=1100))}
    return propose("cooling_off_ended", "M08.03", at, body), facts_after("M08.03")


def reject(from_state: str, *, facts: OrderFacts | None = None) -> Built:
    """return_rejected from M10.01 (-> M08.03) or from M10.03 (-> M12.02)."""
    if from_state == "M10.01":
        at = SIGNED_AT + timedelta(days=2, hours=1)
        body: dict[str, Any] = {"signed_at": iso(SIGNED_AT),
                                "window_end_at": iso(SIGNED_AT + timedelta(days=7)),
                                "eligible": True}
    else:
        at = RECEIVED_AT + timedelta(hours=2)
        body = {"completed_at": iso(at), "retention_until": iso(at + timedelta(days=1100))}
    return propose("return_rejected", from_state, at, body), facts or facts_after(from_state)


def excluded(reason: str, *, confirmed_at_purchase: bool) -> OrderFacts:
    base = facts_after("M10.01")
    return replace(base, exclusion_reason_code=reason,
                   exclusion_confirmed_at=T0 if confirmed_at_purchase else None)


def request_late(**payload: Any) -> Built:
    late = SIGNED_AT + timedelta(days=8)
    return case("M10.01", set_={"requested_at": iso(late), **payload}, event_time=late,
                now=late + timedelta(minutes=1))


def refund_at(days_after_receipt: float, resolution: str = "refund") -> Built:
    at = RECEIVED_AT + timedelta(days=days_after_receipt)
    return case("M10.04", set_={"resolved_at": iso(at), "resolution_type": resolution,
                                "exchange_order_ref": "EX-20260312"},
                event_time=at, now=at + timedelta(minutes=1))


def hub_scan_back(delta: timedelta) -> Built:
    """A hub scan dated `delta` before the order's latest event (the line-haul departure)."""
    facts = facts_after("M05.01")
    assert facts.latest_event_time is not None
    at = facts.latest_event_time - delta
    return case("M05.02", set_={"scanned_at": iso(at)}, event_time=at, facts=facts)


def hub_scan_at(offset_from_now: timedelta, **payload: Any) -> Built:
    proposal, facts = case("M05.02", set_=payload)
    return replace(proposal, event_time=proposal.now + offset_from_now), facts


def with_note(value: Any, key: str = "note") -> Built:
    return case("M05.02", set_={key: value})


COLD = {"required_min_c": 0, "required_max_c": 4}


def hub_scan_reading(**reading: Any) -> Built:
    return case("M05.02", set_=reading)


def breach(**reading: Any) -> Built:
    at = T0 + timedelta(hours=23)
    body = {**COLD, "observed_min_c": 2, "observed_max_c": 9, "excursion_minutes": 45,
            "logger_id": "LG-7781", "node_name": "武汉分拨中心", "detected_at": iso(at),
            **reading}
    return propose("temperature_excursion", "M05.02", at, body), facts_after("M05.02")


def signed_reading(**reading: Any) -> Built:
    """A cooling-off record (from M08.01, which has no edge to the breach state)."""
    return cooling_off(**reading)


def in_breach_note(**reading: Any) -> Built:
    """An SLA breach record while the order already sits in M09.06."""
    at = T0 + timedelta(hours=30)
    return (propose("sla_breach", "M09.06", at, reading, to_state="M09.06", kind="sla_breach"),
            facts_after("M05.02"))


CASES: tuple[RuleCase, ...] = (
    # CN-ACTIONABLE-001 required actionable fields
    RuleCase("hub scan complete", "CN-ACTIONABLE-001", lambda: case("M05.02"), False),
    RuleCase("hub name missing", "CN-ACTIONABLE-001", lambda: case("M05.02", drop=("hub_name",)),
             True, "payload.hub_name"),
    RuleCase("hub name blank", "CN-ACTIONABLE-001",
             lambda: case("M05.02", set_={"hub_name": "  "}), True, "payload.hub_name"),
    RuleCase("checks pending empty", "CN-ACTIONABLE-001",
             lambda: case("M02.01", set_={"checks_pending": []}), True, "payload.checks_pending"),
    RuleCase("sla breach record needs none", "CN-ACTIONABLE-001",
             lambda: in_breach_note(), False),
    # CN-ACTIONABLE-002 estimates after the event
    RuleCase("recovery expected later", "CN-ACTIONABLE-002", facility_fault, False),
    RuleCase("recovery expected before the fault", "CN-ACTIONABLE-002",
             lambda: facility_fault(expected_recovery_at=after(22)), True,
             "payload.expected_recovery_at"),
    RuleCase("eta equal to the event", "CN-ACTIONABLE-002",
             lambda: case("M05.01", set_={"next_node_eta_at": after(10)}), True,
             "payload.next_node_eta_at"),
    RuleCase("eta unreadable", "CN-ACTIONABLE-002",
             lambda: case("M05.01", set_={"next_node_eta_at": "tomorrow"}), True,
             "payload.next_node_eta_at"),
    RuleCase("planned date before the event's day", "CN-ACTIONABLE-002",
             lambda: case("M07.01", set_={"planned_delivery_date": "2026-03-03"}), True,
             "payload.planned_delivery_date"),
    RuleCase("pickup window ends before it starts", "CN-ACTIONABLE-002",
             lambda: case("M04.01", set_={"pickup_window_start_at": after(9)}), True,
             "payload.pickup_window_end_at"),
    RuleCase("ship-by promise carried forward after it passed", "CN-ACTIONABLE-002",
             lambda: case("M03.01", set_={"ship_by_at": after(1)}), False),
    # CN-ACTIONABLE-003 GB/T 2260
    RuleCase("Wuhan code", "CN-ACTIONABLE-003", lambda: case("M05.02"), False),
    RuleCase("five digits", "CN-ACTIONABLE-003",
             lambda: case("M05.02", set_={"hub_admin_code": "42010"}), True,
             "payload.hub_admin_code"),
    RuleCase("no such province", "CN-ACTIONABLE-003",
             lambda: case("M05.02", set_={"hub_admin_code": "990100"}), True,
             "payload.hub_admin_code"),
    RuleCase("admin code in full-width digits", "CN-ACTIONABLE-003",
             lambda: case("M05.02", set_={"hub_admin_code": "３１０１１５"}), True,
             "payload.hub_admin_code"),
    RuleCase("admin code with a final line break", "CN-ACTIONABLE-003",
             lambda: case("M05.02", set_={"hub_admin_code": "310115\n"}), True,
             "payload.hub_admin_code"),
    RuleCase("common location code zeros", "CN-ACTIONABLE-003",
             lambda: case("M05.02", set_={"location_admin_code": "000000"}), True,
             "payload.location_admin_code"),
    # CN-ACTIONABLE-004 carrier and waybill
    RuleCase("SF waybill", "CN-ACTIONABLE-004", lambda: case("M05.02"), False),
    RuleCase("waybill without digits", "CN-ACTIONABLE-004",
             lambda: case("M05.02", set_={"waybill_no": "ABCDEFGHIJ"}), True,
             "payload.waybill_no"),
    RuleCase("waybill of one repeated digit", "CN-ACTIONABLE-004",
             lambda: case("M05.02", set_={"waybill_no": "00000000"}), True, "payload.waybill_no"),
    RuleCase("waybill lower case and short", "CN-ACTIONABLE-004",
             lambda: case("M05.02", set_={"waybill_no": "sf123"}), True, "payload.waybill_no"),
    # The rules do not lean on the schema: a final line break or non-ASCII digits fail
    # here too (Python's `$` matches before a final "\n", `\d` matches "３").
    RuleCase("waybill with a final line break", "CN-ACTIONABLE-004",
             lambda: case("M05.02", set_={"waybill_no": "SF1234567890123\n"}), True,
             "payload.waybill_no"),
    RuleCase("carrier code with a final line break", "CN-ACTIONABLE-004",
             lambda: case("M05.02", set_={"carrier_code": "sf_express\n"}), True,
             "payload.carrier_code"),
    RuleCase("placeholder carrier", "CN-ACTIONABLE-004",
             lambda: case("M05.02", set_={"carrier_code": "unknown"}), True,
             "payload.carrier_code"),
    RuleCase("return waybill checked too", "CN-ACTIONABLE-004",
             lambda: case("M10.02", set_={"return_waybill_no": "12345"}), True,
             "payload.return_waybill_no"),
    # CN-CONSENT-001
    RuleCase("locker with consent", "CN-CONSENT-001", deposit, False),
    RuleCase("locker without consent", "CN-CONSENT-001", lambda: deposit(consent_ref=""), True,
             "payload.consent_ref"),
    RuleCase("locker with placeholder consent", "CN-CONSENT-001",
             lambda: deposit(consent_ref="unknown"), True, "payload.consent_ref"),
    RuleCase("proxy with consent", "CN-CONSENT-001", proxy_signature, False),
    RuleCase("proxy without consent", "CN-CONSENT-001", proxy_without_consent, True,
             "payload.consent_ref"),
    RuleCase("recipient signature needs none", "CN-CONSENT-001", lambda: case("M08.01"), False),
    # CN-DELIVERY-001
    RuleCase("signature time readable", "CN-DELIVERY-001", lambda: case("M08.01"), False),
    RuleCase("signature time unreadable", "CN-DELIVERY-001",
             lambda: case("M08.01", set_={"signed_at": "yesterday"}), True, "payload.signed_at"),
    RuleCase("signature before the order", "CN-DELIVERY-001",
             lambda: case("M08.01", set_={"signed_at": iso(T0 - timedelta(days=1))}), True,
             "payload.signed_at"),
    RuleCase("proxy signature time unreadable", "CN-DELIVERY-001",
             lambda: proxy_signature(signed_at="2026-03-05 14:00"), True, "payload.signed_at"),
    # CN-COOLOFF-001
    RuleCase("seven full days", "CN-COOLOFF-001", lambda: cooling_off(), False),
    RuleCase("platform grants ten days", "CN-COOLOFF-001",
             lambda: cooling_off(window_end_at=iso(SIGNED_AT + timedelta(days=10))), False),
    RuleCase("six days only", "CN-COOLOFF-001",
             lambda: cooling_off(window_end_at=iso(SIGNED_AT + timedelta(days=6))), True,
             "payload.window_end_at"),
    RuleCase("window starts after the signature", "CN-COOLOFF-001",
             lambda: cooling_off(signed_at=iso(SIGNED_AT + timedelta(days=1)),
                                 window_end_at=iso(SIGNED_AT + timedelta(days=8))), True,
             "payload.signed_at"),
    RuleCase("no signature recorded", "CN-COOLOFF-001",
             lambda: cooling_off(facts=facts_after("M07.02")), True, "to"),
    # CN-COOLOFF-002
    RuleCase("eligible goods", "CN-COOLOFF-002", lambda: cooling_off(), False),
    RuleCase("completed when the window closes", "CN-COOLOFF-003",
             lambda: complete_after_signature(7), False),
    RuleCase("completed a minute early", "CN-COOLOFF-003",
             lambda: complete_after_signature(7 - 1 / 1440), True, "event_time"),
    RuleCase("confirmed before payment", "CN-COOLOFF-002",
             lambda: confirmed_exclusion(iso(T0)), False),
    RuleCase("confirmed after delivery", "CN-COOLOFF-002",
             lambda: confirmed_exclusion(iso(SIGNED_AT)), True,
             "payload.exclusion_confirmed_at"),
    RuleCase("confirmation time missing", "CN-COOLOFF-002",
             lambda: confirmed_exclusion(None), True,
             "payload.exclusion_confirmed_at"),
    RuleCase("perishable by law", "CN-COOLOFF-002",
             lambda: cooling_off(eligible=False, exclusion_reason_code="perishable"), False),
    RuleCase("ineligible without reason", "CN-COOLOFF-002",
             lambda: cooling_off(eligible=False), True, "payload.exclusion_reason_code"),
    # CN-RETURN-001
    RuleCase("refusing a timely no-reason return", "CN-RETURN-001",
             lambda: reject("M10.01"), True, "event"),
    RuleCase("refusing a quality claim is the merchant's call", "CN-RETURN-001",
             lambda: reject("M10.01", facts=replace(facts_after("M10.01"),
                                                    return_request_type="quality")), False),
    RuleCase("refusing excluded perishable goods", "CN-RETURN-001",
             lambda: reject("M10.01", facts=excluded("perishable", confirmed_at_purchase=False)),
             False),
    RuleCase("refusing goods excluded at purchase", "CN-RETURN-001",
             lambda: reject("M10.01", facts=excluded("consumer_confirmed_unsuitable",
                                                      confirmed_at_purchase=True)),
             False),
    RuleCase("refusing a request made after the window", "CN-RETURN-001",
             lambda: reject("M10.01", facts=replace(
                 facts_after("M10.01"), return_requested_at=SIGNED_AT + timedelta(days=8))),
             False),
    RuleCase("refusing intact returned goods", "CN-RETURN-001", lambda: reject("M10.03"), True,
             "event"),
    RuleCase("refusing goods found not intact", "CN-RETURN-001",
             lambda: reject("M10.03", facts=replace(facts_after("M10.03"),
                                                    return_inspection_result="not_intact")),
             False),
    # CN-RETURN-002 / 003
    RuleCase("timely request marked in window", "CN-RETURN-002", lambda: case("M10.01"), False),
    RuleCase("timely request marked late", "CN-RETURN-002",
             lambda: case("M10.01", set_={"in_cooling_off": False}), True,
             "payload.in_cooling_off"),
    RuleCase("late request marked late", "CN-RETURN-003",
             lambda: request_late(in_cooling_off=False), False),
    RuleCase("late request marked in window", "CN-RETURN-003",
             lambda: request_late(in_cooling_off=True), True, "payload.in_cooling_off"),
    RuleCase("request before any signature marked in window", "CN-RETURN-003",
             lambda: case("M10.01", facts=facts_after("M07.02")), True,
             "payload.in_cooling_off"),
    # CN-REFUND-001
    RuleCase("refund two days after receipt", "CN-REFUND-001", lambda: refund_at(2), False),
    RuleCase("refund eight days after receipt", "CN-REFUND-001", lambda: refund_at(8), True,
             "payload.resolved_at"),
    RuleCase("exchange eight days after receipt", "CN-REFUND-001",
             lambda: refund_at(8, "exchange"), False),
    # CN-TIME-001 / 002 / 003
    RuleCase("five minutes back", "CN-TIME-001", lambda: hub_scan_back(timedelta(minutes=5)),
             False),
    RuleCase("thirty minutes back", "CN-TIME-001", lambda: hub_scan_back(timedelta(minutes=30)),
             True, "event_time"),
    RuleCase("two days back is not merely flagged", "CN-TIME-001",
             lambda: hub_scan_back(timedelta(days=2)), False),
    RuleCase("thirty minutes back is not blocked", "CN-TIME-002",
             lambda: hub_scan_back(timedelta(minutes=30)), False),
    RuleCase("two days back", "CN-TIME-002", lambda: hub_scan_back(timedelta(days=2)), True,
             "event_time"),
    RuleCase("two minutes ahead of the clock", "CN-TIME-003",
             lambda: hub_scan_at(timedelta(minutes=2)), False),
    RuleCase("ten minutes ahead of the clock", "CN-TIME-003",
             lambda: hub_scan_at(timedelta(minutes=10)), True, "event_time"),
    RuleCase("scan time in the future", "CN-TIME-003",
             lambda: case("M05.02", set_={"scanned_at": after(30)}), True, "payload.scanned_at"),
    # CN-PII-001 mobile numbers
    RuleCase("masked number", "CN-PII-001", lambda: with_note("call 138****5678"), False),
    RuleCase("spaced number", "CN-PII-001", lambda: with_note("call 138 1234 5678"), True,
             "payload.note"),
    RuleCase("number with +86 and dashes", "CN-PII-001",
             lambda: with_note("+86-138-1234-5678"), True, "payload.note"),
    RuleCase("number in the raw carrier text", "CN-PII-001",
             lambda: with_note({"system": "kuaidi100", "raw_code": "5",
                                "raw_text": "派件员 张师傅 13812345678 正在派件"}, "source"),
             True, "payload.source.raw_text"),
    RuleCase("number as an integer in a list", "CN-PII-001",
             lambda: with_note([1, 13812345678], "contacts"), True, "payload.contacts.1"),
    RuleCase("waybill that contains 11 digits", "CN-PII-001",
             lambda: with_note("SF13812345678"), False),
    RuleCase("epoch milliseconds", "CN-PII-001", lambda: with_note("1771400000000"), False),
    RuleCase("privacy number with extension", "CN-PII-001", lambda: case("M07.02"), False),
    RuleCase("real mobile in the privacy field", "CN-PII-001",
             lambda: case("M07.02", set_={"courier_virtual_phone": "13812345678"}), True,
             "payload.courier_virtual_phone"),
    # CN-PII-002 resident identity numbers
    RuleCase("valid identity number", "CN-PII-002", lambda: with_note("ID 11010519491231002X"),
             True, "payload.note"),
    RuleCase("identity number, lower-case x", "CN-PII-002",
             lambda: with_note("11010519491231002x"), True, "payload.note"),
    RuleCase("18 digits failing the checksum", "CN-PII-002",
             lambda: with_note("order 110105194912310021"), False),
    RuleCase("masked identity number", "CN-PII-002", lambda: with_note("110105********002X"),
             False),
    # CN-PII-003 names
    RuleCase("masked proxy name", "CN-PII-003", lambda: proxy_signature(proxy_name_masked="张**"),
             False),
    RuleCase("full proxy name", "CN-PII-003", lambda: proxy_signature(proxy_name_masked="张三"),
             True, "payload.proxy_name_masked"),
    RuleCase("recipient name in English", "CN-PII-003",
             lambda: with_note({"recipient_name": "John Smith"}, "extra"), True,
             "payload.extra.recipient_name"),
    RuleCase("role instead of a name", "CN-PII-003",
             lambda: proxy_signature(proxy_name="门卫"), False),
    RuleCase("pseudonym token", "CN-PII-003",
             lambda: with_note("tok_9f2c1e77aa", "buyer_name"), False),
    RuleCase("hub names are not person names", "CN-PII-003", lambda: case("M05.02"), False),
    # CN-RETENTION-001
    RuleCase("completion kept three years", "CN-RETENTION-001", lambda: case("M12.02"), False),
    RuleCase("completion kept two years", "CN-RETENTION-001",
             lambda: case("M12.02", set_={"retention_until": iso(RECEIVED_AT + timedelta(
                 days=3 + 2 * 365))}), True, "payload.retention_until"),
    RuleCase("archive deletes too early", "CN-RETENTION-001",
             lambda: case("M12.03", set_={"delete_after_at": iso(RECEIVED_AT + timedelta(
                 days=400))}), True, "payload.delete_after_at"),
    RuleCase("archive keeps three years", "CN-RETENTION-001", lambda: case("M12.03"), False),
    # CN-COLDCHAIN-001
    RuleCase("reading inside the range", "CN-COLDCHAIN-001",
             lambda: hub_scan_reading(**COLD, observed_max_c=3.5, excursion_minutes=45), False),
    RuleCase("short excursion", "CN-COLDCHAIN-001",
             lambda: hub_scan_reading(**COLD, observed_max_c=9, excursion_minutes=20), False),
    RuleCase("long excursion on a hub scan", "CN-COLDCHAIN-001",
             lambda: hub_scan_reading(**COLD, observed_max_c=9, excursion_minutes=45), True,
             "payload.observed_max_c"),
    RuleCase("too cold for long, range from the packing record", "CN-COLDCHAIN-001",
             lambda: case("M05.02", set_={"observed_min_c": -3, "excursion_minutes": 60},
                          facts=replace(facts_after("M05.01"), cold_chain_range_c=(0.0, 4.0))),
             True, "payload.observed_min_c"),
    RuleCase("moving to the breach state", "CN-COLDCHAIN-001", breach, False),
    # CN-COLDCHAIN-002
    RuleCase("excursion after delivery", "CN-COLDCHAIN-002",
             lambda: signed_reading(**COLD, observed_max_c=9, excursion_minutes=45), True,
             "payload.observed_max_c"),
    RuleCase("excursion of unstated length", "CN-COLDCHAIN-002",
             lambda: hub_scan_reading(**COLD, observed_max_c=9), True,
             "payload.excursion_minutes"),
    RuleCase("blockable excursion is not also flagged", "CN-COLDCHAIN-002",
             lambda: hub_scan_reading(**COLD, observed_max_c=9, excursion_minutes=45), False),
    RuleCase("reading while already in breach", "CN-COLDCHAIN-002",
             lambda: in_breach_note(**COLD, observed_max_c=9, excursion_minutes=90), False),
)


@pytest.mark.parametrize("rule_case", CASES, ids=[f"{c.rule_id}: {c.name}" for c in CASES])
def test_rule(rule_case: RuleCase) -> None:
    rule = PACK.rule(rule_case.rule_id)
    findings = rule.evaluate(*rule_case.build())
    if not rule_case.fires:
        assert findings == []
        return
    assert findings, f"{rule_case.rule_id} stayed quiet"
    first = findings[0]
    assert first.rule_id == rule.rule_id
    assert first.severity is rule.severity
    assert first.citation == str(rule.citation)
    assert first.field == rule_case.field
    assert rule.rule_id in first.message
    assert (rule_case.field or "record") in first.message


def test_every_rule_has_both_cases() -> None:
    for rule in PACK.rules:
        outcomes = {c.fires for c in CASES if c.rule_id == rule.rule_id}
        assert outcomes == {True, False}, f"{rule.rule_id} lacks a firing or a quiet case"


def test_blocking_rules_refuse_through_the_pack() -> None:
    verdict = PACK.evaluate(*with_note("call 13812345678"))
    assert [f.rule_id for f in verdict.blocks] == ["CN-PII-001"]
    assert verdict.flags == []
    assert verdict.blocked


def test_flagging_rules_accept_through_the_pack() -> None:
    verdict = PACK.evaluate(*refund_at(8))
    assert verdict.blocks == []
    assert [f.rule_id for f in verdict.flags] == ["CN-REFUND-001"]
    assert verdict.flags[0].severity is Severity.FLAG


def test_finding_never_repeats_the_identifier_it_reports() -> None:
    findings = PACK.rule("CN-PII-001").evaluate(*with_note("13812345678"))
    assert "13812345678" not in findings[0].message
    id_findings = PACK.rule("CN-PII-002").evaluate(*with_note("11010519491231002X"))
    assert "11010519491231002X" not in id_findings[0].message
