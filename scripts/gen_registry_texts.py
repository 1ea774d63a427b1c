"""Hand-kept texts and tables for scripts/gen_registry.py (data, not logic)."""

from __future__ import annotations

from typing import Any

# Generic conceptual domains, one per kind of non-enumerated representation.
GENERIC_CD = {
    "date-time": ("Points in time", "Instants on the time line."),
    "date": ("Calendar dates", "Days of the Gregorian calendar."),
    "boolean": ("Yes or no", "Whether a stated condition holds."),
    "string": ("Free text", "Human-readable text in any language."),
    "name": ("Names", "Designations of persons, places, organisations or things."),
    "identifier": ("Identifiers", "Strings that identify one thing within a scheme."),
    "code": ("Open code lists", "Codes from lists kept outside this registry or that grow."),
    "amount": ("Money amounts", "Sums of money in a stated currency."),
    "count": ("Counts and ordinal numbers", "Whole or decimal numbers of things or steps."),
    "measure": ("Physical measures", "Magnitudes of a physical quantity in a stated unit."),
    "hash": ("Digests", "Cryptographic digests that fix the content of data."),
    "reference": ("References", "Pointers to records, documents or messages held elsewhere."),
}
# Unit of measure by field-name suffix (the catalogue puts the unit in the name).
UNIT_SUFFIXES = {"_kg": "kg", "_cm": "cm", "_c": "°C", "_minutes": "min", "_h": "h",
                 "_hours": "h", "_days": "d", "_pct": "%"}


UNIT_WORDS = {"kilogram": "kg", "centimetre": "cm", "celsius": "°C", "minute": "min",
              "hour": "h"}

# Hand-written definitions of the object classes (English, Chinese); a class missing
# here is proposed with a placeholder definition that names its first element.
OBJECT_CLASSES: dict[str, tuple[str, str]] = {
    "StatusEvent": ("A status update of one order, as recorded in the ledger.", "订单状态事件"),
    "Location": ("A place where something happens to the goods.", "地点"),
    "Order": ("A buyer's purchase on the platform, fulfilled as one or more parcels.", "订单"),
    "Money": ("A sum of money together with its currency.", "金额"),
    "Payment": ("The buyer's payment for an order.", "支付"),
    "OrderAudit": ("The platform's and merchant's review of an order before allocation.",
                   "审单与风控"),
    "Warehouse": ("A site that stores, picks and packs goods.", "仓库"),
    "Shipment": ("The carriage of an order's goods by a carrier.", "运输"),
    "Allocation": ("The choice of warehouse and carrier for an order.", "分仓与承运商分配"),
    "OrderLine": ("One product line of an order.", "订单行"),
    "Parcel": ("A physical package under one waybill.", "包裹"),
    "ColdChain": ("The temperature-controlled handling of perishable goods (GB 31605).",
                  "冷链"),
    "WarehouseHold": ("A hold placed on goods inside the warehouse.", "仓内暂扣"),
    "Pickup": ("The collection of a parcel by the carrier.", "揽收"),
    "Courier": ("The carrier's person who handles a parcel.", "快递员"),
    "PickupFailure": ("A failed collection of a parcel.", "揽收失败"),
    "Hub": ("A carrier's sorting or distribution centre.", "分拨中心"),
    "Reroute": ("A change of a parcel's route, address or carrier in transit.", "转运/转投"),
    "CustomsDeclaration": ("The export or import declaration of a cross-border parcel.",
                           "报关单"),
    "CustomsOffice": ("The customs office that handles a declaration.", "海关关区"),
    "CustomsBroker": ("The broker that declares goods to customs.", "报关行"),
    "Customs": ("Customs' requests on a cross-border parcel: documents and duties.",
                "海关要求（补充资料与税款）"),
    "CustomsHold": ("Customs holding a parcel for inspection or seizure.", "海关查验/扣留"),
    "DeliveryStation": ("The carrier's last-mile station that delivers a parcel.",
                        "派件网点"),
    "Delivery": ("The hand-over of a parcel to its recipient.", "派送与签收"),
    "Contact": ("A way to reach a person about a parcel, masked or virtual.", "联系方式"),
    "PickupPoint": ("A parcel locker or collection station where the recipient collects.",
                    "快递柜/驿站"),
    "Consent": ("A recipient's recorded consent, e.g. to proxy signing or locker delivery.",
                "用户同意"),
    "DeliveryAttempt": ("One attempt to deliver a parcel.", "投递尝试"),
    "ProxySignature": ("A signature by someone other than the recipient.", "代签"),
    "CoolingOff": ("The 7-day no-reason return window (Consumer Protection Law §25).",
                   "七日无理由退货期"),
    "WeatherEvent": ("Weather or another force-majeure event that delays carriage.",
                     "天气/不可抗力事件"),
    "Facility": ("A carrier facility or piece of equipment, e.g. a sorter.", "设施/设备"),
    "CarrierInquiry": ("An inquiry opened with the carrier about a parcel.", "承运商查询"),
    "Damage": ("Damage to goods or packaging in transit.", "破损"),
    "Evidence": ("A document or file that supports a fact, kept by reference and hash.",
                 "证据"),
    "Claim": ("A compensation claim against a carrier or merchant.", "索赔"),
    "Loss": ("The loss of a parcel.", "丢失"),
    "ReturnRequest": ("A buyer's request to return goods or be refunded.", "退货退款申请"),
    "ReturnShipment": ("The carriage of returned goods back to the merchant.", "退件运输"),
    "ReturnInspection": ("The merchant's inspection of returned goods.", "退件验收"),
    "AfterSales": ("The after-sales case that settles a return or refund.", "售后"),
    "Refund": ("Money paid back to the buyer.", "退款"),
    "Exchange": ("Replacement goods sent instead of a refund.", "换货"),
    "ServiceVisit": ("An installation, inspection or repair visit.", "上门服务"),
    "ServiceProvider": ("The organisation that performs service visits.", "服务商"),
    "Technician": ("The person who performs a service visit.", "技术员"),
    "RepairTicket": ("A repair case for delivered goods.", "维修工单"),
    "Cancellation": ("The cancellation of an order.", "订单取消"),
    "MerchantSettlement": ("The platform's payout of an order's proceeds to the merchant.",
                           "商家结算"),
    "Record": ("The ledger's records of an order, as kept and retained.", "订单记录"),
}

PARTY_DEFINITIONS = {
    "BUYER": "The consumer who placed and pays for the order and receives the goods.",
    "MERCHANT": "The seller whose goods the order buys; answers to the buyer for delivery "
                "(E-Commerce Law §20).",
    "PLATFORM": "The e-commerce platform operator on which the order was placed.",
    "WAREHOUSE": "The warehouse or 3PL that picks, packs and holds the goods.",
    "CARRIER": "The express or logistics company that carries the parcel.",
    "CUSTOMS_BROKER": "The customs broker that declares a cross-border parcel.",
    "SERVICE_PROVIDER": "The provider of installation, inspection or repair visits.",
    "SYSTEM": "orderledger or a platform system acting automatically (timers, rules).",
}

# The core envelope data elements of DOMAIN.md §5 plus the statement fields of the
# evidence format, each with the pseudo-schema its value domain is derived from.
ENVELOPE: list[tuple[str, dict[str, Any], str, str]] = [
    ("StatusEvent.Event.Identifier", {"type": "string", "format": "uuid"}, "event_id",
     "Identifier of a status event, a random UUID (version 4)."),
    ("StatusEvent.Occurrence.DateTime", {"type": "string", "format": "date-time"},
     "event_time", "When the status event happened according to its source (statement "
     "field event_time), e.g. the carrier's scan time."),
    ("StatusEvent.Recording.DateTime", {"type": "string", "format": "date-time"},
     "recorded_at", "When the ledger accepted the record (statement field recorded_at)."),
    ("StatusEvent.MainState.Code", {"type": "string"}, "main",
     "The main state of the order after the status event, derived from its sub-state."),
    ("StatusEvent.SubState.Code", {"type": "string"}, "to",
     "The sub-state of the order after the status event (statement fields from and to)."),
    ("StatusEvent.ResponsibleParty.Code", {"type": "string"}, "responsible_party",
     "The party that must act next on the order."),
    ("StatusEvent.Reason.Code", {"type": "string", "pattern": "^[a-z][a-z0-9_]{1,63}$"},
     "reason_code", "Orthogonal reason for the status (Karrio TrackingIncidentReason style, "
     "extensible)."),
    ("StatusEvent.Action.Code", {"type": "string", "pattern": "^[a-z][a-z0-9_]{1,63}$"},
     "action", "The action the sub-state triggers, from the catalogue's controlled list."),
    ("StatusEvent.Due.DateTime", {"type": "string", "format": "date-time"}, "due_at",
     "The SLA deadline by which the responsible party must act."),
    ("StatusEvent.Payload.Hash", {"type": "string", "pattern": "^[0-9a-f]{64}$"},
     "payload_digest", "Salted SHA-256 digest of the record's payload, lowercase hex "
     "(statement field payload_digest)."),
    ("StatusEvent.PreviousEvent.Hash", {"type": "string", "pattern": "^[0-9a-f]{64}$"},
     "prev", "SHA-256 statement hash of the order's previous record, lowercase hex "
     "(statement field prev; 64 zeros for the first)."),
]
