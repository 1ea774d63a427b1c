"""`GET /metrics` over real HTTP: who may read it, and that it counts what happened.

The module's server is shared, so every check compares a figure before and after the
requests the test makes.
"""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.api.conftest import TENANT_A, Api
from tests.api.data import AUDIT, PAID, batch_item, create_body, event_body

Labels = tuple[tuple[str, str], ...]
EVENTS_ROUTE = "/v1/orders/{tenant}/{order}/events"


def _scrape(api: Api) -> dict[tuple[str, Labels], float]:
    """Every sample of the exposition, by (name, sorted labels)."""
    reply = api.server.call("GET", "/metrics", token=api.tokens["admin-all"])
    assert reply.status == 200, reply.body
    assert reply.headers["content-type"].startswith("text/plain")
    samples: dict[tuple[str, Labels], float] = {}
    for family in text_string_to_metric_families(reply.raw.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def _value(samples: dict[tuple[str, Labels], float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


ACCESS = {"admin-all": 200, "admin-a": 403, "auditor-all": 403, "platform-a": 403}


@pytest.mark.parametrize("key", ACCESS)
def test_metrics_need_an_all_tenant_admin_key(api: Api, key: str) -> None:
    reply = api.server.call("GET", "/metrics", token=api.tokens[key])
    assert reply.status == ACCESS[key], reply.raw


def test_metrics_without_a_key_are_401(api: Api) -> None:
    assert api.server.call("GET", "/metrics").status == 401


def test_appends_rejections_and_latency_are_counted(api: Api) -> None:
    token = api.tokens["platform-a"]
    before = _scrape(api)

    api.server.call("POST", "/v1/orders", token=token, json_body=create_body(TENANT_A, "met-1"))
    api.server.call("POST", f"/v1/orders/{TENANT_A}/met-1/events", token=token,
                    json_body=event_body(PAID))
    refused = api.server.call("POST", f"/v1/orders/{TENANT_A}/met-1/events", token=token,
                              json_body=event_body(PAID))  # paid twice: illegal
    assert refused.status == 409
    batch = api.server.call("POST", "/v1/events:batch", token=token, json_body={"items": [
        batch_item(TENANT_A, "met-1", AUDIT), batch_item(TENANT_A, "met-unknown", AUDIT),
    ]})
    assert (batch.status, batch.body["committed"], batch.body["rejected"]) == (200, 1, 1)
    after = _scrape(api)

    def delta(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    assert delta("orderledger_appends_total", via="single") == 2
    # One after the other, each single append (the refused one too) was a group of its own;
    # the batch does not go through group commit.
    assert delta("orderledger_append_groups_total") == 3
    assert delta("orderledger_append_group_items_total") == 3
    assert delta("orderledger_appends_total", via="batch") == 1
    assert delta("orderledger_rejections_total", problem="illegal-transition",
                 via="request") == 1
    assert delta("orderledger_rejections_total", problem="unknown-order", via="batch_item") == 1
    assert delta("orderledger_http_request_duration_seconds_count", method="POST",
                 route=EVENTS_ROUTE) == 2
    assert delta("orderledger_http_requests_total", method="POST", route=EVENTS_ROUTE,
                 status="409") == 1


def test_sequencer_lag_is_the_queue_not_yet_integrated(api: Api) -> None:
    token = api.tokens["platform-a"]
    api.sequence()
    assert _value(_scrape(api), "orderledger_sequencer_lag_records") == 0

    api.server.call("POST", "/v1/orders", token=token, json_body=create_body(TENANT_A, "met-2"))
    api.server.call("POST", f"/v1/orders/{TENANT_A}/met-2/events", token=token,
                    json_body=event_body(PAID))

    assert _value(_scrape(api), "orderledger_sequencer_lag_records") == 2
    api.sequence()
    assert _value(_scrape(api), "orderledger_sequencer_lag_records") == 0


def test_refusals_before_any_route_are_counted_too(api: Api) -> None:
    before = _scrape(api)
    reply = api.server.call("POST", "/v1/orders", token=api.tokens["platform-a"],
                            body=b"x=1", headers={"Content-Type": "text/plain"})
    assert reply.status == 415
    after = _scrape(api)
    name, labels = "orderledger_rejections_total", {"problem": "unsupported-media-type",
                                                   "via": "request"}
    assert _value(after, name, **labels) - _value(before, name, **labels) == 1
