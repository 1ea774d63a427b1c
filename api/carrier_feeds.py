"""Carrier webhook bodies: signature checks and pure parsers into CarrierEvents.

No routes here: a route reads the raw body and headers, calls one parser, and hands the
events to `to_append` and the ledger. Every parser verifies the signature over the raw
bytes first (in constant time) and only then parses; any failure raises
FeedSignatureInvalid or FeedMalformed (both InvalidInput, so 4xx) with the offending field.

Shapes (DOMAIN.md §1): Kuaidi100 subscription push (form `param` + `sign =
upper(md5(param + salt))`), AfterShip webhook (JSON, base64 HMAC-SHA256 of the body in
`aftership-hmac-sha256`), and our generic JSON feed (same HMAC, `x-orderledger-signature`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs

from statemodel.carriers.draft import AppendDraft, to_append
from statemodel.carriers.event import CarrierEvent
from statemodel.carriers.mapping import Unmappable
from statemodel.errors import InvalidInput
from statemodel.formats import parse_rfc3339

__all__ = [
    "AFTERSHIP_SIGNATURE_HEADER", "CHINA_STANDARD_TIME", "GENERIC_SIGNATURE_HEADER",
    "MAX_BODY_BYTES", "AfterShipWebhook", "AppendDraft", "CarrierEvent", "FeedMalformed",
    "FeedSignatureInvalid", "Kuaidi100Push", "ResubscribeRequired", "Unmappable",
    "kuaidi100_ack", "kuaidi100_sign", "parse_aftership_webhook", "parse_generic_feed",
    "parse_kuaidi100_push", "to_append", "verify_hmac_sha256_base64",
]

AFTERSHIP_SIGNATURE_HEADER = "aftership-hmac-sha256"
GENERIC_SIGNATURE_HEADER = "x-orderledger-signature"
MAX_BODY_BYTES = 1_048_576
# China has kept UTC+8 without daylight saving since 1991; Kuaidi100 times carry no offset.
CHINA_STANDARD_TIME = timezone(timedelta(hours=8), "Asia/Shanghai")
UNCODED = "uncoded"  # a Kuaidi100 trace item that names no status at all
_SOURCE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,39}$")
_EVENT_ID_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{1,80}$")
_CARRIER_PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,31}$")
_KUAIDI100_TIME = "%Y-%m-%d %H:%M:%S"
_BRACKETED = re.compile(r"【([^】]{2,60})】")
_FACILITY_SUFFIXES = (
    "中心", "营业部", "网点", "分部", "营业点", "转运场", "驿站", "仓", "站", "点",
)
# Kuaidi100 trace item `status` text -> main state code (QueryTrackResp.java).
KUAIDI100_STATE_BY_TEXT: Mapping[str, str] = {
    "在途": "0", "揽收": "1", "疑难": "2", "签收": "3", "退签": "4", "派件": "5", "退回": "6",
    "转投": "7", "转单": "7", "待清关": "10", "清关中": "11", "已清关": "12", "清关异常": "13",
    "拒签": "14",
}


class FeedSignatureInvalid(InvalidInput):
    """The body's signature is missing or does not verify; nothing was parsed."""


class FeedMalformed(InvalidInput):
    """The body is signed correctly but is not the shape the source documents."""


@dataclass(frozen=True)
class ResubscribeRequired:
    """Kuaidi100 stopped tracking (`abort`): subscribe the waybill again. Not an event."""

    waybill_no: str
    carrier_code: str | None
    message: str


@dataclass(frozen=True)
class Kuaidi100Push:
    status: str  # polling / shutdown / abort / updateall
    message: str
    waybill_no: str
    carrier_code: str | None
    events: tuple[CarrierEvent, ...]  # oldest first
    resubscribe: ResubscribeRequired | None
    carrier_corrected: tuple[str, str] | None  # (comOld, comNew) when Kuaidi100 fixed it


@dataclass(frozen=True)
class AfterShipWebhook:
    event_type: str  # tracking_update / edd_revise / tracking_pending_time
    notification_id: str
    is_tracking_first_tag: bool | None
    waybill_no: str
    carrier_code: str | None
    events: tuple[CarrierEvent, ...]  # oldest first


# ---------------------------------------------------------------- signatures
def kuaidi100_sign(param: str, salt: str) -> str:
    """`upper(md5(param + salt))` as Kuaidi100 computes it (UTF-8)."""
    return hashlib.md5((param + salt).encode("utf-8"), usedforsecurity=False).hexdigest().upper()


def verify_hmac_sha256_base64(body: bytes, signature: str | None, secret: str, header: str) -> None:
    """Check base64(HMAC-SHA256(secret, body)) against the header value, in constant time.

    Raises FeedSignatureInvalid naming `header` when it is absent or does not match.
    """
    if not signature:
        raise FeedSignatureInvalid(f"missing signature header {header}", field=header)
    expected = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest())
    if not hmac.compare_digest(expected, signature.strip().encode("utf-8", "replace")):
        raise FeedSignatureInvalid(
            f"signature in {header} does not match HMAC-SHA256 of the body", field=header
        )


def kuaidi100_ack(ok: bool = True, message: str = "成功") -> bytes:
    """The JSON answer Kuaidi100 expects; anything else makes it retry the push."""
    answer = {"result": ok, "returnCode": "200" if ok else "500", "message": message}
    return json.dumps(answer, ensure_ascii=False).encode("utf-8")


# ---------------------------------------------------------------- Kuaidi100
def parse_kuaidi100_push(body: bytes, *, salt: str) -> Kuaidi100Push:
    """Verify and parse a Kuaidi100 subscription push (form-urlencoded `param`, `sign`).

    Every trace item becomes a CarrierEvent (Kuaidi100 resends the whole history; the
    dedupe keys make that harmless). `status: abort` (3 days without records, or 60 days
    without change) sets `resubscribe`. Raises FeedSignatureInvalid, FeedMalformed.
    """
    form = _form(body)
    param, sign = form.get("param"), form.get("sign")
    if param is None:
        raise FeedMalformed("form field param is missing", field="param")
    if not sign:
        raise FeedSignatureInvalid("form field sign is missing", field="sign")
    expected = kuaidi100_sign(param, salt).encode()
    if not hmac.compare_digest(expected, sign.strip().upper().encode("utf-8", "replace")):
        raise FeedSignatureInvalid("sign does not match upper(md5(param + salt))", field="sign")
    push = _json_object(param.encode("utf-8"), "param")
    status = _text(push, "status", "param")
    result = push.get("lastResult")
    if not isinstance(result, dict):
        raise FeedMalformed("param.lastResult must be an object", field="param.lastResult")
    waybill = _text(result, "nu", "param.lastResult").strip().upper()
    com_new = push.get("comNew") if isinstance(push.get("comNew"), str) else None
    carrier = _carrier(com_new or result.get("com"))
    items = result.get("data", [])
    if not isinstance(items, list):
        raise FeedMalformed("param.lastResult.data must be a list", field="param.lastResult.data")
    state = str(result["state"]) if isinstance(result.get("state"), (str, int)) else None
    events = [_kuaidi100_event(item, i, waybill, carrier, state) for i, item in enumerate(items)]
    message = str(push.get("message", ""))
    old = push.get("comOld")
    return Kuaidi100Push(
        status=status,
        message=message,
        waybill_no=waybill,
        carrier_code=carrier,
        events=tuple(sorted(events, key=lambda e: e.occurred_at)),
        resubscribe=ResubscribeRequired(waybill, carrier, message) if status == "abort" else None,
        carrier_corrected=(old, com_new) if isinstance(old, str) and old and com_new else None,
    )


def _kuaidi100_event(
    item: Any, index: int, waybill: str, carrier: str | None, state: str | None
) -> CarrierEvent:
    where = f"param.lastResult.data[{index}]"
    if not isinstance(item, dict):
        raise FeedMalformed(f"{where} must be an object", field=where)
    text = _text(item, "context", where)
    stamp = item.get("ftime") or item.get("time")
    try:
        naive = datetime.strptime(str(stamp), _KUAIDI100_TIME)
    except ValueError:
        raise FeedMalformed(
            f"{where}.ftime: expected 'YYYY-MM-DD HH:MM:SS' (Asia/Shanghai), got {stamp!r}",
            field=f"{where}.ftime",
        ) from None
    occurred = naive.replace(tzinfo=CHINA_STANDARD_TIME)
    codes = [str(item["statusCode"])] if item.get("statusCode") not in (None, "") else []
    by_text = KUAIDI100_STATE_BY_TEXT.get(str(item.get("status", "")).strip())
    codes += [by_text] if by_text else []
    codes += [state] if index == 0 and state else []  # lastResult.state names the newest item
    codes = list(dict.fromkeys(codes)) or [UNCODED]
    return CarrierEvent.build(
        source="kuaidi100", raw_code=codes[0], fallback_codes=tuple(codes[1:]), raw_text=text,
        occurred_at=occurred, waybill_no=waybill, carrier_code=carrier,
        location_name=_kuaidi100_place(text, item.get("areaName")),
        location_admin_code=_admin_code(item.get("areaCode")), raw_message=item,
    )


def _kuaidi100_place(context: str, area_name: Any) -> str | None:
    """The first facility named in 【】 (the current node: 从【A】发出，发往【B】 is at A), else
    the item's areaName. The leading 【上海市】 of many traces is a city, not a facility."""
    for name in _BRACKETED.findall(context):
        if name.endswith(_FACILITY_SUFFIXES):
            return str(name)
    return area_name if isinstance(area_name, str) and area_name else None


def _admin_code(area_code: Any) -> str | None:
    """GB/T 2260 six digits from a Kuaidi100 areaCode such as CN310118000000 or 310118."""
    if not isinstance(area_code, str):
        return None
    digits = area_code.removeprefix("CN")[:6]
    return digits if len(digits) == 6 and digits.isdigit() and digits != "000000" else None


# ---------------------------------------------------------------- AfterShip
def parse_aftership_webhook(
    body: bytes, headers: Mapping[str, str], *, secret: str
) -> AfterShipWebhook:
    """Verify and parse an AfterShip webhook; one CarrierEvent per checkpoint, oldest first.

    Checkpoints are deduplicated by content (AfterShip's event_id names the notification,
    not a checkpoint, and is kept as `notification_id`). A checkpoint time without an
    offset is read as China time for country CHN and refused otherwise. An `edd_revise`
    notification with `edd_revise_reason` (shape not verified) adds an `edd_revise.<reason>`
    event at `ts`. Raises FeedSignatureInvalid, FeedMalformed.
    """
    _check_size(body)
    signature = _header(headers, AFTERSHIP_SIGNATURE_HEADER)
    verify_hmac_sha256_base64(body, signature, secret, AFTERSHIP_SIGNATURE_HEADER)
    document = _json_object(body, "body")
    event_type = _text(document, "event", "body")
    notification = _text(document, "event_id", "body")
    msg = document.get("msg")
    if not isinstance(msg, dict):
        raise FeedMalformed("msg must be an object", field="msg")
    tracking = msg["tracking"] if isinstance(msg.get("tracking"), dict) else msg
    waybill = _text(tracking, "tracking_number", "msg").strip().upper()
    carrier = _carrier(tracking.get("slug"))
    checkpoints = tracking.get("checkpoints", [])
    if not isinstance(checkpoints, list):
        raise FeedMalformed("msg.checkpoints must be a list", field="msg.checkpoints")
    events = [
        _aftership_event(cp, i, waybill, carrier, notification) for i, cp in enumerate(checkpoints)
    ]
    reason = tracking.get("edd_revise_reason")
    if event_type == "edd_revise" and isinstance(reason, str) and reason:
        ts = document.get("ts")
        if not isinstance(ts, int):
            raise FeedMalformed("ts must be Unix seconds", field="ts")
        events.append(CarrierEvent.build(
            source="aftership", raw_code=f"edd_revise.{reason}", raw_text=f"EDD revised: {reason}",
            occurred_at=datetime.fromtimestamp(ts, UTC), waybill_no=waybill, carrier_code=carrier,
            notification_id=notification, raw_message={"edd_revise_reason": reason, "ts": ts},
        ))
    first_tag = document.get("is_tracking_first_tag")
    return AfterShipWebhook(
        event_type=event_type, notification_id=notification,
        is_tracking_first_tag=first_tag if isinstance(first_tag, bool) else None,
        waybill_no=waybill, carrier_code=carrier,
        events=tuple(sorted(events, key=lambda e: e.occurred_at)),
    )


def _aftership_event(
    cp: Any, index: int, waybill: str, carrier: str | None, notification: str
) -> CarrierEvent:
    where = f"msg.checkpoints[{index}]"
    if not isinstance(cp, dict):
        raise FeedMalformed(f"{where} must be an object", field=where)
    tag = _text(cp, "tag", where)
    subtag = cp.get("subtag") if isinstance(cp.get("subtag"), str) and cp.get("subtag") else None
    stamp = _text(cp, "checkpoint_time", where)
    try:
        occurred = datetime.fromisoformat(stamp)
    except ValueError:
        raise FeedMalformed(f"{where}.checkpoint_time: not ISO 8601: {stamp!r}",
                            field=f"{where}.checkpoint_time") from None
    if occurred.tzinfo is None:
        if cp.get("country_iso3") != "CHN":
            raise FeedMalformed(f"{where}.checkpoint_time {stamp!r} has no offset and the "
                                "country is not CHN", field=f"{where}.checkpoint_time")
        occurred = occurred.replace(tzinfo=CHINA_STANDARD_TIME)
    parts = [cp.get("location")] if cp.get("location") else [cp.get("city"), cp.get("state")]
    place = ", ".join(p for p in parts if isinstance(p, str) and p) or None
    return CarrierEvent.build(
        source="aftership", raw_code=subtag or tag, fallback_codes=(tag,) if subtag else (),
        raw_text=str(cp.get("message") or cp.get("subtag_message") or tag), occurred_at=occurred,
        waybill_no=waybill, carrier_code=_carrier(cp.get("slug")) or carrier,
        location_name=place, notification_id=notification, raw_message=cp,
    )


# ---------------------------------------------------------------- generic feed
_GENERIC_REQUIRED = ("source", "waybill_no", "carrier_code", "raw_code", "raw_text", "occurred_at")
_GENERIC_OPTIONAL = ("location", "event_id", "fields")


def parse_generic_feed(
    body: bytes, headers: Mapping[str, str], *, secret: str
) -> tuple[CarrierEvent, ...]:
    """Verify and parse our generic feed: one event object, or a JSON array of them.

    Object: {source, waybill_no, carrier_code, raw_code, raw_text, occurred_at (RFC 3339
    with offset), location? ({name?, admin_code?} or a name), event_id?, fields?}; no
    other keys. Raises FeedSignatureInvalid, FeedMalformed (naming e.g. `[2].occurred_at`).
    """
    _check_size(body)
    signature = _header(headers, GENERIC_SIGNATURE_HEADER)
    verify_hmac_sha256_base64(body, signature, secret, GENERIC_SIGNATURE_HEADER)
    document = _json(body, "body")
    items = document if isinstance(document, list) else [document]
    if not items:
        raise FeedMalformed("body is an empty list", field="body")
    prefix = isinstance(document, list)
    return tuple(_generic_event(item, f"[{i}]." if prefix else "") for i, item in enumerate(items))


def _generic_event(item: Any, at: str) -> CarrierEvent:
    if not isinstance(item, dict):
        raise FeedMalformed(f"{at or 'body'} must be an object", field=at.rstrip(".") or "body")
    unknown = sorted(set(item) - set(_GENERIC_REQUIRED) - set(_GENERIC_OPTIONAL))
    if unknown:
        raise FeedMalformed(f"unknown field {at}{unknown[0]}", field=f"{at}{unknown[0]}")
    values = {name: _text(item, name, at.rstrip(".") or "body") for name in _GENERIC_REQUIRED}
    if not _SOURCE_PATTERN.match(values["source"]):
        raise _bad(at, "source", f"{values['source']!r} is not a source name")
    if not 1 <= len(values["raw_code"]) <= 64:
        raise _bad(at, "raw_code", "must have 1 to 64 characters")
    try:
        occurred = parse_rfc3339(values["occurred_at"])
    except ValueError as exc:
        raise _bad(at, "occurred_at", str(exc)) from None
    event_id = item.get("event_id")
    if event_id is not None and not (
        isinstance(event_id, str) and _EVENT_ID_PATTERN.match(event_id)
    ):
        raise _bad(at, "event_id", f"must match {_EVENT_ID_PATTERN.pattern}")
    if "fields" in item and not isinstance(item["fields"], dict):
        raise _bad(at, "fields", "must be an object")
    name, admin = _generic_location(item.get("location"), at)
    return CarrierEvent.build(
        source=values["source"], raw_code=values["raw_code"], raw_text=values["raw_text"],
        occurred_at=occurred, waybill_no=values["waybill_no"].strip().upper(),
        carrier_code=_carrier(values["carrier_code"]), location_name=name,
        location_admin_code=admin, event_id=event_id, raw_message=item,
    )


def _generic_location(location: Any, at: str) -> tuple[str | None, str | None]:
    if location is None or isinstance(location, str):
        return location or None, None
    if not isinstance(location, dict) or set(location) - {"name", "admin_code"}:
        raise _bad(at, "location", "must be a name or {name, admin_code}")
    admin = location.get("admin_code")
    if admin is not None and not (isinstance(admin, str) and len(admin) == 6 and admin.isdigit()):
        raise _bad(at, "location.admin_code", "must be six digits (GB/T 2260)")
    name = location.get("name")
    return (name if isinstance(name, str) and name else None), admin


# ---------------------------------------------------------------- helpers
def _bad(at: str, name: str, problem: str) -> FeedMalformed:
    return FeedMalformed(f"{at}{name} {problem}", field=f"{at}{name}")


def _check_size(body: bytes) -> None:
    if len(body) > MAX_BODY_BYTES:
        raise FeedMalformed(f"body of {len(body)} bytes exceeds {MAX_BODY_BYTES}", field="body")


def _header(headers: Mapping[str, str], name: str) -> str | None:
    return next((value for key, value in headers.items() if key.lower() == name), None)


def _form(body: bytes) -> dict[str, str]:
    _check_size(body)
    try:
        parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
    except (UnicodeDecodeError, ValueError) as exc:
        raise FeedMalformed(f"body is not UTF-8 form data: {exc}", field="body") from None
    repeated = sorted(name for name, values in parsed.items() if len(values) > 1)
    if repeated:
        raise FeedMalformed(f"form field {repeated[0]} is repeated", field=repeated[0])
    return {name: values[0] for name, values in parsed.items()}


def _json(raw: bytes, field: str) -> Any:
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise FeedMalformed(f"{field} is not UTF-8 JSON: {exc}", field=field) from None


def _json_object(raw: bytes, field: str) -> dict[str, Any]:
    value = _json(raw, field)
    if not isinstance(value, dict):
        raise FeedMalformed(f"{field} must be a JSON object", field=field)
    return value


def _text(container: Mapping[str, Any], name: str, where: str) -> str:
    value = container.get(name)
    path = f"{where}.{name}" if where else name
    if not isinstance(value, str) or not value.strip():
        raise FeedMalformed(f"{path} must be a non-empty string", field=path)
    return value


def _carrier(code: Any) -> str | None:
    """A carrier code in the catalogue's spelling (`china-ems` -> `china_ems`), or None."""
    if not isinstance(code, str):
        return None
    normalised = code.strip().lower().replace("-", "_")
    return normalised if _CARRIER_PATTERN.match(normalised) else None

