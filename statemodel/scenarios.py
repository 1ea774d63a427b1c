"""Named order lifecycles as data: steps of (event, event time, payload) and the expected
sub-state after each. Every payload passes the catalogue's validation.

Reference data, not test code: the statemodel tests walk them through the machine, the
ledger's tests and property tests replay them as records, and `orderledger demo` loads
them (with fresh order ids) as its demo data. Times are RFC 3339 with the +08:00 offset the
sources send; `Step.at` is the event time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any


@dataclass(frozen=True)
class Step:
    expect: str  # sub-state after this step
    event: str
    at: str
    payload: Mapping[str, Any]


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    steps: tuple[Step, ...]


def _t(local: str) -> str:
    """`2026-03-02T10:00` (Beijing time) -> RFC 3339 with offset."""
    return f"{local}:00+08:00"


def _sha(label: str) -> str:
    return hashlib.sha256(label.encode()).hexdigest()


def _source(system: str, raw_code: str, raw_text: str, event_id: str) -> dict[str, Any]:
    return {"system": system, "raw_code": raw_code, "raw_text": raw_text,
            "mapping_version": "2026.1", "event_id": event_id}


def _until_packed(day: str, carrier: str, waybill: str, *, paid: bool = False,
                  temp_class: str = "ambient") -> tuple[Step, ...]:
    """Order placed (and paid), audited, allocated, picked and packed on `day`."""
    packed: dict[str, Any] = {"waybill_no": waybill, "carrier_code": carrier,
                              "package_count": 1, "weight_kg": 2.4, "temp_class": temp_class,
                              "dims_cm": {"length": 40, "width": 30, "height": 20}}
    if temp_class != "ambient":
        packed["logger_id"] = "TL-88213"
    placed = (
        (Step("M01.02", "order_placed_paid", _t(f"{day}T09:00"),
              {"payment_txn_ref": "ALI2026030200001", "paid_at": _t(f"{day}T09:00"),
               "channel": "alipay", "amount_paid": "299.00", "currency": "CNY"}),)
        if paid else
        (Step("M01.01", "order_placed", _t(f"{day}T09:00"),
              {"amount_due": "299.00", "currency": "CNY",
               "payment_deadline_at": _t(f"{day}T09:30")}),
         Step("M01.02", "payment_captured", _t(f"{day}T09:05"),
              {"payment_txn_ref": "WX4200002026030212", "paid_at": _t(f"{day}T09:05"),
               "channel": "wechat_pay", "amount_paid": "299.00", "currency": "CNY"}))
    )
    return (*placed,
            Step("M02.01", "audit_started", _t(f"{day}T09:06"),
                 {"checks_pending": ["address", "fraud"],
                  "expected_decision_at": _t(f"{day}T09:36"), "review_reason_code": "routine"}),
            Step("M02.02", "allocated", _t(f"{day}T09:20"),
                 {"warehouse_id": "SH-QP-01", "warehouse_admin_code": "310118",
                  "carrier_code": carrier, "service_level": "express",
                  "ship_by_at": _t(f"{day}T18:00")}),
            Step("M03.01", "picking_started", _t(f"{day}T10:00"),
                 {"warehouse_id": "SH-QP-01", "wave_id": "W20260302-07",
                  "pick_started_at": _t(f"{day}T10:00"),
                  "carrier_cutoff_at": _t(f"{day}T16:00")}),
            Step("M03.02", "packed", _t(f"{day}T10:40"), packed))


def _pickup_and_linehaul(day: str, carrier: str, waybill: str) -> tuple[Step, ...]:
    """Pickup booked and done; loaded for the Shanghai Hongqiao hub, expected 15:40."""
    return (
        Step("M04.01", "pickup_booked", _t(f"{day}T11:00"),
             {"pickup_window_start_at": _t(f"{day}T13:00"),
              "pickup_window_end_at": _t(f"{day}T15:00"), "carrier_code": carrier,
              "booking_ref": "BK-558120", "site_ref": "SH-QP-01-DOCK3",
              "site_admin_code": "310118", "waybill_no": waybill}),
        Step("M04.02", "picked_up", _t(f"{day}T13:42"),
             {"picked_up_at": _t(f"{day}T13:42"), "waybill_no": waybill, "carrier_code": carrier,
              "origin_site_name": "上海青浦营业部", "origin_admin_code": "310118",
              "courier_ref": "cr_7f3a9c2e1b44", "edd_at": _t("2026-03-04T18:00"),
              "source": _source("kuaidi100", "103", "【上海青浦营业部】已揽收", "k100-1")}),
        Step("M05.01", "linehaul_departed", _t(f"{day}T14:10"),
             {"waybill_no": waybill, "carrier_code": carrier,
              "current_node_name": "上海青浦营业部", "current_node_admin_code": "310118",
              "next_node_name": "上海虹桥分拨中心", "next_node_admin_code": "310112",
              "transport_mode": "road", "conveyance_ref": "沪A-D8821",
              "next_node_eta_at": _t(f"{day}T15:40"),
              "source": _source("kuaidi100", "1002", "快件已发往【上海虹桥分拨中心】", "k100-2")}),
        Step("M05.02", "hub_scan", _t(f"{day}T15:37"),
             {"waybill_no": waybill, "carrier_code": carrier, "hub_name": "上海虹桥分拨中心",
              "hub_admin_code": "310112", "scan_type": "arrival",
              "scanned_at": _t(f"{day}T15:37")}),
        Step("M05.02", "hub_scan", _t(f"{day}T21:15"),
             {"waybill_no": waybill, "carrier_code": carrier, "hub_name": "上海虹桥分拨中心",
              "hub_admin_code": "310112", "scan_type": "departure",
              "scanned_at": _t(f"{day}T21:15"), "next_node_name": "广州白云分拨中心"}),
    )


def _station_and_out(day: str, carrier: str, waybill: str, attempt: int = 1) -> tuple[Step, ...]:
    """Arrival at the Guangzhou Baiyun station and out for delivery on `day`."""
    return (
        Step("M07.01", "station_arrived", _t(f"{day}T07:30"),
             {"waybill_no": waybill, "carrier_code": carrier, "station_id": "GZ-BY-JH-021",
              "station_name": "广州白云嘉禾营业部", "station_admin_code": "440111",
              "arrived_at": _t(f"{day}T07:30"), "planned_delivery_date": day}),
        Step("M07.02", "out_for_delivery", _t(f"{day}T09:10"),
             {"waybill_no": waybill, "carrier_code": carrier,
              "courier_virtual_phone": "17012345678-4021", "courier_ref": "cr_1b9e44d0aa71",
              "delivery_window_start_at": _t(f"{day}T10:00"),
              "delivery_window_end_at": _t(f"{day}T12:00"), "attempt_no": attempt}),
    )


def _signed_and_cooling_off(day: str, waybill: str, *, hour: str = "10:32") -> tuple[Step, ...]:
    """Signed by the recipient, then the 7×24 h no-reason return window (消保法 §25)."""
    signed_at = _t(f"{day}T{hour}")
    window_end = datetime.fromisoformat(signed_at) + timedelta(days=7)
    return (
        Step("M08.01", "signed", signed_at,
             {"waybill_no": waybill, "signed_at": signed_at, "pod_hash": _sha(f"pod-{waybill}"),
              "verification_method": "sms_code", "inspected_on_spot": True}),
        Step("M08.03", "cooling_off_started", signed_at,
             {"signed_at": signed_at, "window_end_at": window_end.isoformat(),
              "eligible": True}),
    )


def _complete_and_archive(day: str) -> tuple[Step, ...]:
    return (
        Step("M12.02", "cooling_off_ended", _t(f"{day}T10:32"),
             {"completed_at": _t(f"{day}T10:32"), "settlement_ref": "ST-20260311-09",
              "retention_until": _t("2029-03-11T10:32")}),
        Step("M12.03", "order_archived", _t("2026-04-10T02:00"),
             {"archived_at": _t("2026-04-10T02:00"), "pii_state": "restricted",
              "legal_hold": False, "delete_after_at": _t("2029-03-11T10:32")}),
    )


_DB = "DB7700123456789"  # Deppon
_SF = "SF1428806573291"  # SF Express
_ZTO = "78432109876543"  # ZTO

DOMESTIC_HAPPY_PATH = Scenario(
    "domestic_happy_path",
    "Deppon, Shanghai Qingpu → Shanghai Hongqiao hub → Guangzhou Baiyun; signed; completed.",
    (*_until_packed("2026-03-02", "deppon", _DB),
     *_pickup_and_linehaul("2026-03-02", "deppon", _DB),
     *_station_and_out("2026-03-04", "deppon", _DB),
     *_signed_and_cooling_off("2026-03-04", _DB),
     *_complete_and_archive("2026-03-11")),
)

CROSS_BORDER_DOCUMENTS = Scenario(
    "cross_border_documents_missing_then_released",
    "Import via Shanghai Pudong airport customs; page 3 of the commercial invoice is missing.",
    (*_until_packed("2026-03-02", "sf", _SF, paid=True),
     Step("M04.02", "picked_up", _t("2026-03-02T12:10"),
          {"picked_up_at": _t("2026-03-02T12:10"), "waybill_no": _SF, "carrier_code": "sf",
           "origin_site_name": "顺丰香港国际中转场", "courier_ref": "cr_55aa10c3e9d2"}),
     Step("M06.01", "customs_declared", _t("2026-03-03T08:00"),
          {"direction": "import", "declaration_no": "223320261000123456",
           "customs_office_code": "2233", "broker_id": "3122260ABC",
           "declared_at": _t("2026-03-03T08:00"),
           "expected_clearance_at": _t("2026-03-03T20:00")}),
     Step("M06.02", "customs_documents_required", _t("2026-03-03T11:20"),
          {"declaration_no": "223320261000123456",
           "missing_items": [{"doc_type": "commercial_invoice", "page": 3, "field": "HS code"}],
           "submission_deadline_at": _t("2026-03-05T17:00"),
           "source": _source("17track", "InTransit_CustomsRequiringInformation",
                             "Customs requires information", "17t-93")}),
     Step("M06.01", "customs_documents_submitted", _t("2026-03-04T10:00"),
          {"direction": "import", "declaration_no": "223320261000123456",
           "customs_office_code": "2233", "broker_id": "3122260ABC",
           "declared_at": _t("2026-03-04T10:00")}),
     Step("M06.04", "customs_released", _t("2026-03-04T16:45"),
          {"declaration_no": "223320261000123456", "released_at": _t("2026-03-04T16:45"),
           "release_ref": "REL-2233-88121", "domestic_carrier_code": "sf",
           "domestic_waybill_no": _SF}),
     Step("M05.01", "linehaul_departed", _t("2026-03-04T20:00"),
          {"waybill_no": _SF, "carrier_code": "sf", "current_node_name": "上海浦东机场",
           "next_node_name": "广州白云分拨中心", "transport_mode": "air",
           "conveyance_ref": "O36812", "next_node_eta_at": _t("2026-03-04T23:10")}),
     *_station_and_out("2026-03-05", "sf", _SF),
     *_signed_and_cooling_off("2026-03-05", _SF)),
)

WEATHER_DELAY = Scenario(
    "weather_delay_then_recovery",
    "Typhoon at Guangzhou Baiyun; the carrier revises the recovery once, then scans resume.",
    (*_until_packed("2026-03-02", "zto", _ZTO),
     *_pickup_and_linehaul("2026-03-02", "zto", _ZTO),
     Step("M09.01", "weather_delay", _t("2026-03-03T06:00"),
          {"affected_node_name": "广州白云分拨中心", "affected_admin_code": "440111",
           "weather_event_type": "typhoon", "authority_notice_ref": "广东省气象台台风红色预警",
           "expected_recovery_at": _t("2026-03-03T18:00"), "revised_edd_at": _t("2026-03-05T18:00"),
           "source": _source("aftership", "Exception_017", "Delayed by extreme weather", "as-1")}),
     Step("M09.01", "weather_delay", _t("2026-03-03T17:00"),
          {"affected_node_name": "广州白云分拨中心", "weather_event_type": "typhoon",
           "expected_recovery_at": _t("2026-03-04T08:00"),
           "revised_edd_at": _t("2026-03-06T12:00")}),
     Step("M05.02", "hub_scan", _t("2026-03-04T09:20"),
          {"waybill_no": _ZTO, "carrier_code": "zto", "hub_name": "广州白云分拨中心",
           "hub_admin_code": "440111", "scan_type": "arrival",
           "scanned_at": _t("2026-03-04T09:20")}),
     *_station_and_out("2026-03-05", "zto", _ZTO),
     *_signed_and_cooling_off("2026-03-05", _ZTO)),
)

FACILITY_FAULT = Scenario(
    "facility_fault_then_recovery",
    "Sorter fault at the Wuhan hub, expected back at 09:00; the next scan recovers.",
    (*_until_packed("2026-03-02", "deppon", _DB),
     *_pickup_and_linehaul("2026-03-02", "deppon", _DB),
     Step("M09.02", "facility_fault", _t("2026-03-03T02:10"),
          {"facility_name": "武汉分拨中心", "facility_admin_code": "420112",
           "fault_type": "sorter", "detected_at": _t("2026-03-03T02:05"),
           "expected_recovery_at": _t("2026-03-03T09:00")}),
     Step("M05.02", "hub_scan", _t("2026-03-03T09:40"),
          {"waybill_no": _DB, "carrier_code": "deppon", "hub_name": "武汉分拨中心",
           "hub_admin_code": "420112", "scan_type": "departure",
           "scanned_at": _t("2026-03-03T09:40")}),
     *_station_and_out("2026-03-04", "deppon", _DB)),
)

FAILED_DELIVERY_LOCKER = Scenario(
    "failed_delivery_then_locker_then_signed",
    "Nobody home; with the buyer's consent the parcel goes to a locker and is collected.",
    (*_until_packed("2026-03-02", "zto", _ZTO),
     *_pickup_and_linehaul("2026-03-02", "zto", _ZTO),
     *_station_and_out("2026-03-04", "zto", _ZTO),
     Step("M07.04", "delivery_failed", _t("2026-03-04T11:05"),
          {"fail_reason_code": "recipient_absent", "attempt_no": 1,
           "attempted_at": _t("2026-03-04T11:05"), "next_attempt_at": _t("2026-03-05T10:00"),
           "buyer_options": ["redeliver", "pickup_point"]}),
     Step("M07.03", "deposited_at_point", _t("2026-03-04T13:20"),
          {"point_id": "FCBOX-GZ-BY-3310", "point_type": "smart_locker",
           "point_name": "丰巢智能柜（白云嘉禾望岗3号柜）", "point_admin_code": "440111",
           "pickup_code_hash": _sha("pickup-code-668213"), "consent_ref": "CONSENT-77120-A",
           "consent_method": "per_order_confirmation", "deposited_at": _t("2026-03-04T13:20"),
           "hold_until": _t("2026-03-06T13:20")}),
     Step("M08.01", "collected_from_point", _t("2026-03-04T19:02"),
          {"waybill_no": _ZTO, "signed_at": _t("2026-03-04T19:02"),
           "pod_hash": _sha("locker-open-log-3310"), "verification_method": "pickup_code"}),
     Step("M08.03", "cooling_off_started", _t("2026-03-04T19:02"),
          {"signed_at": _t("2026-03-04T19:02"), "window_end_at": _t("2026-03-11T19:02"),
           "eligible": True})),
)

PROXY_SIGNATURE = Scenario(
    "proxy_signature",
    "Signed by the property management desk with the buyer's recorded consent.",
    (*_until_packed("2026-03-02", "sf", _SF, paid=True),
     *_pickup_and_linehaul("2026-03-02", "sf", _SF),
     *_station_and_out("2026-03-04", "sf", _SF),
     Step("M08.02", "signed_by_proxy", _t("2026-03-04T10:48"),
          {"waybill_no": _SF, "proxy_type": "property_management", "proxy_name_masked": "王**",
           "consent_ref": "CONSENT-88231-B", "consent_method": "recorded_call",
           "signed_at": _t("2026-03-04T10:48"), "pod_hash": _sha("pod-proxy-sf")}),
     Step("M08.03", "cooling_off_started", _t("2026-03-04T10:48"),
          {"signed_at": _t("2026-03-04T10:48"), "window_end_at": _t("2026-03-11T10:48"),
           "eligible": True})),
)

RETURN_AND_REFUND = Scenario(
    "return_within_cooling_off_then_refund",
    "7-day no-reason return; goods received intact; refunded within 7 days of receipt.",
    (*_until_packed("2026-03-02", "deppon", _DB),
     *_pickup_and_linehaul("2026-03-02", "deppon", _DB),
     *_station_and_out("2026-03-04", "deppon", _DB),
     *_signed_and_cooling_off("2026-03-04", _DB),
     Step("M10.01", "return_requested", _t("2026-03-07T20:15"),
          {"request_type": "no_reason_7day", "requested_at": _t("2026-03-07T20:15"),
           "in_cooling_off": True, "requested_amount": "299.00", "currency": "CNY"}),
     Step("M10.02", "return_dispatched", _t("2026-03-08T14:00"),
          {"return_waybill_no": "SF1428806579999", "carrier_code": "sf",
           "return_type": "buyer_return", "freight_payer": "BUYER",
           "dispatched_at": _t("2026-03-08T14:00")}),
     Step("M10.03", "return_received", _t("2026-03-10T11:30"),
          {"received_at": _t("2026-03-10T11:30"), "inspection_result": "intact",
           "inspector_ref": "insp_a81c93f0"}),
     Step("M10.04", "refund_issued", _t("2026-03-11T09:00"),
          {"resolution_type": "refund", "resolved_at": _t("2026-03-11T09:00"),
           "refund_txn_ref": "RF4200002026031101", "refund_amount": "299.00",
           "currency": "CNY"}),
     Step("M12.02", "after_sales_closed", _t("2026-03-11T09:05"),
          {"completed_at": _t("2026-03-11T09:05"), "retention_until": _t("2029-03-11T09:05")})),
)

INSTALLATION = Scenario(
    "installation_after_delivery",
    "A washing machine is installed after delivery, then the cooling-off window resumes.",
    (*_until_packed("2026-03-02", "jd", "JDX018823401275"),
     *_pickup_and_linehaul("2026-03-02", "jd", "JDX018823401275"),
     *_station_and_out("2026-03-04", "jd", "JDX018823401275"),
     Step("M08.01", "signed", _t("2026-03-04T10:20"),
          {"waybill_no": "JDX018823401275", "signed_at": _t("2026-03-04T10:20"),
           "pod_hash": _sha("pod-jd"), "verification_method": "e_signature"}),
     Step("M11.01", "service_scheduled", _t("2026-03-04T10:30"),
          {"service_type": "installation", "appointment_start_at": _t("2026-03-05T14:00"),
           "appointment_end_at": _t("2026-03-05T16:00"), "provider_id": "SVC-GZ-0192",
           "technician_ref": "tech_5d0c8e21", "technician_virtual_phone": "95013-20931"}),
     Step("M11.03", "service_completed", _t("2026-03-05T15:10"),
          {"completed_at": _t("2026-03-05T15:10"), "work_report_ref": "WR-2026-0305-118",
           "customer_esign_hash": _sha("esign-install")}),
     Step("M08.03", "cooling_off_started", _t("2026-03-05T15:20"),
          {"signed_at": _t("2026-03-04T10:20"), "window_end_at": _t("2026-03-11T10:20"),
           "eligible": True}),
     Step("M12.02", "cooling_off_ended", _t("2026-03-11T10:20"),
          {"completed_at": _t("2026-03-11T10:20"), "retention_until": _t("2029-03-11T10:20")})),
)

CANCELLATION = Scenario(
    "cancellation_before_shipping",
    "The buyer cancels after allocation; refund owed; archived later.",
    (*_until_packed("2026-03-02", "zto", _ZTO)[:5],
     Step("M12.01", "order_cancelled", _t("2026-03-02T09:40"),
          {"cancelled_by": "BUYER", "cancel_reason_code": "buyer_request",
           "cancelled_at": _t("2026-03-02T09:40"), "refund_due_from_at": _t("2026-03-02T09:40")}),
     Step("M12.03", "order_archived", _t("2026-04-01T02:00"),
          {"archived_at": _t("2026-04-01T02:00"), "pii_state": "restricted",
           "legal_hold": False, "delete_after_at": _t("2029-03-02T09:40")})),
)

COLD_CHAIN_BREACH = Scenario(
    "cold_chain_breach",
    "Chilled goods exceed 8 °C for 95 minutes on the line-haul; QA destroys them; refund.",
    (*_until_packed("2026-03-02", "sf", _SF, temp_class="chilled_2_8c"),
     *_pickup_and_linehaul("2026-03-02", "sf", _SF)[:3],
     Step("M09.06", "temperature_excursion", _t("2026-03-02T15:55"),
          {"temp_class": "chilled_2_8c", "required_min_c": 2, "required_max_c": 8,
           "observed_min_c": 4.1, "observed_max_c": 11.6, "excursion_minutes": 95,
           "logger_id": "TL-88213", "node_name": "上海虹桥分拨中心",
           "detected_at": _t("2026-03-02T15:50"), "quarantined": True}),
     Step("M10.04", "refund_issued", _t("2026-03-02T18:30"),
          {"resolution_type": "refund", "resolved_at": _t("2026-03-02T18:30"),
           "refund_txn_ref": "RF4200002026030299", "refund_amount": "299.00",
           "currency": "CNY"}),
     Step("M12.02", "after_sales_closed", _t("2026-03-02T18:35"),
          {"completed_at": _t("2026-03-02T18:35"), "retention_until": _t("2029-03-02T18:35")})),
)

PAYMENT_TIMEOUT = Scenario(
    "payment_timeout",
    "Never paid: the system cancels at the payment deadline.",
    (Step("M01.01", "order_placed", _t("2026-03-02T09:00"),
          {"amount_due": "59.90", "currency": "CNY",
           "payment_deadline_at": _t("2026-03-02T09:30")}),
     Step("M12.01", "payment_expired", _t("2026-03-02T09:30"),
          {"cancelled_by": "SYSTEM", "cancel_reason_code": "payment_timeout",
           "cancelled_at": _t("2026-03-02T09:30")})),
)

SCENARIOS: tuple[Scenario, ...] = (
    DOMESTIC_HAPPY_PATH,
    CROSS_BORDER_DOCUMENTS,
    WEATHER_DELAY,
    FACILITY_FAULT,
    FAILED_DELIVERY_LOCKER,
    PROXY_SIGNATURE,
    RETURN_AND_REFUND,
    INSTALLATION,
    CANCELLATION,
    COLD_CHAIN_BREACH,
    PAYMENT_TIMEOUT,
)


def scenario(name: str) -> Scenario:
    """The scenario called `name`. Raises KeyError listing the names."""
    for candidate in SCENARIOS:
        if candidate.name == name:
            return candidate
    raise KeyError(f"no scenario {name!r}; have {', '.join(s.name for s in SCENARIOS)}")
