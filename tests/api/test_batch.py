"""Batches: good items commit, bad ones are answered with a problem each, and nothing
else changes."""

from __future__ import annotations

from sqlalchemy import text

from tests.api.conftest import TENANT_A, TENANT_B, Api
from tests.api.data import AUDIT, PAID, PLACED, batch_item, create_body
from tests.ledger.support import raw_connection

PROBLEMS = "https://orderledger.dev/problems/"


def _records_of(url: str, tenant: str, order: str) -> list[tuple[int, str]]:
    with raw_connection(url) as conn:
        rows = conn.execute(
            text("SELECT seq, event FROM records WHERE tenant = :t AND order_id = :o "
                 "ORDER BY seq"), {"t": tenant, "o": order})
        return [(int(r[0]), str(r[1])) for r in rows]


def _count(url: str, table: str) -> int:
    with raw_connection(url) as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def test_mixed_batch_commits_the_good_and_answers_the_bad(api: Api) -> None:
    token = api.tokens["platform-a"]
    existing = api.server.call("POST", "/v1/orders", token=token,
                               json_body=create_body(TENANT_A, "b-existing"))
    assert existing.status == 201
    records_before = _count(api.database_url, "records")
    heads_before = _count(api.database_url, "orders")
    items = [
        {**create_body(TENANT_A, "b-new"), "create": True},                  # 0 good
        batch_item(TENANT_A, "b-existing", PAID),                            # 1 good
        batch_item(TENANT_A, "b-existing", PLACED),                          # 2 illegal
        {**batch_item(TENANT_A, "b-new", PAID), "event": "teleported"},      # 3 unknown
        batch_item(TENANT_B, "b-elsewhere", PAID),                           # 4 tenant
        {"tenant": TENANT_A, "order": "b-new", "event": "payment_captured"},  # 5 schema
        {**batch_item(TENANT_A, "b-new", PAID), "colour": "red"},            # 6 field
        batch_item(TENANT_A, "b-missing", PAID),                             # 7 no order
        batch_item(TENANT_A, "b-new", PAID),                                 # 8 good
        {**batch_item(TENANT_A, "b-new", AUDIT), "payload": {}},             # 9 missing
    ]
    reply = api.server.call("POST", "/v1/events:batch", token=token, json_body={"items": items})
    assert reply.status == 200, reply.body
    results = reply.body["results"]
    assert [r["index"] for r in results] == list(range(len(items)))
    expected = [
        (201, None),
        (201, None),
        (409, "illegal-transition"),
        (422, "unknown-event"),
        (403, "wrong-tenant"),
        (422, "validation-error"),
        (422, "unknown-field"),
        (404, "unknown-order"),
        (201, None),
        (422, "missing-actionable-field"),
    ]
    got = [
        (r["status"], r["problem"]["type"].removeprefix(PROBLEMS) if r["problem"] else None)
        for r in results
    ]
    assert got == expected
    assert results[5]["problem"]["field"] == "event_time"
    assert results[6]["problem"]["field"] == "colour"
    assert results[9]["problem"]["field"].startswith("payload.")
    assert (reply.body["committed"], reply.body["replayed"], reply.body["rejected"]) == (3, 0, 7)
    # Exactly the good items are stored; the refused ones left no record and no head.
    assert _records_of(api.database_url, TENANT_A, "b-new") == [(0, PLACED.event),
                                                                (1, PAID.event)]
    assert _records_of(api.database_url, TENANT_A, "b-existing") == [(0, PLACED.event),
                                                                     (1, PAID.event)]
    assert _records_of(api.database_url, TENANT_A, "b-missing") == []
    assert _records_of(api.database_url, TENANT_B, "b-elsewhere") == []
    assert _count(api.database_url, "records") == records_before + 3
    assert _count(api.database_url, "orders") == heads_before + 1


def test_batch_items_replay_by_idempotency_key(api: Api) -> None:
    token = api.tokens["platform-b"]
    item = {**create_body(TENANT_B, "b-idem"), "create": True, "idempotency_key": "b-idem:0"}
    first = api.server.call("POST", "/v1/events:batch", token=token, json_body={"items": [item]})
    again = api.server.call("POST", "/v1/events:batch", token=token,
                            json_body={"items": [item, {**item, "event_time": PAID.at}]})
    assert first.body["results"][0]["status"] == 201
    assert [r["status"] for r in again.body["results"]] == [200, 409]
    assert again.body["results"][0]["record"]["statement_hash"] == (
        first.body["results"][0]["record"]["statement_hash"])
    assert again.body["results"][1]["problem"]["field"] == "Idempotency-Key"


def test_a_carrier_cannot_create_orders_in_a_batch(api: Api) -> None:
    item = {**create_body(TENANT_A, "b-carrier"), "create": True}
    reply = api.server.call("POST", "/v1/events:batch", token=api.tokens["carrier-a"],
                            json_body={"items": [item]})
    assert reply.body["results"][0]["status"] == 403
    assert reply.body["results"][0]["problem"]["type"] == PROBLEMS + "forbidden"
    assert _records_of(api.database_url, TENANT_A, "b-carrier") == []


def test_batch_size_bounds(api: Api) -> None:
    token = api.tokens["platform-a"]
    item = batch_item(TENANT_A, "nowhere", PAID)
    cases = {"empty": [], "1001 items": [item] * 1001}
    for name, items in cases.items():
        reply = api.server.call("POST", "/v1/events:batch", token=token,
                                json_body={"items": items})
        assert reply.status == 422, name
        assert reply.body["field"] == "items", name
    # 1,000 items are accepted (each refused on its own: no such order).
    reply = api.server.call("POST", "/v1/events:batch", token=token,
                            json_body={"items": [item] * 1000})
    assert reply.status == 200
    assert reply.body["rejected"] == 1000


def test_a_batch_may_be_larger_than_a_single_request(api: Api) -> None:
    """2 MiB is over the 1 MiB single-request limit but within the 16 MiB batch one."""
    item = batch_item(TENANT_A, "nowhere", PAID)
    item["payload"] = {**item["payload"], "note": "x" * 2100}
    body = {"items": [item] * 1000}
    reply = api.server.call("POST", "/v1/events:batch", token=api.tokens["platform-a"],
                            json_body=body)
    assert reply.status == 200, reply.body
