"""The pure rules of delivery: backoff schedule, cursor movement over holes, who gets an
alert, what a subscription may be."""

from __future__ import annotations

import base64
from dataclasses import replace
from datetime import timedelta

import pytest

from ledger.alerts import ALERT_KINDS, RetryPolicy, parse_events
from ledger.alerts.delivery import advance_cursor, wants
from ledger.alerts.subscriptions import SECRET_PREFIX, check_url, new_secret
from ledger.errors import InvalidInput
from ledger.store import AlertRow
from ledger.store.alert_sql import SubscriptionRow

S = timedelta(seconds=1)


@pytest.mark.parametrize(
    ("failed", "ceiling"),
    [(1, 30), (2, 60), (3, 120), (4, 240), (5, 480), (6, 960), (7, 1920), (8, 3600),
     (9, 3600), (200, 3600), (5000, 3600)],
)
def test_the_backoff_ceiling_doubles_from_the_base_up_to_the_cap(failed: int, ceiling: int) -> None:
    assert RetryPolicy().ceiling(failed) == ceiling * S


@pytest.mark.parametrize(
    ("draw", "delay"),
    [
        pytest.param(lambda c: c, 120 * S, id="top-of-range"),
        pytest.param(lambda c: c / 4, 30 * S, id="quarter"),
        pytest.param(lambda c: 0.0, 1 * S, id="zero-becomes-min-delay"),
        pytest.param(lambda c: -5.0, 1 * S, id="negative-clamped"),
        pytest.param(lambda c: c * 10, 120 * S, id="above-ceiling-clamped"),
    ],
)
def test_full_jitter_draws_within_the_ceiling(draw: object, delay: timedelta) -> None:
    policy = RetryPolicy(jitter=draw)  # type: ignore[arg-type]
    assert policy.delay(3) == delay


def test_the_default_jitter_stays_within_the_ceiling() -> None:
    delays = {RetryPolicy().delay(2) for _ in range(200)}
    assert all(1 * S <= d <= 60 * S for d in delays)
    assert len(delays) > 1  # it is random


def test_the_policy_gives_up_after_max_attempts() -> None:
    policy = RetryPolicy(max_attempts=3)
    assert [policy.gives_up_after(n) for n in (1, 2, 3, 4)] == [False, False, True, True]


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"base": timedelta(0)}, id="zero-base"),
        pytest.param({"base": 10 * S, "cap": 5 * S}, id="cap-below-base"),
        pytest.param({"max_attempts": 0}, id="no-attempts"),
    ],
)
def test_impossible_policies_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


def _alert(alert_id: int, created_at: str = "2026-03-03T03:00:00.000Z", *,
           tenant: str = "shop-1", kind: str = "sla_breach") -> AlertRow:
    return AlertRow(tenant=tenant, kind=kind, body={}, created_at=created_at, id=alert_id)


HORIZON = "2026-03-03T02:50:00.000Z"  # now - grace
OLD = "2026-03-03T02:49:00.000Z"
YOUNG = "2026-03-03T02:59:00.000Z"


@pytest.mark.parametrize(
    ("cursor", "alerts", "expected"),
    [
        pytest.param(0, [], 0, id="nothing-read"),
        pytest.param(0, [_alert(1), _alert(2), _alert(3)], 3, id="contiguous"),
        pytest.param(4, [_alert(5, YOUNG), _alert(7, YOUNG)], 5, id="young-hole-stops"),
        pytest.param(4, [_alert(6, YOUNG)], 4, id="young-hole-first"),
        pytest.param(4, [_alert(6, OLD), _alert(7, YOUNG)], 7, id="old-hole-passed"),
        pytest.param(4, [_alert(6, HORIZON)], 6, id="hole-at-horizon-passed"),
        pytest.param(0, [_alert(1), _alert(3, OLD), _alert(5, YOUNG), _alert(6)], 3,
                     id="second-hole-young"),
    ],
)
def test_the_cursor_never_passes_a_hole_that_may_still_commit(
    cursor: int, alerts: list[AlertRow], expected: int
) -> None:
    assert advance_cursor(cursor, alerts, HORIZON) == expected


SUBSCRIPTION = SubscriptionRow(
    id=1, tenant="shop-1", url="https://example.com/h", secret="s", events=("sla_breach",),
    created_at="2026-03-01T00:00:00.000Z",
)


@pytest.mark.parametrize(
    ("alert", "subscription", "wanted"),
    [
        pytest.param(_alert(1), SUBSCRIPTION, True, id="match"),
        pytest.param(_alert(1, kind="sla_warning"), SUBSCRIPTION, False, id="kind-filtered"),
        pytest.param(_alert(1, tenant="shop-2"), SUBSCRIPTION, False, id="other-tenant"),
        pytest.param(_alert(1, "2026-02-28T23:59:59.999Z"), SUBSCRIPTION, False,
                     id="raised-before-subscribing"),
        pytest.param(_alert(1), replace(SUBSCRIPTION, disabled_at="2026-03-02T00:00:00.000Z"),
                     False, id="disabled"),
    ],
)
def test_who_gets_an_alert(alert: AlertRow, subscription: SubscriptionRow, wanted: bool) -> None:
    assert wants(subscription, alert) is wanted


@pytest.mark.parametrize(
    ("events", "parsed"),
    [
        (None, ALERT_KINDS),
        ("sla_breach", ("sla_breach",)),
        ("sla_warning, sla_breach,sla_warning", ("sla_breach", "sla_warning")),
        (["sla_warning"], ("sla_warning",)),
    ],
)
def test_event_filters(events: str | list[str] | None, parsed: tuple[str, ...]) -> None:
    assert parse_events(events) == parsed


@pytest.mark.parametrize("events", ["", " , ", "sla_breach,delivered", "SLA_BREACH"])
def test_bad_event_filters_are_refused(events: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_events(events)
    assert caught.value.field == "events"


@pytest.mark.parametrize(
    "url",
    ["https://hooks.example.com/orderledger", "http://127.0.0.1:8080/x?y=1",
     "HTTPS://[::1]:9443/"],
)
def test_http_and_https_urls_are_accepted(url: str) -> None:
    assert check_url(url) == url


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        pytest.param("ftp://example.com/h", "scheme must be http or https", id="ftp"),
        pytest.param("file:///etc/passwd", "scheme must be http or https", id="file"),
        pytest.param("example.com/h", "scheme", id="no-scheme"),
        pytest.param("https:///h", "no host", id="no-host"),
        pytest.param("https://user:pw@example.com/h", "credentials", id="credentials"),
        pytest.param("https://example.com/h#frag", "fragment", id="fragment"),
        pytest.param("https://example.com/a b", "whitespace", id="space"),
        pytest.param("https://example.com:99999/", "not a URL", id="bad-port"),
        pytest.param("", "1 to 2048", id="empty"),
        pytest.param("https://example.com/" + "a" * 2048, "1 to 2048", id="too-long"),
    ],
)
def test_bad_urls_are_refused(url: str, reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason) as caught:
        check_url(url)
    assert caught.value.field == "url"


def test_a_secret_carries_32_random_bytes() -> None:
    secrets = {new_secret() for _ in range(20)}
    assert len(secrets) == 20
    for secret in secrets:
        assert secret.startswith(SECRET_PREFIX)
        raw = base64.urlsafe_b64decode(secret[len(SECRET_PREFIX):] + "=")
        assert len(raw) == 32
