"""GET /v1/timers over HTTP: armed, due and breached SLA timers, scoped per tenant."""

from __future__ import annotations

import pytest

from ledger.sla import SlaSweeper
from statemodel.scenarios import scenario
from tests.api.conftest import TENANT_A, Api
from tests.ledger.support import requests_for

PLACED = scenario("domestic_happy_path")


@pytest.fixture(scope="module")
def placed(api: Api) -> str:
    """An order of tenant A waiting for payment: its payment deadline (March 2026) is
    long past the test clock, so the timer is armed and due."""
    order = "timers-1"
    api.ledger.appender.append(requests_for(PLACED, tenant=TENANT_A, order=order, steps=1)[0])
    return order


def _names(api: Api, token: str, **query: object) -> list[tuple[str, str]]:
    reply = api.server.call("GET", "/v1/timers", token=api.tokens[token], query=query)
    assert reply.status == 200, reply.body
    return [(t["order"], t["name"]) for t in reply.body["items"]]


def test_armed_and_due_timers_are_listed_for_the_tenant(api: Api, placed: str) -> None:
    assert (placed, "payment_deadline") in _names(api, "auditor-all", view="armed")
    assert (placed, "payment_deadline") in _names(api, "platform-a", view="due",
                                                  due_within_minutes=0)
    assert (placed, "payment_deadline") not in _names(api, "auditor-all", tenant="shop-b")


def test_breached_timers_name_their_breach_record(api: Api, placed: str) -> None:
    SlaSweeper(api.ledger.recorder, api.ledger.appender, api.ledger.clock).sweep()
    reply = api.server.call("GET", "/v1/timers", token=api.tokens["auditor-a"],
                            query={"view": "breached"})
    assert reply.status == 200
    fired = [t for t in reply.body["items"] if t["order"] == placed]
    assert [t["name"] for t in fired] == ["payment_deadline"]
    assert fired[0]["closed_by_seq"] == 1


@pytest.mark.parametrize(
    ("token", "query", "status"),
    [
        ("platform-b", {"tenant": TENANT_A}, 403),
        ("carrier-a", {}, 403),
        ("auditor-a", {"tenant": "shop-b"}, 403),
        ("auditor-all", {"view": "someday"}, 422),
        ("auditor-all", {"view": "due", "due_within_minutes": -1}, 422),
    ],
)
def test_refusals(api: Api, token: str, query: dict[str, object], status: int) -> None:
    reply = api.server.call("GET", "/v1/timers", token=api.tokens[token], query=query)
    assert reply.status == status
    assert reply.headers["content-type"].startswith("application/problem+json")


def test_no_key_is_401(api: Api) -> None:
    assert api.server.call("GET", "/v1/timers").status == 401
