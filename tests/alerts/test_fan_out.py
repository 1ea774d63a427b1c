"""Fan-out over the outbox: no alert skipped at a hole that may still commit, none
fanned out twice, and concurrent deliverers never send one delivery twice."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from ledger.alerts import CURSOR_NAME, AlertDeliverer, Attempt, UrllibSender
from ledger.store.alert_sql import DELIVERED
from ledger.timefmt import format_time
from tests.alerts.receiver import Receiver, receiving
from tests.alerts.support import BREACH_AT, TIMEOUT, AlertHarness
from tests.ledger.support import raw_connection

NOW = BREACH_AT


@pytest.fixture
def harness(database_url: str, tmp_path: Path) -> Iterator[AlertHarness]:
    opened = AlertHarness(database_url, tmp_path / "data")
    yield opened
    opened.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as opened:
        yield opened


def _put_alert(url: str, alert_id: int, created_at: datetime) -> None:
    """An outbox row with a chosen id, as a transaction that allocated it would leave."""
    body = {"type": "sla_breach", "tenant": "shop-1", "order": f"order-{alert_id}"}
    with raw_connection(url) as conn:
        conn.execute(
            text(
                "INSERT INTO alert_outbox (id, tenant, kind, body, created_at) "
                "VALUES (:id, 'shop-1', 'sla_breach', :body, :created_at)"
            ),
            {"id": alert_id, "body": json.dumps(body), "created_at": format_time(created_at)},
        )


def _cursor(url: str) -> int:
    with raw_connection(url) as conn:
        return int(
            conn.execute(
                text("SELECT last_alert_id FROM alert_cursor WHERE name = :n"), {"n": CURSOR_NAME}
            ).scalar_one()
        )


def test_the_cursor_waits_at_a_hole_and_nothing_is_fanned_out_twice(
    harness: AlertHarness, receiver: Receiver, database_url: str
) -> None:
    harness.subscribe(receiver.url)
    _put_alert(database_url, 1, NOW)
    _put_alert(database_url, 3, NOW)  # 2 is allocated by a transaction still open

    assert harness.deliverer.fan_out(NOW) == 2
    assert _cursor(database_url) == 1
    assert harness.deliverer.fan_out(NOW) == 0  # alert 3 is read again, not fanned again

    _put_alert(database_url, 2, NOW)  # ... which commits now
    assert harness.deliverer.fan_out(NOW) == 1
    assert _cursor(database_url) == 3

    # A hole older than the grace period belonged to a rolled-back transaction.
    _put_alert(database_url, 5, NOW - timedelta(minutes=11))
    assert harness.deliverer.fan_out(NOW) == 1
    assert _cursor(database_url) == 5

    attempts = harness.deliverer.deliver_due(NOW)
    assert [a.state for a in attempts] == [DELIVERED] * 4
    orders = sorted(json.loads(r.body)["order"] for r in receiver.requests)
    assert orders == ["order-1", "order-2", "order-3", "order-5"]


def test_a_young_hole_does_not_hold_back_delivery_of_later_alerts(
    harness: AlertHarness, receiver: Receiver, database_url: str
) -> None:
    harness.subscribe(receiver.url)
    _put_alert(database_url, 2, NOW)

    attempts = harness.deliverer.run_round(NOW).attempts

    assert [a.alert_id for a in attempts] == [2]
    assert _cursor(database_url) == 0
    assert harness.deliverer.run_round(NOW + timedelta(minutes=1)).fanned_out == 0
    assert len(receiver.requests) == 1


def test_two_deliverers_at_once_send_each_delivery_once(
    harness: AlertHarness, receiver: Receiver, database_url: str
) -> None:
    harness.subscribe(receiver.url)
    for alert_id in range(1, 9):
        _put_alert(database_url, alert_id, NOW)
    harness.deliverer.fan_out(NOW)
    results: list[list[Attempt]] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            deliverer = AlertDeliverer(
                harness.ledger.recorder, harness.clock, sender=UrllibSender(proxies={}),
                timeout=TIMEOUT,
            )
            results.append(deliverer.deliver_due(NOW))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    sent = [a.delivery_id for attempts in results for a in attempts]
    assert sorted(sent) == sorted(set(sent))
    assert len(sent) == 8
    assert len(receiver.requests) == 8
