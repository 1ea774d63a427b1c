"""Alert delivery works as PostgreSQL's `orderledger_app` role, as production runs it
(the grants of migration 0005 are all it needs)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy.engine import make_url

from ledger.alerts import AlertDeliverer, RetryPolicy, UrllibSender, WebhookSubscriptions
from ledger.clock import FixedClock
from ledger.store import AlertRow, Recorder, open_recorder
from ledger.store.alert_sql import DEAD, DELIVERED
from ledger.timefmt import format_time
from tests.alerts.receiver import receiving
from tests.alerts.support import BREACH_AT, TIMEOUT
from tests.conftest import PostgresServer

pytestmark = pytest.mark.postgres


@pytest.fixture
def app_recorder(postgres_server: PostgresServer, postgres_url: str) -> Iterator[Recorder]:
    """A recorder connected as a LOGIN member of `orderledger_app`."""
    login = postgres_server.new_name("app")
    postgres_server.execute(f"CREATE ROLE {login} LOGIN IN ROLE orderledger_app")
    database = make_url(postgres_url).database
    assert database is not None
    recorder = open_recorder(postgres_server.url_of(database, username=login))
    yield recorder
    recorder.close()
    postgres_server.execute(f"DROP ROLE {login}")


def test_the_app_role_subscribes_delivers_parks_and_retries(app_recorder: Recorder) -> None:
    clock = FixedClock(BREACH_AT)
    deliverer = AlertDeliverer(
        app_recorder, clock, sender=UrllibSender(proxies={}),
        policy=RetryPolicy(max_attempts=1), timeout=TIMEOUT,
    )
    with receiving([500]) as receiver:
        subscription = WebhookSubscriptions(app_recorder, clock).subscribe(
            "shop-1", receiver.url
        )
        with app_recorder.unit_of_work() as uow:
            uow.add_alerts([AlertRow("shop-1", "sla_breach", {"order": "o-1"},
                                     format_time(BREACH_AT))])
        assert [a.state for a in deliverer.run_round().attempts] == [DEAD]
        (dead,) = deliverer.dead_letters()
        deliverer.retry(dead.delivery.id)
        clock.advance(timedelta(minutes=1))
        assert [a.state for a in deliverer.run_round().attempts] == [DELIVERED]
        WebhookSubscriptions(app_recorder, clock).disable(subscription.id)
    assert len(receiver.requests) == 2
