"""Every class of bad input in DESIGN.md ("Bad input") gets problem+json with the right
status, type and field, and leaves the ledger exactly as it was."""

from __future__ import annotations

import contextlib
import http.client
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.api.conftest import TENANT_A, TENANT_B, Api
from tests.api.data import AUDIT, PAID, PLACED, create_body, event_body
from tests.api.live import Reply
from tests.ledger.support import snapshot

PROBLEMS = "https://orderledger.dev/problems/"
ORDER = "bad-1"  # an order at M01.01 (created by the fixture)
EVENTS = f"/v1/orders/{TENANT_A}/{ORDER}/events"


@dataclass(frozen=True)
class BadCase:
    name: str
    send: Callable[[Api], Reply]
    status: int
    slug: str
    field: str | None


def _post(path: str, body: Any, key: str = "platform-a",
          headers: dict[str, str] | None = None) -> Callable[[Api], Reply]:
    def send(api: Api) -> Reply:
        return api.server.call("POST", path, token=api.tokens[key], json_body=body,
                               headers=headers)
    return send


def _raw(path: str, body: bytes, content_type: str | None) -> Callable[[Api], Reply]:
    def send(api: Api) -> Reply:
        headers = {} if content_type is None else {"Content-Type": content_type}
        return api.server.call("POST", path, token=api.tokens["platform-a"], body=body,
                               headers=headers)
    return send


def _chunked(path: str, size: int) -> Callable[[Api], Reply]:
    """A body streamed without Content-Length, so only counting can catch it."""
    def send(api: Api) -> Reply:
        conn = http.client.HTTPConnection("127.0.0.1", api.server.port, timeout=60)
        try:
            conn.putrequest("POST", path)
            conn.putheader("Authorization", f"Bearer {api.tokens['platform-a']}")
            conn.putheader("Content-Type", "application/json")
            conn.putheader("Transfer-Encoding", "chunked")
            conn.endheaders()
            chunk = b" " * 65536
            # The server may answer and close before it has read everything.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                for _ in range(size // len(chunk) + 1):
                    conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                conn.send(b"0\r\n\r\n")
            response = conn.getresponse()
            return Reply(response.status, {k.lower(): v for k, v in response.getheaders()},
                         response.read())
        finally:
            conn.close()
    return send


def _get(path: str, key: str, query: dict[str, Any] | None = None) -> Callable[[Api], Reply]:
    def send(api: Api) -> Reply:
        return api.server.call("GET", path, token=api.tokens[key], query=query)
    return send


def _token(token: str | None) -> Callable[[Api], Reply]:
    def send(api: Api) -> Reply:
        value = api.tokens["revoked-platform-a"] if token == "revoked" else token
        return api.server.call("POST", EVENTS, token=value, json_body=event_body(PAID))
    return send


MIB = 1024 * 1024
_missing = event_body(PAID)
_missing["payload"].pop("payment_txn_ref")
_wrong_type = event_body(PAID)
_wrong_type["payload"]["amount_paid"] = 299

CASES = [
    BadCase("unknown event", _post(EVENTS, {**event_body(PAID), "event": "teleported"}),
            422, "unknown-event", "event"),
    BadCase("illegal transition", _post(EVENTS, event_body(AUDIT)),
            409, "illegal-transition", "event"),
    BadCase("creation event on an existing order", _post(EVENTS, event_body(PLACED)),
            409, "illegal-transition", "event"),
    BadCase("missing actionable field", _post(EVENTS, _missing),
            422, "missing-actionable-field", "payload.payment_txn_ref"),
    BadCase("schema violation", _post(EVENTS, _wrong_type),
            422, "payload-invalid", "payload.amount_paid"),
    BadCase("payload not an object", _post(EVENTS, {**event_body(PAID), "payload": [1]}),
            422, "validation-error", "payload"),
    BadCase("event time in the future",
            _post(EVENTS, {**event_body(PAID), "event_time": "2027-01-01T00:00:00Z"}),
            422, "invalid-input", "event_time"),
    BadCase("event time without offset",
            _post(EVENTS, {**event_body(PAID), "event_time": "2026-03-02T09:05:00"}),
            422, "invalid-input", "event_time"),
    BadCase("event time not a time",
            _post(EVENTS, {**event_body(PAID), "event_time": "yesterday"}),
            422, "invalid-input", "event_time"),
    BadCase("missing required field",
            _post(EVENTS, {"event": PAID.event, "payload": dict(PAID.payload)}),
            422, "validation-error", "event_time"),
    BadCase("unknown field", _post(EVENTS, {**event_body(PAID), "colour": "red"}),
            422, "unknown-field", "colour"),
    BadCase("negative expected_seq", _post(EVENTS, event_body(PAID, expected_seq=-1)),
            422, "validation-error", "expected_seq"),
    BadCase("stale expected_seq", _post(EVENTS, event_body(PAID, expected_seq=7)),
            409, "concurrency-conflict", "expected_seq"),
    BadCase("unknown order", _post(f"/v1/orders/{TENANT_A}/nope/events", event_body(PAID)),
            404, "unknown-order", "order"),
    BadCase("order exists", _post("/v1/orders", create_body(TENANT_A, ORDER)),
            409, "order-exists", "order"),
    BadCase("creating with a non-creation event",
            _post("/v1/orders", create_body(TENANT_A, "bad-2", PAID)),
            409, "illegal-transition", "event"),
    BadCase("order id too long", _post("/v1/orders", create_body(TENANT_A, "o" * 129)),
            422, "validation-error", "order"),
    BadCase("duplicate idempotency key, other body",
            _post(EVENTS, event_body(PAID, expected_seq=0), headers={"Idempotency-Key": "k1"}),
            409, "idempotency-conflict", "Idempotency-Key"),
    BadCase("idempotency key too long",
            _post(EVENTS, event_body(PAID), headers={"Idempotency-Key": "k" * 256}),
            422, "invalid-input", "Idempotency-Key"),
    BadCase("wrong tenant (path)",
            _post(f"/v1/orders/{TENANT_B}/{ORDER}/events", event_body(PAID)),
            403, "wrong-tenant", "tenant"),
    BadCase("wrong tenant (body)", _post("/v1/orders", create_body(TENANT_B, "bad-3")),
            403, "wrong-tenant", "tenant"),
    BadCase("wrong tenant (read)", _get(f"/v1/orders/{TENANT_B}/{ORDER}", "auditor-a"),
            403, "wrong-tenant", "tenant"),
    BadCase("role may not write", _post(EVENTS, event_body(PAID), key="auditor-all"),
            403, "forbidden", None),
    BadCase("no key", _token(None), 401, "unauthenticated", None),
    BadCase("unknown key", _token("olk_" + "A" * 43), 401, "unauthenticated", None),
    BadCase("revoked key", _token("revoked"), 401, "unauthenticated", None),
    BadCase("malformed JSON", _raw(EVENTS, b'{"event": ', "application/json"),
            400, "malformed-json", None),
    BadCase("wrong content type", _raw(EVENTS, b"event=x", "application/x-www-form-urlencoded"),
            415, "unsupported-media-type", "Content-Type"),
    BadCase("no content type", _raw(EVENTS, json.dumps(event_body(PAID)).encode(), None),
            415, "unsupported-media-type", "Content-Type"),
    BadCase("oversized body (declared)", _raw(EVENTS, b" " * (MIB + 1), "application/json"),
            413, "body-too-large", None),
    BadCase("oversized body (streamed)", _chunked(EVENTS, MIB + 1), 413, "body-too-large", None),
    BadCase("unknown sub-state filter",
            _get("/v1/records", "auditor-all", {"sub_state": "M99.99"}),
            422, "unknown-state", "sub_state"),
    BadCase("unknown event filter", _get("/v1/records", "auditor-all", {"event": "nope"}),
            422, "unknown-event", "event"),
    BadCase("bad cursor", _get("/v1/records", "auditor-all", {"cursor": "abc"}),
            422, "invalid-input", "cursor"),
    BadCase("limit over 1000", _get("/v1/records", "auditor-all", {"limit": 1001}),
            422, "validation-error", "limit"),
    BadCase("bad time filter", _get("/v1/records", "auditor-all", {"recorded_from": "soon"}),
            422, "invalid-input", "recorded_from"),
    BadCase("unknown route", _get("/v1/nothing-here", "auditor-all"), 404, "not-found", None),
    BadCase("consistency from beyond the log",
            _get("/v1/proofs/consistency", "auditor-all", {"old_size": 10**9}),
            422, "invalid-input", "old_size"),
]


@pytest.fixture(scope="module")
def prepared(api: Api) -> Api:
    token = api.tokens["platform-a"]
    assert api.server.call("POST", "/v1/orders", token=token,
                           json_body=create_body(TENANT_A, ORDER)).status == 201
    # The idempotency key "k1" is taken by a different request (on another order).
    assert api.server.call("POST", "/v1/orders", token=token,
                           json_body=create_body(TENANT_A, "bad-k1"),
                           headers={"Idempotency-Key": "k1"}).status == 201
    api.sequence()  # a checkpoint, so that proof sizes are judged against it
    return api


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_bad_input_is_a_precise_problem_and_changes_nothing(prepared: Api, case: BadCase) -> None:
    before = snapshot(prepared.database_url)
    reply = case.send(prepared)
    assert reply.status == case.status, reply.raw[:500]
    assert reply.media_type == "application/problem+json"
    problem = reply.body
    assert problem["type"] == PROBLEMS + case.slug
    assert problem["status"] == case.status
    assert problem["title"]
    assert problem["detail"]
    assert problem.get("field") == case.field
    assert "Traceback" not in reply.raw.decode()
    assert snapshot(prepared.database_url) == before
