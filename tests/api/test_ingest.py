"""Ingest and read over HTTP: create, push, idempotent replays, expected_seq, the actor
taken from the key, the order view, and the records query with its pagination."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.api.conftest import TENANT_A, TENANT_B, Api
from tests.api.data import AUDIT, PAID, create_body, event_body
from tests.ledger.support import snapshot

PROBLEMS = "https://orderledger.dev/problems/"


def test_create_then_push_answers_201_with_the_signed_record(api: Api) -> None:
    token = api.tokens["platform-a"]
    created = api.server.call("POST", "/v1/orders", token=token,
                              json_body=create_body(TENANT_A, "ing-1"))
    assert created.status == 201, created.body
    assert created.headers["location"] == f"/v1/orders/{TENANT_A}/ing-1"
    record = created.body
    assert record["replayed"] is False
    assert record["statement"]["seq"] == 0
    assert record["statement"]["to"] == "M01.01"
    # The actor is the key, whatever the body might have wanted.
    assert record["statement"]["actor"] == {"type": "platform", "id": "platform-a"}

    pushed = api.server.call("POST", f"/v1/orders/{TENANT_A}/ing-1/events",
                             token=api.tokens["carrier-a"], json_body=event_body(PAID))
    assert pushed.status == 201, pushed.body
    assert pushed.body["statement"]["prev"] == record["statement_hash"]
    assert pushed.body["statement"]["actor"] == {"type": "carrier", "id": "carrier-a"}


def test_an_actor_in_the_body_is_refused_as_an_unknown_field(api: Api) -> None:
    body = {**create_body(TENANT_A, "ing-actor"), "actor": {"type": "system", "id": "root"}}
    before = snapshot(api.database_url)
    reply = api.server.call("POST", "/v1/orders", token=api.tokens["platform-a"], json_body=body)
    assert reply.status == 422
    assert reply.body["type"] == PROBLEMS + "unknown-field"
    assert reply.body["field"] == "actor"
    assert snapshot(api.database_url) == before


def test_idempotent_replay_returns_the_original_and_another_body_is_409(api: Api) -> None:
    token = api.tokens["platform-a"]
    api.server.call("POST", "/v1/orders", token=token, json_body=create_body(TENANT_A, "ing-2"))
    path = f"/v1/orders/{TENANT_A}/ing-2/events"
    key = {"Idempotency-Key": "ing-2:paid"}
    first = api.server.call("POST", path, token=token, json_body=event_body(PAID), headers=key)
    assert first.status == 201
    before = snapshot(api.database_url)
    again = api.server.call("POST", path, token=token, json_body=event_body(PAID), headers=key)
    assert again.status == 200
    assert again.body["replayed"] is True
    assert {k: v for k, v in again.body.items() if k != "replayed"} == {
        k: v for k, v in first.body.items() if k != "replayed"}
    other = api.server.call("POST", path, token=token, json_body=event_body(AUDIT), headers=key)
    assert other.status == 409
    assert other.body["type"] == PROBLEMS + "idempotency-conflict"
    assert other.body["field"] == "Idempotency-Key"
    assert snapshot(api.database_url) == before


def test_idempotent_create_replays_too(api: Api) -> None:
    token, key = api.tokens["platform-b"], {"Idempotency-Key": "create:ing-3"}
    body = create_body(TENANT_B, "ing-3")
    first = api.server.call("POST", "/v1/orders", token=token, json_body=body, headers=key)
    again = api.server.call("POST", "/v1/orders", token=token, json_body=body, headers=key)
    assert (first.status, again.status) == (201, 200)
    assert again.body["statement_hash"] == first.body["statement_hash"]


def test_a_stale_expected_seq_is_409_and_the_right_one_is_accepted(api: Api) -> None:
    token = api.tokens["platform-a"]
    api.server.call("POST", "/v1/orders", token=token, json_body=create_body(TENANT_A, "ing-4"))
    path = f"/v1/orders/{TENANT_A}/ing-4/events"
    stale = api.server.call("POST", path, token=token, json_body=event_body(PAID, expected_seq=3))
    assert stale.status == 409
    assert stale.body["type"] == PROBLEMS + "concurrency-conflict"
    assert (stale.body["expected_seq"], stale.body["actual_seq"]) == (3, 0)
    fresh = api.server.call("POST", path, token=token, json_body=event_body(PAID, expected_seq=0))
    assert fresh.status == 201


def test_the_order_view_names_its_states_and_carries_the_chain(api: Api) -> None:
    token = api.tokens["platform-a"]
    api.server.call("POST", "/v1/orders", token=token, json_body=create_body(TENANT_A, "ing-5"))
    api.server.call("POST", f"/v1/orders/{TENANT_A}/ing-5/events", token=token,
                    json_body=event_body(PAID))
    view = api.server.call("GET", f"/v1/orders/{TENANT_A}/ing-5",
                           token=api.tokens["auditor-all"]).body
    catalogue = api.ledger.models.current.catalogue
    assert view["state"]["sub"] == {
        "code": "M01.02",
        "name_zh": catalogue.sub_states["M01.02"].name_zh,
        "name_en": catalogue.sub_states["M01.02"].name_en,
    }
    assert view["state"]["main"]["code"] == "M01"
    assert view["state"]["main"]["name_zh"] == catalogue.main_states["M01"].name_zh
    assert view["head_seq"] == 1
    assert [r["statement"]["seq"] for r in view["chain"]] == [0, 1]
    assert view["chain"][1]["payload"] == dict(PAID.payload)
    assert view["chain"][1]["statement_hash"] == view["head_hash"]
    assert AUDIT.event in view["allowed_events"]


def test_records_filter_and_paginate_by_cursor(api: Api) -> None:
    token = api.tokens["platform-b"]
    for i in range(5):
        reply = api.server.call("POST", "/v1/orders", token=token,
                                json_body=create_body(TENANT_B, f"page-{i}"))
        assert reply.status == 201
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = api.server.call(
            "GET", "/v1/records", token=api.tokens["auditor-all"],
            query={"tenant": TENANT_B, "event": "order_placed", "sub_state": "M01.01",
                   "limit": 2, "cursor": cursor},
        ).body
        seen += [r["statement"]["order"] for r in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [o for o in seen if o.startswith("page-")] == [f"page-{i}" for i in range(5)]
    assert pages >= 3
    assert all(o for o in seen)


def test_records_filters_by_actor_and_time_ranges(api: Api) -> None:
    token = api.tokens["platform-a"]
    api.server.call("POST", "/v1/orders", token=token, json_body=create_body(TENANT_A, "ing-6"))
    api.server.call("POST", f"/v1/orders/{TENANT_A}/ing-6/events",
                    token=api.tokens["carrier-a"], json_body=event_body(PAID))
    base = {"tenant": TENANT_A, "order": "ing-6"}
    cases = {
        "carrier actor": ({"actor": "carrier-a"}, [1]),
        "platform type": ({"actor_type": "platform"}, [0]),
        "event time window": ({"event_time_from": PAID.at,
                               "event_time_to": "2026-03-02T09:06:00+08:00"}, [1]),
        "before the first event": ({"event_time_to": "2026-03-02T09:00:00+08:00"}, []),
        "recorded window": ({"recorded_from": "2026-11-25T10:00:00Z",
                             "recorded_to": "2026-11-25T10:00:00.001Z"}, [0, 1]),
    }
    for name, (extra, seqs) in cases.items():
        page = api.server.call("GET", "/v1/records", token=api.tokens["legal-a"],
                               query={**base, **extra})
        assert page.status == 200, (name, page.body)
        assert [r["statement"]["seq"] for r in page.body["items"]] == seqs, name


def test_a_tenant_scoped_reader_sees_only_its_tenant_by_default(api: Api) -> None:
    api.server.call("POST", "/v1/orders", token=api.tokens["platform-b"],
                    json_body=create_body(TENANT_B, "ing-7"))
    for key in ("platform-a", "auditor-a"):
        page = api.server.call("GET", "/v1/records", token=api.tokens[key],
                               query={"limit": 1000}).body
        assert page["items"]
        assert {r["statement"]["tenant"] for r in page["items"]} == {TENANT_A}
    everything = api.server.call("GET", "/v1/records", token=api.tokens["auditor-all"],
                                 query={"limit": 1000}).body
    assert {r["statement"]["tenant"] for r in everything["items"]} == {TENANT_A, TENANT_B}


def test_concurrent_requests_each_get_their_own_answer(api: Api) -> None:
    # Concurrent single appends share units of work (group commit); over HTTP every
    # request must still get its own record, or its own refusal, and chains stay whole.
    token = api.tokens["platform-a"]
    orders = [f"ing-conc-{i}" for i in range(12)]
    bodies = [create_body(TENANT_A, order) for order in orders]
    bodies.append(create_body(TENANT_A, orders[0]))  # the same order created twice

    def post(path_and_body: tuple[str, dict[str, object]]) -> tuple[int, dict[str, object]]:
        path, body = path_and_body
        reply = api.server.call("POST", path, token=token, json_body=body)
        return reply.status, reply.body

    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        created = list(pool.map(post, [("/v1/orders", body) for body in bodies]))
    twice = [created[0], created[-1]]
    assert sorted(status for status, _ in twice) == [201, 409], twice
    assert all(status == 201 for status, _ in created[1:-1]), created
    first_hash = {body["statement"]["order"]: body["statement_hash"]  # type: ignore[index]
                  for status, body in created if status == 201}
    assert sorted(first_hash) == sorted(orders)

    with ThreadPoolExecutor(max_workers=len(orders)) as pool:
        pushed = list(pool.map(post, [(f"/v1/orders/{TENANT_A}/{order}/events",
                                       event_body(PAID)) for order in orders]))
    for order, (status, body) in zip(orders, pushed, strict=True):
        assert status == 201, body
        statement = body["statement"]
        assert isinstance(statement, dict)
        assert (statement["order"], statement["seq"]) == (order, 1)
        assert statement["prev"] == first_hash[order]
