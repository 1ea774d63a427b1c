"""Carrier webhooks over real HTTP, replayed from the realistic fixtures, on both backends.

Each test makes orders of its own (the module's database is shared), moves them along
the happy path to where the carrier's events apply, routes the fixture's waybill to
them, and delivers the signed body as the carrier would.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import text

from api.carrier_feeds import kuaidi100_sign
from tests.api.conftest import TENANT_A, TENANT_B, Api
from tests.api.data import HAPPY, create_body, event_body
from tests.api.live import Reply
from tests.api.test_metrics import _scrape, _value
from tests.carriers.fixtures import (
    AFTERSHIP_SECRET,
    FIXTURES,
    GENERIC_SECRET,
    KUAIDI100_SALT,
    fixture_bytes,
    hmac_header,
    kuaidi100_body,
)
from tests.ledger.support import raw_connection

K100_WAYBILL = "78912345678901"
AFTERSHIP_WAYBILL = "EA123456785CN"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
PROBLEM = "https://orderledger.dev/problems/"
#: Steps of the happy path that bring an order to a sub-state.
TO_PICKUP_BOOKED = 7  # ... pickup_booked: M04.01
TO_LINEHAUL = 9  # ... picked_up, linehaul_departed: M05.01

#: Before the first scan of every fixture (Kuaidi100: 2026-02-19 15:03 +08:00).
BEFORE_FIXTURES = "2026-02-19T08:00:00+08:00"
SECRETS = {"kuaidi100": KUAIDI100_SALT, "aftership": AFTERSHIP_SECRET, "generic": GENERIC_SECRET}


@pytest.fixture(scope="module")
def feeds(api: Api) -> Api:
    """The module's server with tenant A's three feed secrets set by its admin."""
    for feed, secret in SECRETS.items():
        reply = api.server.call("PUT", f"/v1/feeds/{TENANT_A}/secrets/{feed}",
                                token=api.tokens["admin-all"], json_body={"secret": secret})
        assert reply.status == 200, reply.body
        assert "secret" not in reply.body
    return api


def _order(
    api: Api, order: str, steps: int, waybill: str | None, at: str = BEFORE_FIXTURES
) -> None:
    """Create `order` of tenant A, push `steps` happy-path steps (all dated `at`: the
    ledger refuses carrier scans dated over a day before the order's latest event),
    route `waybill` to it."""
    token = api.tokens["platform-a"]
    reply = api.server.call("POST", "/v1/orders", token=token,
                            json_body={**create_body(TENANT_A, order), "event_time": at})
    assert reply.status == 201, reply.body
    for step in HAPPY.steps[1:steps]:
        reply = api.server.call("POST", f"/v1/orders/{TENANT_A}/{order}/events", token=token,
                                json_body=event_body(step, event_time=at))
        assert reply.status == 201, reply.body
    if waybill is not None:
        reply = _route(api, order, waybill)
        assert reply.status == 201, reply.body


def _route(api: Api, order: str, waybill: str, key: str = "platform-a") -> Reply:
    return api.server.call("PUT", f"/v1/orders/{TENANT_A}/{order}/waybills/{waybill}",
                           token=api.tokens[key], json_body={})


def _chain(api: Api, order: str) -> list[dict[str, Any]]:
    reply = api.server.call("GET", f"/v1/orders/{TENANT_A}/{order}",
                            token=api.tokens["auditor-all"])
    assert reply.status == 200, reply.body
    chain: list[dict[str, Any]] = reply.body["chain"]
    return chain


def _kuaidi100(api: Api, body: bytes, tenant: str = TENANT_A) -> Reply:
    return api.server.call("POST", f"/v1/feeds/kuaidi100/{tenant}", body=body, headers=FORM)


def _signed(api: Api, feed: str, body: bytes, *, secret: str | None = None,
            tenant: str = TENANT_A) -> Reply:
    header = "aftership-hmac-sha256" if feed == "aftership" else "x-orderledger-signature"
    headers = {"Content-Type": "application/json",
               header: hmac_header(body, secret or SECRETS[feed])}
    return api.server.call("POST", f"/v1/feeds/{feed}/{tenant}", body=body, headers=headers)


def _generic_event(waybill: str, event_id: str, **overrides: Any) -> dict[str, Any]:
    event = {
        "source": "kuaidi100", "waybill_no": waybill, "carrier_code": "zhongtong",
        "raw_code": "0", "raw_text": "【杭州市】快件已到达【杭州转运中心】",
        "occurred_at": "2026-03-02T18:32:45+08:00",
        "location": {"name": "杭州转运中心", "admin_code": "330110"}, "event_id": event_id,
    }
    return {**event, **overrides}


def _findings(api: Api, *outcomes: str) -> list[dict[str, Any]]:
    reply = api.server.call("GET", f"/v1/feeds/{TENANT_A}/findings",
                            token=api.tokens["auditor-a"], query={"limit": 1000})
    assert reply.status == 200, reply.body
    items: list[dict[str, Any]] = reply.body["items"]
    return [i for i in items if not outcomes or i["outcome"] in outcomes]


def _stored_counts(api: Api) -> tuple[int, int, int]:
    """(records, carrier feed events, waybill routes) in the database."""
    with raw_connection(api.database_url) as conn:
        return tuple(  # type: ignore[return-value]
            int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
            for table in ("records", "carrier_feed_events", "carrier_subscriptions")
        )


def _slugs(results: list[dict[str, Any]]) -> list[str | None]:
    return [r["problem"]["type"].removeprefix(PROBLEM) if r["problem"] else None
            for r in results]


# ---------------------------------------------------------------- Kuaidi100
def test_kuaidi100_push_records_what_applies_and_keeps_the_rest_as_findings(
    feeds: Api,
) -> None:
    _order(feeds, "k100-poll", TO_LINEHAUL, K100_WAYBILL)
    before = len(_chain(feeds, "k100-poll"))

    reply = _kuaidi100(feeds, fixture_bytes("kuaidi100_push_polling.txt"))

    assert reply.status == 200, reply.body
    body = reply.body
    assert (body["result"], body["returnCode"]) == (True, "200")
    results = body["results"]
    assert [r["raw_code"] for r in results] == ["103", "0", "1002", "1001"]
    assert [r["outcome"] for r in results] == ["refused", "recorded", "refused", "refused"]
    assert _slugs(results) == [
        "illegal-transition", None, "missing-actionable-field", "missing-actionable-field"
    ]
    assert (body["received"], body["recorded"], body["duplicates"], body["findings"]) == (
        4, 1, 0, 3
    )
    chain = _chain(feeds, "k100-poll")
    assert len(chain) == before + 1
    record = results[1]["record"]
    assert record["statement"]["event"] == "hub_scan"
    assert record["statement"]["actor"] == {"type": "carrier", "id": "kuaidi100-feed"}
    assert record["payload"]["source"] == {
        "system": "kuaidi100", "raw_code": "0", "raw_text": "【杭州市】快件已到达【杭州转运中心】",
        "mapping_version": "2026.1",
    }
    assert chain[-1]["statement_hash"] == record["statement_hash"]
    stored = [f for f in _findings(feeds) if f["order"] == "k100-poll"]
    assert sorted(f["raw_code"] for f in stored) == ["1001", "1002", "103"]
    assert {f["body_sha256"] for f in stored} == {body["body_sha256"]}


def test_a_redelivered_kuaidi100_push_is_answered_as_duplicates_and_stores_nothing(
    feeds: Api,
) -> None:
    _order(feeds, "k100-again", TO_LINEHAUL, "78912345678902")
    push = _resigned_polling("78912345678902")
    original = _kuaidi100(feeds, push)
    assert original.body["recorded"] == 1, original.body
    counts = _stored_counts(feeds)

    again = _kuaidi100(feeds, push)

    assert again.status == 200, again.body
    results = again.body["results"]
    assert [r["duplicate"] for r in results] == [True] * 4
    assert [r["status"] for r in results] == [200] * 4
    assert [r["outcome"] for r in results] == [r["outcome"] for r in original.body["results"]]
    assert results[1]["record"]["statement_hash"] == (
        original.body["results"][1]["record"]["statement_hash"]
    )
    assert (again.body["recorded"], again.body["duplicates"], again.body["result"]) == (
        0, 4, True
    )
    assert _stored_counts(feeds) == counts


def _resigned_polling(waybill: str) -> bytes:
    """The polling fixture for another waybill, signed with the test salt."""
    document = json.loads((FIXTURES / "kuaidi100_param_polling.json").read_text("utf-8"))
    document["lastResult"]["nu"] = waybill
    param = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    return urlencode({"param": param, "sign": kuaidi100_sign(param, KUAIDI100_SALT)}).encode()


def test_kuaidi100_abort_is_kept_as_a_resubscribe_finding(feeds: Api) -> None:
    _order(feeds, "k100-abort", TO_PICKUP_BOOKED, "SF1428653029371")
    push = fixture_bytes("kuaidi100_push_abort.txt")

    reply = _kuaidi100(feeds, push)

    assert reply.status == 200, reply.body
    assert (reply.body["result"], reply.body["results"]) == (True, [])
    marker = reply.body["resubscribe"]
    assert (marker["outcome"], marker["waybill_no"], marker["order"]) == (
        "resubscribe", "SF1428653029371", "k100-abort"
    )
    stored = [f for f in _findings(feeds, "resubscribe") if f["order"] == "k100-abort"]
    assert [(f["raw_code"], f["raw_text"]) for f in stored] == [("abort", "3天查询无记录")]
    again = _kuaidi100(feeds, push)
    assert again.body["resubscribe"]["duplicate"] is True
    assert len([f for f in _findings(feeds, "resubscribe") if f["order"] == "k100-abort"]) == 1


# ---------------------------------------------------------------- signatures
def _tampered_sign(body: bytes) -> bytes:
    head, _, sign = body.rpartition(b"sign=")
    return head + b"sign=" + (b"0" if sign[:1] != b"0" else b"1") + sign[1:]


BAD_DELIVERIES: dict[str, tuple[str, str, Any]] = {
    # name: (feed, tenant, how the body is signed)
    "kuaidi100 tampered sign": ("kuaidi100", TENANT_A, "tampered"),
    "kuaidi100 signed with another salt": ("kuaidi100", TENANT_A, "other-salt-0123456"),
    "kuaidi100 for a tenant without a secret": ("kuaidi100", TENANT_B, None),
    "aftership signed with another key": ("aftership", TENANT_A, "not-the-aftership-key"),
    "aftership unsigned": ("aftership", TENANT_A, ""),
    "generic signed with another key": ("generic", TENANT_A, "not-the-generic-key"),
    "generic for a tenant without a secret": ("generic", TENANT_B, None),
}


@pytest.mark.parametrize("case", BAD_DELIVERIES, ids=list(BAD_DELIVERIES))
def test_a_bad_signature_is_401_and_stores_nothing(feeds: Api, case: str) -> None:
    feed, tenant, signing = BAD_DELIVERIES[case]
    _order(feeds, f"badsig-{abs(hash(case)) % 10**8}", TO_LINEHAUL, None)
    counts = _stored_counts(feeds)
    if feed == "kuaidi100":
        body = fixture_bytes("kuaidi100_push_polling.txt")
        if signing == "tampered":
            body = _tampered_sign(body)
        elif signing is not None:
            body = kuaidi100_body("polling", salt=signing)
        reply = _kuaidi100(feeds, body, tenant)
    else:
        name = "aftership_tracking_update.json" if feed == "aftership" else (
            "generic_feed_batch.json")
        body = fixture_bytes(name)
        headers = {"Content-Type": "application/json"}
        if signing:
            header = "aftership-hmac-sha256" if feed == "aftership" else "x-orderledger-signature"
            headers[header] = hmac_header(body, signing)
        reply = feeds.server.call("POST", f"/v1/feeds/{feed}/{tenant}", body=body,
                                  headers=headers)

    assert reply.status == 401, reply.body
    assert reply.media_type == "application/problem+json"
    assert reply.body["type"] == PROBLEM + "feed-signature-invalid"
    assert _stored_counts(feeds) == counts


# ---------------------------------------------------------------- AfterShip
def test_aftership_checkpoints_the_order_cannot_take_are_findings_not_records(
    feeds: Api,
) -> None:
    _order(feeds, "as-1", TO_PICKUP_BOOKED, AFTERSHIP_WAYBILL)
    before = _chain(feeds, "as-1")

    reply = _signed(feeds, "aftership", fixture_bytes("aftership_tracking_update.json"))

    assert reply.status == 200, reply.body
    results = reply.body["results"]
    assert [r["raw_code"] for r in results] == [
        "InTransit_002", "InTransit_007", "Exception_016", "Exception_018"
    ]
    # Acceptance scan = picked_up, but AfterShip gives no courier_ref; the order stays in
    # M04.01, where the others are not allowed.
    assert _slugs(results) == [
        "missing-actionable-field", "illegal-transition", "illegal-transition",
        "illegal-transition",
    ]
    assert [r["event"] for r in results] == [
        "picked_up", "hub_scan", "facility_fault", "customs_documents_required"
    ]
    assert _chain(feeds, "as-1") == before
    stored = {f["raw_code"] for f in _findings(feeds, "refused") if f["order"] == "as-1"}
    assert stored == {r["raw_code"] for r in results}


# ---------------------------------------------------------------- generic feed
def test_generic_events_are_recorded_deduplicated_and_unknown_codes_become_findings(
    feeds: Api,
) -> None:
    _order(feeds, "gen-1", TO_LINEHAUL, "78900000000001")
    hub = _generic_event("78900000000001", "gen-evt-1")
    unknown = _generic_event("78900000000001", "gen-evt-2", raw_code="ZZ_NOT_A_CODE",
                             occurred_at="2026-03-02T19:00:00+08:00")
    station = _generic_event(
        "78900000000001", "gen-evt-3", raw_code="1001", occurred_at="2026-03-03T07:30:00+08:00",
        raw_text="【上海市】快件已到达【上海闵行莘庄营业部】，准备派送",
        location={"name": "上海闵行莘庄营业部", "admin_code": "310112"},
        fields={"station_id": "SH-MH-021", "courier_mood": "cheerful"},
    )
    body = json.dumps([hub, unknown, station, hub], ensure_ascii=False).encode()

    reply = _signed(feeds, "generic", body)

    assert reply.status == 200, reply.body
    results = reply.body["results"]
    assert [(r["outcome"], r["status"], r["duplicate"]) for r in results] == [
        ("recorded", 201, False), ("unmappable", 422, False), ("recorded", 201, False),
        ("recorded", 200, True),
    ]
    assert _slugs(results)[1] == "unmappable-code"
    assert results[2]["record"]["payload"]["station_id"] == "SH-MH-021"
    assert results[2]["ignored_fields"] == ["courier_mood"]
    assert results[3]["record"]["statement_hash"] == results[0]["record"]["statement_hash"]
    assert [r["statement"]["event"] for r in _chain(feeds, "gen-1")[-2:]] == [
        "hub_scan", "station_arrived"
    ]
    unmappable = [f for f in _findings(feeds, "unmappable") if f["order"] == "gen-1"]
    assert [(f["raw_code"], f["status"]) for f in unmappable] == [("ZZ_NOT_A_CODE", 422)]


def test_an_unrouted_waybill_is_a_finding_until_it_is_registered(feeds: Api) -> None:
    _order(feeds, "gen-late", TO_LINEHAUL, None)
    body = json.dumps(_generic_event("ZT7890000000002", "late-evt-1")).encode()

    first = _signed(feeds, "generic", body)

    assert [(r["outcome"], r["status"]) for r in first.body["results"]] == [("unrouted", 404)]
    assert _slugs(first.body["results"]) == ["unknown-waybill"]
    assert [f["waybill_no"] for f in _findings(feeds, "unrouted")].count("ZT7890000000002") == 1
    assert _route(feeds, "gen-late", "zt7890000000002").status == 201  # normalised as parsers do

    second = _signed(feeds, "generic", body)

    assert [(r["outcome"], r["status"]) for r in second.body["results"]] == [("recorded", 201)]
    assert "ZT7890000000002" not in [f["waybill_no"] for f in _findings(feeds, "unrouted")]
    assert _chain(feeds, "gen-late")[-1]["statement"]["event"] == "hub_scan"


@pytest.mark.parametrize(
    ("fixture", "feed"),
    [("kuaidi100_push_signed_basic.txt", "kuaidi100"), ("generic_feed_batch.json", "generic"),
     ("kuaidi100_push_polling.txt", "kuaidi100"), ("aftership_tracking_update.json", "aftership")],
)
def test_no_fixture_event_is_silently_dropped(feeds: Api, fixture: str, feed: str) -> None:
    """Every event of every fixture comes back with a record or a problem, and every one
    that made no record is listed as a finding (for a tenant B order: no routes there)."""
    body = fixture_bytes(fixture)
    reply = _kuaidi100(feeds, body) if feed == "kuaidi100" else _signed(feeds, feed, body)

    assert reply.status == 200, reply.body
    for result in reply.body["results"]:
        assert (result["record"] is None) != (result["problem"] is None), result
    keys = {f["dedupe_key"] for f in _findings(feeds)}
    for result in reply.body["results"]:
        if result["outcome"] != "recorded":
            assert result["dedupe_key"] in keys, result


# ---------------------------------------------------------------- waybill routes
def test_waybill_routes_are_registered_once_per_order(feeds: Api) -> None:
    _order(feeds, "route-1", 1, None)
    _order(feeds, "route-2", 1, None)

    assert _route(feeds, "route-1", "WB-ROUTE-1").status == 201
    assert _route(feeds, "route-1", "WB-ROUTE-1", key="admin-a").status == 200
    taken = _route(feeds, "route-2", "wb-route-1")
    assert (taken.status, taken.body["type"], taken.body["order"]) == (
        409, PROBLEM + "waybill-taken", "route-1"
    )
    assert _route(feeds, "no-such-order", "WB-ROUTE-9").status == 404
    assert _route(feeds, "route-2", "WB-ROUTE-2", key="carrier-a").status == 403
    assert _route(feeds, "route-2", "WB-ROUTE-2", key="platform-b").status == 403


SECRET_ACCESS = {"admin-all": 200, "admin-a": 200, "platform-a": 403, "auditor-all": 403}


@pytest.mark.parametrize("key", SECRET_ACCESS)
def test_only_admin_keys_set_feed_secrets(feeds: Api, key: str) -> None:
    reply = feeds.server.call("PUT", f"/v1/feeds/{TENANT_A}/secrets/generic",
                              token=feeds.tokens[key], json_body={"secret": GENERIC_SECRET})
    assert reply.status == SECRET_ACCESS[key], reply.body


def test_a_feed_secret_for_an_unknown_feed_is_refused(feeds: Api) -> None:
    reply = feeds.server.call("PUT", f"/v1/feeds/{TENANT_A}/secrets/dhl",
                              token=feeds.tokens["admin-all"], json_body={"secret": "x" * 20})
    assert (reply.status, reply.body["field"]) == (422, "feed")


def test_feed_outcomes_are_counted_in_metrics(feeds: Api) -> None:
    _order(feeds, "gen-metrics", TO_LINEHAUL, "78900000000009")
    before = _scrape(feeds)
    body = json.dumps([
        _generic_event("78900000000009", "met-evt-1"),
        _generic_event("78900000000009", "met-evt-2", raw_code="ZZ_NOT_A_CODE"),
    ]).encode()

    assert _signed(feeds, "generic", body).status == 200

    after = _scrape(feeds)
    for name, labels, grew in (
        ("orderledger_appends_total", {"via": "feed"}, 1),
        ("orderledger_rejections_total", {"problem": "unmappable-code", "via": "feed_event"}, 1),
        ("orderledger_feed_events_total",
         {"feed": "generic", "outcome": "recorded", "duplicate": "false"}, 1),
    ):
        assert _value(after, name, **labels) - _value(before, name, **labels) == grew, name
