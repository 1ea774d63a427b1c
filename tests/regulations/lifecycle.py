"""A realistic, lawful order lifecycle and helpers to bend it for rule tests.

`HAPPY` is one order from placement to archive; every payload is valid for the
catalogue (test_lifecycle checks that against the machine) and no rule of the default
pack finds anything in it. Rule tests take one step of it (`case`), change what the
rule is about, and assert the rule fires; the unchanged step keeps the rule quiet.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from regulations.facts import OrderFacts
from regulations.proposal import Proposal
from statemodel.catalogue import Catalogue, load_catalogue
from statemodel.machine import get_machine

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 China time
POD_HASH = "a" * 64
SIGNED_AT = T0 + timedelta(days=3, hours=4)
RECEIVED_AT = SIGNED_AT + timedelta(days=3)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def after(hours: float) -> str:
    return iso(T0 + timedelta(hours=hours))


@dataclass(frozen=True)
class Step:
    event: str
    at: datetime
    payload: dict[str, Any]


HAPPY: tuple[Step, ...] = (
    Step("order_placed", T0, {"amount_due": "199.00", "currency": "CNY",
                              "payment_deadline_at": after(0.5)}),
    Step("payment_captured", T0 + timedelta(minutes=5), {
        "payment_txn_ref": "PAY20260302001", "paid_at": iso(T0 + timedelta(minutes=5)),
        "channel": "alipay", "amount_paid": "199.00", "currency": "CNY"}),
    Step("audit_started", T0 + timedelta(minutes=6), {
        "checks_pending": ["address", "fraud"], "expected_decision_at": after(2)}),
    Step("allocated", T0 + timedelta(hours=1), {
        "warehouse_id": "WH-SH-01", "warehouse_admin_code": "310118", "carrier_code": "sf",
        "service_level": "express", "ship_by_at": after(24)}),
    Step("picking_started", T0 + timedelta(hours=2), {
        "warehouse_id": "WH-SH-01", "wave_id": "W-0302-07", "pick_started_at": after(2)}),
    Step("packed", T0 + timedelta(hours=3), {
        "waybill_no": "SF1234567890123", "carrier_code": "sf", "package_count": 1,
        "weight_kg": 1.2, "temp_class": "ambient"}),
    Step("pickup_booked", T0 + timedelta(hours=4), {
        "pickup_window_start_at": after(6), "pickup_window_end_at": after(8),
        "carrier_code": "sf", "booking_ref": "BK-778812", "site_ref": "WH-SH-01"}),
    Step("picked_up", T0 + timedelta(hours=7), {
        "picked_up_at": after(7), "waybill_no": "SF1234567890123", "carrier_code": "sf",
        "origin_site_name": "上海青浦营业部", "courier_ref": "sf_7f3a9c21d0"}),
    Step("linehaul_departed", T0 + timedelta(hours=10), {
        "waybill_no": "SF1234567890123", "carrier_code": "sf",
        "current_node_name": "上海青浦分拨中心", "next_node_name": "武汉分拨中心",
        "transport_mode": "road", "next_node_eta_at": after(22)}),
    Step("hub_scan", T0 + timedelta(hours=22), {
        "waybill_no": "SF1234567890123", "carrier_code": "sf", "hub_name": "武汉分拨中心",
        "hub_admin_code": "420100", "scan_type": "arrival", "scanned_at": after(22)}),
    Step("station_arrived", T0 + timedelta(hours=60), {
        "waybill_no": "SF1234567890123", "carrier_code": "sf", "station_id": "GZ-BY-12",
        "station_name": "广州白云嘉禾营业部", "station_admin_code": "440111",
        "arrived_at": after(60), "planned_delivery_date": "2026-03-04"}),
    Step("out_for_delivery", T0 + timedelta(hours=74), {
        "waybill_no": "SF1234567890123", "carrier_code": "sf",
        "courier_virtual_phone": "17012345678-1234", "delivery_window_start_at": after(74),
        "delivery_window_end_at": after(78), "attempt_no": 1}),
    Step("signed", SIGNED_AT, {
        "waybill_no": "SF1234567890123", "signed_at": iso(SIGNED_AT), "pod_hash": POD_HASH,
        "verification_method": "pickup_code"}),
    Step("cooling_off_started", SIGNED_AT + timedelta(minutes=1), {
        "signed_at": iso(SIGNED_AT), "window_end_at": iso(SIGNED_AT + timedelta(days=7)),
        "eligible": True}),
    Step("return_requested", SIGNED_AT + timedelta(days=2), {
        "request_type": "no_reason_7day", "requested_at": iso(SIGNED_AT + timedelta(days=2)),
        "in_cooling_off": True}),
    Step("return_dispatched", SIGNED_AT + timedelta(days=2, hours=3), {
        "return_waybill_no": "SF9876543210987", "carrier_code": "sf",
        "return_type": "buyer_return", "freight_payer": "BUYER",
        "dispatched_at": iso(SIGNED_AT + timedelta(days=2, hours=3))}),
    Step("return_received", RECEIVED_AT, {
        "received_at": iso(RECEIVED_AT), "inspection_result": "intact"}),
    Step("refund_issued", RECEIVED_AT + timedelta(days=2), {
        "resolution_type": "refund", "resolved_at": iso(RECEIVED_AT + timedelta(days=2)),
        "refund_txn_ref": "RF20260310001", "refund_amount": "199.00", "currency": "CNY"}),
    Step("after_sales_closed", RECEIVED_AT + timedelta(days=3), {
        "completed_at": iso(RECEIVED_AT + timedelta(days=3)),
        "retention_until": iso(RECEIVED_AT + timedelta(days=3 + 3 * 366))}),
    Step("order_archived", RECEIVED_AT + timedelta(days=33), {
        "archived_at": iso(RECEIVED_AT + timedelta(days=33)), "pii_state": "restricted",
        "legal_hold": False, "delete_after_at": iso(RECEIVED_AT + timedelta(days=3 + 3 * 366))}),
)


@cache
def catalogue() -> Catalogue:
    return load_catalogue()


def propose(
    event: str,
    from_state: str | None,
    at: datetime,
    payload: dict[str, Any],
    *,
    to_state: str | None = None,
    kind: str = "transition",
    now: datetime | None = None,
) -> Proposal:
    """A proposal as the ledger would build it: target from the machine, now = at + 1 min."""
    target = to_state or get_machine(catalogue()).target(from_state, event)
    return Proposal(kind=kind, event=event, from_state=from_state, to_state=target,
                    event_time=at, now=now or at + timedelta(minutes=1), catalogue=catalogue(),
                    payload=payload, actor_type="carrier", actor_id="sf")


@cache
def happy_run() -> tuple[tuple[Proposal, OrderFacts], ...]:
    """Every step of HAPPY as (proposal, facts before it)."""
    facts, state = OrderFacts.initial(), None
    run: list[tuple[Proposal, OrderFacts]] = []
    for step in HAPPY:
        proposal = propose(step.event, state, step.at, step.payload)
        run.append((proposal, facts))
        facts, state = facts.advance(proposal), proposal.to_state
    return tuple(run)


def facts_after(sub_state: str) -> OrderFacts:
    """The facts once the happy order has entered `sub_state`."""
    for proposal, facts in happy_run():
        if proposal.to_state == sub_state:
            return facts.advance(proposal)
    raise KeyError(sub_state)


def case(
    sub_state: str,
    *,
    set_: dict[str, Any] | None = None,
    drop: tuple[str, ...] = (),
    facts: OrderFacts | None = None,
    **changes: Any,
) -> tuple[Proposal, OrderFacts]:
    """The happy step entering `sub_state`, its payload updated by `set_` minus `drop`,
    proposal fields replaced by `changes`, and the facts before it (or `facts`)."""
    for proposal, before in happy_run():
        if proposal.to_state == sub_state:
            payload = {**proposal.payload, **(set_ or {})}
            for key in drop:
                payload.pop(key, None)
            return replace(proposal, payload=payload, **changes), facts or before
    raise KeyError(sub_state)
