"""End to end: a breach (or a warning) fired by the SLA sweep reaches a real HTTP
receiver on loopback, signed; failures are retried on the backoff schedule, then dead,
and survive restarts. Both database backends; time is moved, never slept."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from ledger.alerts import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    DeliveryNotDead,
    RetryPolicy,
    UnknownDelivery,
    verify_signature,
)
from ledger.store.alert_sql import DEAD, DELIVERED, PENDING
from ledger.timefmt import format_time
from tests.alerts.receiver import HANG, Receiver, receiving
from tests.alerts.support import BREACH_AT, FAULT, START, TIMEOUT, WARNING_AT, AlertHarness
from tests.ledger.support import requests_for


@pytest.fixture
def harness(database_url: str, tmp_path: Path) -> Iterator[AlertHarness]:
    opened = AlertHarness(database_url, tmp_path / "data")
    yield opened
    opened.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as opened:
        yield opened


def test_a_breach_reaches_the_receiver_signed_and_verifiable(
    harness: AlertHarness, receiver: Receiver
) -> None:
    subscription = harness.subscribe(receiver.url)
    sweep = harness.breach()

    delivery_round = harness.round_at(BREACH_AT)

    assert delivery_round.fanned_out == 1
    assert [a.state for a in delivery_round.attempts] == [DELIVERED]
    (request,) = receiver.requests
    assert request.path == "/hooks/orderledger"
    assert request.headers["Content-Type"] == "application/json; charset=utf-8"
    assert request.headers[EVENT_HEADER] == "sla_breach"
    assert request.headers[TIMESTAMP_HEADER] == str(int(BREACH_AT.timestamp()))
    verify_signature(
        subscription.secret,
        request.headers[TIMESTAMP_HEADER],
        request.body,
        request.headers[SIGNATURE_HEADER],
        now=BREACH_AT + timedelta(seconds=3),
    )
    body = json.loads(request.body)
    with harness.ledger.recorder.unit_of_work() as uow:
        breach = uow.get_chain("shop-1", "order-1")[-1]
    assert body["type"] == "sla_breach"
    assert body["order"] == "order-1"
    assert body["timer"] == sweep.fired[0].name
    assert body["statement_hash"] == breach.statement_hash
    assert body["seq"] == breach.statement.seq
    # Compact canonical JSON: no spaces between tokens, keys sorted.
    assert b": " not in request.body
    assert list(body) == sorted(body)
    (stored,) = harness.deliveries()
    assert request.headers[DELIVERY_HEADER] == str(stored.delivery.id)
    assert body["alert_id"] == stored.alert.id
    assert stored.delivery.state == DELIVERED
    assert stored.delivery.attempts == 1
    assert stored.delivery.last_status == 200
    assert stored.delivery.delivered_at == format_time(BREACH_AT)
    # Delivered once: the next round neither fans out nor sends again.
    again = harness.round_at(BREACH_AT + timedelta(hours=1))
    assert (again.fanned_out, again.attempts) == (0, [])
    assert len(receiver.requests) == 1


def test_a_warning_alert_is_delivered_too(harness: AlertHarness, receiver: Receiver) -> None:
    harness.subscribe(receiver.url)
    harness.feed(requests_for(FAULT, steps=1))  # order placed: payment deadline armed
    harness.clock.set(WARNING_AT)
    assert [t.name for t in harness.sweeper.sweep().warned] == ["payment_deadline"]

    delivery_round = harness.round_at(WARNING_AT)

    assert [a.state for a in delivery_round.attempts] == [DELIVERED]
    (request,) = receiver.requests
    assert request.headers[EVENT_HEADER] == "sla_warning"
    body = json.loads(request.body)
    assert (body["type"], body["timer"], body["order"]) == (
        "sla_warning", "payment_deadline", "order-1"
    )


def test_a_receiver_failing_twice_gets_it_on_the_third_attempt_after_the_backoff(
    harness: AlertHarness, receiver: Receiver
) -> None:
    receiver.answer_next(500, 503)
    harness.subscribe(receiver.url)
    harness.breach()
    # Half-ceiling jitter: 15 s after the 1st failure (ceiling 30 s), 30 s after the 2nd.
    first_retry = BREACH_AT + timedelta(seconds=15)
    second_retry = first_retry + timedelta(seconds=30)

    first = harness.round_at(BREACH_AT).attempts
    assert [(a.number, a.outcome.status, a.state) for a in first] == [(1, 500, PENDING)]
    assert first[0].next_attempt_at == format_time(first_retry)
    assert harness.round_at(first_retry - timedelta(milliseconds=1)).attempts == []
    second = harness.round_at(first_retry).attempts
    assert [(a.number, a.outcome.status, a.state) for a in second] == [(2, 503, PENDING)]
    assert second[0].next_attempt_at == format_time(second_retry)
    assert harness.round_at(second_retry - timedelta(milliseconds=1)).attempts == []
    third = harness.round_at(second_retry).attempts

    assert [(a.number, a.outcome.status, a.state) for a in third] == [(3, 200, DELIVERED)]
    assert len(receiver.requests) == 3
    # Each attempt is signed anew with its own timestamp; the body is the same bytes.
    stamps = [r.headers[TIMESTAMP_HEADER] for r in receiver.requests]
    assert stamps == [str(int(t.timestamp())) for t in (BREACH_AT, first_retry, second_retry)]
    assert len({r.body for r in receiver.requests}) == 1
    (stored,) = harness.deliveries()
    assert (stored.delivery.state, stored.delivery.attempts) == (DELIVERED, 3)
    assert stored.delivery.last_error is None


def test_a_receiver_that_does_not_answer_in_time_is_a_failed_attempt(
    harness: AlertHarness, receiver: Receiver
) -> None:
    receiver.answer_next(HANG)
    harness.subscribe(receiver.url)
    harness.breach()

    (attempt,) = harness.round_at(BREACH_AT).attempts

    assert attempt.outcome.status is None
    assert attempt.outcome.error == f"timed out after {TIMEOUT:g} s"
    assert attempt.state == PENDING
    (stored,) = harness.deliveries()
    assert stored.delivery.last_error == attempt.outcome.error
    assert stored.delivery.next_attempt_at == format_time(BREACH_AT + timedelta(seconds=15))


def test_a_refused_connection_is_a_failed_attempt(harness: AlertHarness) -> None:
    with receiving() as gone:
        url = gone.url  # the port is closed once the receiver is
    harness.subscribe(url)
    harness.breach()

    (attempt,) = harness.round_at(BREACH_AT).attempts

    assert attempt.outcome.status is None
    assert attempt.outcome.error is not None
    assert attempt.outcome.error.startswith("connection failed")
    assert attempt.state == PENDING


def _fail_until_dead(harness: AlertHarness, receiver: Receiver) -> datetime:
    """Every attempt fails; returns the moment of the last one."""
    receiver.answer_next(*[500] * harness.policy.max_attempts)
    moment = BREACH_AT
    for number in range(1, harness.policy.max_attempts + 1):
        (attempt,) = harness.round_at(moment).attempts
        assert attempt.number == number
        if number < harness.policy.max_attempts:
            assert attempt.state == PENDING
            moment += harness.policy.delay(number)
    assert attempt.state == DEAD
    assert attempt.next_attempt_at is None
    return moment


def test_after_the_last_attempt_the_delivery_is_dead_listed_and_retried_by_hand(
    harness: AlertHarness, receiver: Receiver
) -> None:
    harness.subscribe(receiver.url)
    harness.breach()
    last = _fail_until_dead(harness, receiver)
    assert len(receiver.requests) == harness.policy.max_attempts
    # Dead means no more attempts, however long we wait.
    assert harness.round_at(last + timedelta(days=2)).attempts == []

    (dead,) = harness.deliverer.dead_letters()
    assert dead.delivery.state == DEAD
    assert dead.delivery.attempts == harness.policy.max_attempts
    assert dead.delivery.last_status == 500
    assert dead.delivery.last_error == "HTTP 500 Internal Server Error"
    assert harness.deliverer.dead_letters(tenant="shop-2") == []
    with pytest.raises(UnknownDelivery):
        harness.deliverer.retry(dead.delivery.id + 1000)

    requeued = harness.deliverer.retry(dead.delivery.id)
    assert (requeued.state, requeued.attempts) == (PENDING, 0)
    with pytest.raises(DeliveryNotDead, match="pending"):
        harness.deliverer.retry(dead.delivery.id)
    (attempt,) = harness.round_at(last + timedelta(days=2)).attempts

    assert (attempt.number, attempt.state) == (1, DELIVERED)
    assert harness.deliverer.dead_letters() == []
    with pytest.raises(DeliveryNotDead, match="delivered"):
        harness.deliverer.retry(dead.delivery.id)


def test_delivery_state_survives_a_restart(
    database_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    receiver.answer_next(500)
    before = AlertHarness(database_url, tmp_path / "data")
    try:
        before.subscribe(receiver.url)
        before.breach()
        assert [a.state for a in before.round_at(BREACH_AT).attempts] == [PENDING]
    finally:
        before.close()

    # New ledger, deliverer and clock on the same database and keys: a restart.
    after = AlertHarness(database_url, tmp_path / "data")
    try:
        retry_at = BREACH_AT + timedelta(seconds=15)
        assert after.round_at(retry_at - timedelta(seconds=1)).attempts == []
        delivery_round = after.round_at(retry_at)
        assert delivery_round.fanned_out == 0  # the cursor was stored: no second fan-out
        assert [(a.number, a.state) for a in delivery_round.attempts] == [(2, DELIVERED)]
    finally:
        after.close()
    assert len(receiver.requests) == 2


def test_the_event_filter_and_the_tenant_decide_who_gets_an_alert(
    harness: AlertHarness, receiver: Receiver
) -> None:
    with receiving() as warnings_only, receiving() as other_tenant:
        everything = harness.subscribe(receiver.url)
        harness.subscribe(warnings_only.url, events="sla_warning")
        harness.subscribe(other_tenant.url, tenant="shop-2")
        harness.breach()

        delivery_round = harness.round_at(BREACH_AT)

        assert warnings_only.requests == []
        assert other_tenant.requests == []
    assert delivery_round.fanned_out == 1
    assert [a.subscription_id for a in delivery_round.attempts] == [everything.id]
    assert len(receiver.requests) == 1


def test_a_subscription_gets_only_alerts_raised_after_it_was_made(
    harness: AlertHarness, receiver: Receiver
) -> None:
    harness.breach()
    harness.clock.set(BREACH_AT + timedelta(minutes=1))
    harness.subscribe(receiver.url)

    assert harness.round_at(BREACH_AT + timedelta(minutes=2)).fanned_out == 0
    assert receiver.requests == []


def test_disabling_a_subscription_parks_its_pending_deliveries(
    harness: AlertHarness, receiver: Receiver
) -> None:
    receiver.answer_next(500)
    subscription = harness.subscribe(receiver.url)
    harness.breach()
    harness.round_at(BREACH_AT)
    harness.clock.set(BREACH_AT + timedelta(seconds=5))

    disabled = harness.subscriptions.disable(subscription.id)

    assert disabled.disabled_at == format_time(BREACH_AT + timedelta(seconds=5))
    (dead,) = harness.deliverer.dead_letters()
    assert dead.delivery.last_error == "subscription disabled"
    assert harness.round_at(BREACH_AT + timedelta(hours=1)).attempts == []
    assert len(receiver.requests) == 1
    # Kept, not deleted; a second breach is not fanned out to it.
    assert [s.id for s in harness.subscriptions.list()] == [subscription.id]
    harness.clock.set(START)
    harness.breach(order="order-2")
    assert harness.round_at(BREACH_AT + timedelta(hours=2)).fanned_out == 0


def test_policy_with_fewer_attempts_gives_up_sooner(
    database_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    quick = AlertHarness(database_url, tmp_path / "data", policy=RetryPolicy(max_attempts=1))
    try:
        quick.subscribe(receiver.url)
        quick.breach()
        receiver.answer_next(502)
        (attempt,) = quick.round_at(BREACH_AT).attempts
        assert (attempt.number, attempt.state, attempt.outcome.status) == (1, DEAD, 502)
    finally:
        quick.close()
