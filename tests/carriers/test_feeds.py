"""Webhook parsers: fixtures parse, signatures are enforced, bad bodies are refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pytest

from api.carrier_feeds import (
    AFTERSHIP_SIGNATURE_HEADER,
    CHINA_STANDARD_TIME,
    GENERIC_SIGNATURE_HEADER,
    MAX_BODY_BYTES,
    FeedMalformed,
    FeedSignatureInvalid,
    kuaidi100_ack,
    kuaidi100_sign,
    parse_aftership_webhook,
    parse_generic_feed,
    parse_kuaidi100_push,
)
from statemodel.carriers.event import CarrierEvent, dedupe_key
from statemodel.errors import InvalidInput
from tests.carriers.fixtures import (
    AFTERSHIP_SECRET,
    GENERIC_SECRET,
    KUAIDI100_CASES,
    KUAIDI100_SALT,
    fixture_bytes,
    hmac_header,
    kuaidi100_body,
)


def _push(body: bytes, salt: str = KUAIDI100_SALT) -> Any:
    return parse_kuaidi100_push(body, salt=salt)


def _form(param: dict[str, Any] | str, sign: str | None = None) -> bytes:
    text = param if isinstance(param, str) else json.dumps(param, ensure_ascii=False)
    fields = {
        "param": text,
        "sign": sign if sign is not None else kuaidi100_sign(text, KUAIDI100_SALT),
    }
    return urlencode(fields).encode()


def _aftership(body: bytes, secret: str = AFTERSHIP_SECRET) -> Any:
    headers = {"Aftership-Hmac-Sha256": hmac_header(body, secret)}
    return parse_aftership_webhook(body, headers, secret=AFTERSHIP_SECRET)


def _generic(body: bytes, secret: str = GENERIC_SECRET) -> tuple[CarrierEvent, ...]:
    headers = {"X-OrderLedger-Signature": hmac_header(body, secret)}
    return parse_generic_feed(body, headers, secret=GENERIC_SECRET)


# ---------------------------------------------------------------- Kuaidi100
@pytest.mark.parametrize("case", KUAIDI100_CASES)
def test_committed_kuaidi100_bodies_match_their_readable_params(case: str) -> None:
    assert fixture_bytes(f"kuaidi100_push_{case}.txt") == kuaidi100_body(case), (
        "run python -m tests.carriers.fixtures"
    )


def test_kuaidi100_polling_push_parses_every_trace_item_oldest_first() -> None:
    push = _push(fixture_bytes("kuaidi100_push_polling.txt"))
    assert (push.status, push.waybill_no, push.carrier_code) == (
        "polling",
        "78912345678901",
        "zhongtong",
    )
    assert push.resubscribe is None
    assert push.carrier_corrected is None
    assert [e.raw_code for e in push.events] == ["103", "0", "1002", "1001"]
    first, hub, _, last = push.events
    assert first.occurred_at == datetime(2026, 2, 19, 15, 3, 27, tzinfo=CHINA_STANDARD_TIME)
    assert first.occurred_at.utcoffset() is not None
    assert hub.location_name == "杭州转运中心"
    assert hub.location_admin_code == "330110"
    assert last.fallback_codes == ("0",)  # status text 在途 behind statusCode 1001
    assert last.raw_message["areaName"] == "上海,上海市,闵行区"


def test_kuaidi100_abort_says_resubscribe_and_is_no_event() -> None:
    push = _push(fixture_bytes("kuaidi100_push_abort.txt"))
    assert push.status == "abort"
    assert push.events == ()
    assert push.resubscribe is not None
    assert (push.resubscribe.waybill_no, push.resubscribe.carrier_code) == (
        "SF1428653029371",
        "shunfeng",
    )
    assert push.resubscribe.message == "3天查询无记录"


def test_kuaidi100_basic_items_take_codes_from_status_text_and_last_state() -> None:
    push = _push(fixture_bytes("kuaidi100_push_signed_basic.txt"))
    assert push.status == "shutdown"
    assert push.carrier_corrected == ("yuantong", "zhongtong")
    assert [(e.raw_code, e.fallback_codes) for e in push.events] == [("5", ()), ("3", ())]


def test_kuaidi100_item_without_any_code_is_kept_as_uncoded() -> None:
    param = json.loads(fixture_bytes("kuaidi100_param_signed_basic.json"))
    param["lastResult"]["data"].append(
        {"ftime": "2026-02-19 09:00:00", "context": "【上海市】包裹处理中"}
    )
    push = _push(_form(param))
    assert push.events[0].raw_code == "uncoded"


@pytest.mark.parametrize(
    ("body", "error", "field"),
    [
        pytest.param(
            kuaidi100_body("polling", salt="wrong-salt"),
            FeedSignatureInvalid,
            "sign",
            id="wrong-salt",
        ),
        pytest.param(
            fixture_bytes("kuaidi100_push_polling.txt").replace(b"%E6%9D%AD", b"%E6%9D%AE"),
            FeedSignatureInvalid,
            "sign",
            id="tampered-param",
        ),
        pytest.param(b"param=%7B%7D", FeedSignatureInvalid, "sign", id="no-sign"),
        pytest.param(b"sign=ABC", FeedMalformed, "param", id="no-param"),
        pytest.param(b"\xff\xfe", FeedMalformed, "body", id="not-utf8"),
        pytest.param(b"param=1&param=2&sign=x", FeedMalformed, "param", id="repeated-field"),
        pytest.param(_form("not json"), FeedMalformed, "param", id="param-not-json"),
        pytest.param(
            _form({"status": "polling"}), FeedMalformed, "param.lastResult", id="no-last-result"
        ),
        pytest.param(
            _form(
                {
                    "status": "polling",
                    "lastResult": {
                        "nu": "78912345678901",
                        "data": [{"context": "到达", "ftime": "2026/02/19 18:32"}],
                    },
                }
            ),
            FeedMalformed,
            "param.lastResult.data[0].ftime",
            id="bad-time",
        ),
        pytest.param(
            _form(
                {
                    "status": "polling",
                    "lastResult": {"nu": "78912345678901", "data": {"context": "x"}},
                }
            ),
            FeedMalformed,
            "param.lastResult.data",
            id="data-not-list",
        ),
    ],
)
def test_kuaidi100_bad_bodies_are_refused(
    body: bytes, error: type[InvalidInput], field: str
) -> None:
    with pytest.raises(error) as caught:
        _push(body)
    assert caught.value.field == field
    assert isinstance(caught.value, InvalidInput)


def test_kuaidi100_sign_is_case_insensitive_hex() -> None:
    param = json.dumps(
        {"status": "abort", "message": "60天无变化", "lastResult": {"nu": "SF1428653029371"}}
    )
    push = _push(_form(param, sign=kuaidi100_sign(param, KUAIDI100_SALT).lower()))
    assert push.resubscribe is not None


def test_kuaidi100_ack_is_the_json_it_expects() -> None:
    assert json.loads(kuaidi100_ack()) == {"result": True, "returnCode": "200", "message": "成功"}
    assert json.loads(kuaidi100_ack(False, "失败"))["returnCode"] == "500"


# ---------------------------------------------------------------- AfterShip
def test_aftership_webhook_parses_checkpoints() -> None:
    hook = _aftership(fixture_bytes("aftership_tracking_update.json"))
    assert (hook.event_type, hook.waybill_no, hook.carrier_code) == (
        "tracking_update",
        "EA123456785CN",
        "china_ems",
    )
    assert hook.is_tracking_first_tag is True
    assert [e.raw_code for e in hook.events] == [
        "InTransit_002",
        "InTransit_007",
        "Exception_016",
        "Exception_018",
    ]
    assert all(
        e.notification_id == hook.notification_id and e.event_id is None for e in hook.events
    )
    assert hook.events[0].fallback_codes == ("InTransit",)
    # No offset, country CHN: read as China time.
    assert hook.events[2].occurred_at == datetime(2026, 3, 29, 6, 5, tzinfo=CHINA_STANDARD_TIME)
    assert hook.events[3].location_name == "广州市, 广东省"


def test_aftership_header_name_is_case_insensitive_but_required() -> None:
    body = fixture_bytes("aftership_tracking_update.json")
    parsed = parse_aftership_webhook(
        body,
        {AFTERSHIP_SIGNATURE_HEADER.upper(): hmac_header(body, AFTERSHIP_SECRET)},
        secret=AFTERSHIP_SECRET,
    )
    assert len(parsed.events) == 4
    with pytest.raises(FeedSignatureInvalid, match="missing signature header") as caught:
        parse_aftership_webhook(body, {}, secret=AFTERSHIP_SECRET)
    assert caught.value.field == AFTERSHIP_SIGNATURE_HEADER


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda b: b, id="wrong-secret"),
        pytest.param(lambda b: b.replace(b"Exception_018", b"Delivered_001"), id="tampered-body"),
    ],
)
def test_aftership_bad_signature_is_refused(tamper: Any) -> None:
    body = fixture_bytes("aftership_tracking_update.json")
    signature = hmac_header(body, "another-secret" if tamper(body) == body else AFTERSHIP_SECRET)
    with pytest.raises(FeedSignatureInvalid, match="does not match"):
        parse_aftership_webhook(
            tamper(body), {"aftership-hmac-sha256": signature}, secret=AFTERSHIP_SECRET
        )


def _aftership_doc(**checkpoint: Any) -> dict[str, Any]:
    base = {
        "checkpoint_time": "2026-03-28T09:12:00",
        "tag": "InTransit",
        "subtag": "InTransit_003",
        "message": "Arrived at facility",
        "country_iso3": "DEU",
    }
    return {
        "ts": 1774665600,
        "event": "tracking_update",
        "event_id": "e1",
        "msg": {
            "tracking_number": "EA123456785CN",
            "slug": "china-ems",
            "checkpoints": [{**base, **checkpoint}],
        },
    }


@pytest.mark.parametrize(
    ("document", "field"),
    [
        pytest.param(
            _aftership_doc(), "msg.checkpoints[0].checkpoint_time", id="naive-time-outside-china"
        ),
        pytest.param(
            _aftership_doc(checkpoint_time="yesterday"),
            "msg.checkpoints[0].checkpoint_time",
            id="not-iso-time",
        ),
        pytest.param(_aftership_doc(tag=""), "msg.checkpoints[0].tag", id="empty-tag"),
        pytest.param(
            {"event": "tracking_update", "event_id": "e1", "msg": []}, "msg", id="msg-not-object"
        ),
        pytest.param({"event": "tracking_update", "msg": {}}, "body.event_id", id="no-event-id"),
    ],
)
def test_aftership_malformed_bodies_are_refused(document: dict[str, Any], field: str) -> None:
    with pytest.raises(FeedMalformed) as caught:
        _aftership(json.dumps(document).encode())
    assert caught.value.field == field


def test_aftership_edd_revise_reason_becomes_an_event() -> None:
    document = _aftership_doc(checkpoint_time="2026-03-28T09:12:00+01:00")
    document["event"] = "edd_revise"
    document["msg"]["edd_revise_reason"] = "heavy_rain"
    hook = _aftership(json.dumps(document).encode())
    (revise,) = [e for e in hook.events if e.raw_code.startswith("edd_revise.")]
    assert revise.raw_code == "edd_revise.heavy_rain"
    assert revise.occurred_at == datetime.fromtimestamp(1774665600, UTC)


# ---------------------------------------------------------------- generic feed
def test_generic_batch_parses() -> None:
    events = _generic(fixture_bytes("generic_feed_batch.json"))
    assert [e.raw_code for e in events] == ["GTMS_STA_SIGNED", "GSTA_SIGN"]
    assert events[0].event_id == "cn-evt-20260221-000187"
    assert events[0].location_admin_code == "330106"
    assert events[1].location_name == "菜鸟驿站·杭州西湖文三路店"
    assert events[1].raw_message["fields"] == {"station_code": "HZ-XH-0312"}


def _generic_item(**changes: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "source": "cainiao",
        "waybill_no": "YT7512345678901",
        "carrier_code": "yuantong",
        "raw_code": "GTMS_SIGNED",
        "raw_text": "已签收",
        "occurred_at": "2026-02-21T16:20:05+08:00",
    }
    item.update(changes)
    return {k: v for k, v in item.items() if v is not None}


@pytest.mark.parametrize(
    ("document", "field"),
    [
        pytest.param(
            _generic_item(occurred_at="2026-02-21 16:20:05"), "occurred_at", id="no-offset"
        ),
        pytest.param(_generic_item(raw_code=None), "body.raw_code", id="missing-raw-code"),
        pytest.param(_generic_item(colour="red"), "colour", id="unknown-field"),
        pytest.param(_generic_item(source="Not A Source"), "source", id="bad-source"),
        pytest.param(_generic_item(event_id="has spaces"), "event_id", id="bad-event-id"),
        pytest.param(
            _generic_item(location={"admin_code": "3301"}),
            "location.admin_code",
            id="short-admin-code",
        ),
        pytest.param(
            [_generic_item(), _generic_item(raw_text="")], "[1].raw_text", id="second-item-bad"
        ),
        pytest.param([], "body", id="empty-list"),
    ],
)
def test_generic_malformed_bodies_are_refused(document: Any, field: str) -> None:
    with pytest.raises(FeedMalformed) as caught:
        _generic(json.dumps(document).encode())
    assert caught.value.field == field


def test_generic_bad_signature_and_oversized_body_are_refused() -> None:
    body = json.dumps(_generic_item()).encode()
    with pytest.raises(FeedSignatureInvalid):
        _generic(body, secret="not-the-secret")
    with pytest.raises(FeedSignatureInvalid):
        parse_generic_feed(
            body, {GENERIC_SIGNATURE_HEADER: "!!not base64!!"}, secret=GENERIC_SECRET
        )
    big = b" " * (MAX_BODY_BYTES + 1)
    with pytest.raises(FeedMalformed, match="exceeds"):
        _generic(big)


# ---------------------------------------------------------------- dedupe keys
def test_dedupe_key_is_stable_across_redelivery_and_offset_spelling() -> None:
    first = _push(fixture_bytes("kuaidi100_push_polling.txt")).events
    again = _push(fixture_bytes("kuaidi100_push_polling.txt")).events
    assert [e.dedupe_key for e in first] == [e.dedupe_key for e in again]
    assert len({e.dedupe_key for e in first}) == len(first)
    local = datetime(2026, 2, 19, 15, 3, 27, tzinfo=CHINA_STANDARD_TIME)
    utc = datetime(2026, 2, 19, 7, 3, 27, tzinfo=UTC)
    assert dedupe_key("kuaidi100", "78912345678901", "103", local) == first[0].dedupe_key
    assert dedupe_key("kuaidi100", "78912345678901", "103", utc) == first[0].dedupe_key
    assert first[0].dedupe_key == "".join(first[0].dedupe_key)  # plain hex text
    assert len(first[0].dedupe_key) == 64


@pytest.mark.parametrize(
    "changed",
    [
        pytest.param(("kuaidi100", "78912345678901", "1", None), id="other-code"),
        pytest.param(("kuaidi100", "78912345678902", "103", None), id="other-waybill"),
        pytest.param(("aftership", "78912345678901", "103", None), id="other-source"),
        pytest.param(("kuaidi100", "78912345678901", "103", "evt-1"), id="with-event-id"),
    ],
)
def test_dedupe_key_changes_with_what_identifies_the_event(changed: tuple[Any, ...]) -> None:
    when = datetime(2026, 2, 19, 15, 3, 27, tzinfo=CHINA_STANDARD_TIME)
    base = dedupe_key("kuaidi100", "78912345678901", "103", when)
    source, waybill, code, event_id = changed
    assert dedupe_key(source, waybill, code, when, event_id) != base


def test_event_id_key_ignores_content_and_naive_times_are_refused() -> None:
    when = datetime(2026, 2, 21, 16, 20, 5, tzinfo=CHINA_STANDARD_TIME)
    one = dedupe_key("cainiao", "A", "GTMS_SIGNED", when, "evt-1")
    assert one == dedupe_key("cainiao", "B", "GSTA_SIGN", when.replace(hour=1), "evt-1")
    with pytest.raises(ValueError, match="offset"):
        dedupe_key("cainiao", "A", "GTMS_SIGNED", datetime(2026, 2, 21, 16, 20, 5))
    generic = _generic(fixture_bytes("generic_feed_batch.json"))
    assert generic[0].dedupe_key == dedupe_key(
        "cainiao", "YT7512345678901", "GTMS_STA_SIGNED", when, "cn-evt-20260221-000187"
    )
