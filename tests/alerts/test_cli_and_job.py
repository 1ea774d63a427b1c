"""`orderledger alerts ...` handlers (through their own parser: the CLI wires it) and the
APScheduler job registration."""

from __future__ import annotations

import argparse
import io
import json
from datetime import timedelta
from pathlib import Path

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import text

from api import commands_alerts
from ledger.alerts import SIGNATURE_HEADER, TIMESTAMP_HEADER, RetryPolicy, verify_signature
from ledger.errors import InvalidInput
from ledger.timefmt import format_time, parse_time
from retention.alerts import JOB_ID, run_alert_delivery, schedule_alert_delivery
from tests.alerts.receiver import receiving
from tests.alerts.support import BREACH_AT, AlertHarness
from tests.ledger.support import raw_connection


def _cli(*argv: str) -> str:
    parser = argparse.ArgumentParser(prog="orderledger")
    commands_alerts.register(parser.add_subparsers(dest="command", required=True),
                             argparse.ArgumentParser)
    args = parser.parse_args(argv)
    out = io.StringIO()
    assert args.handler(args, out) == 0
    return out.getvalue()


def _subscription_created_at(url: str) -> str:
    with raw_connection(url) as conn:
        return str(conn.execute(text("SELECT created_at FROM webhook_subscriptions")).scalar_one())


def test_alerts_commands_from_subscribe_to_retry(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORDERLEDGER_DATABASE_URL", database_url)
    monkeypatch.setenv("ORDERLEDGER_DATA_DIR", str(tmp_path / "data"))
    with receiving([500] * RetryPolicy().max_attempts) as receiver:
        shown = _cli("alerts", "subscribe", "--tenant", "shop-1", "--url", receiver.url,
                     "--events", "sla_breach")
        secret = shown.strip().splitlines()[-1]
        assert secret.startswith("whsec_")
        listing = _cli("alerts", "list")
        assert receiver.url in listing
        assert "sla_breach" in listing
        assert secret not in listing
        with pytest.raises(InvalidInput, match="scheme"):
            _cli("alerts", "subscribe", "--tenant", "shop-1", "--url", "ftp://x/")

        created = _subscription_created_at(database_url)
        with raw_connection(database_url) as conn:
            conn.execute(text(
                "INSERT INTO alert_outbox (tenant, kind, body, created_at) VALUES "
                "('shop-1', 'sla_breach', '{\"order\": \"order-9\"}', :at)"), {"at": created})
        moment = parse_time(created)
        for _ in range(RetryPolicy().max_attempts):  # the cap is 1 h: 2 h later it is due
            moment += timedelta(hours=2)
            report = _cli("alerts", "deliver", "--now", format_time(moment), "--timeout", "0.5")
            assert "500" in report
        assert report.rstrip().endswith("0 delivered, 0 to retry, 1 dead")
        verify_signature(secret, receiver.requests[-1].headers[TIMESTAMP_HEADER],
                         receiver.requests[-1].body,
                         receiver.requests[-1].headers[SIGNATURE_HEADER], now=moment)

        dead = _cli("alerts", "dead-letters", "--tenant", "shop-1")
        assert "order-9" in dead
        assert "HTTP 500" in dead
        assert dead.rstrip().endswith("1 dead letter(s)")
        assert _cli("alerts", "dead-letters", "--tenant", "shop-2").rstrip().endswith(
            "0 dead letter(s)")
        delivery_id = dead.splitlines()[1].split()[0]
        assert "pending again" in _cli("alerts", "retry", delivery_id)
        report = _cli("alerts", "deliver", "--now", format_time(moment + timedelta(hours=2)))
        assert "1 delivered" in report
        assert "disabled at" in _cli("alerts", "disable", "1")
        assert "disabled" in _cli("alerts", "list", "--tenant", "shop-1")


def test_the_delivery_job_is_registered_once_with_its_interval(tmp_path: Path) -> None:
    harness = AlertHarness(f"sqlite:///{tmp_path / 'ledger.db'}", tmp_path / "data")
    scheduler = BackgroundScheduler()
    try:
        schedule_alert_delivery(scheduler, harness.deliverer, interval_seconds=30)
        job = schedule_alert_delivery(scheduler, harness.deliverer, interval_seconds=2.5)
        assert [j.id for j in scheduler.get_jobs()] == [JOB_ID]
        assert job.trigger.interval == timedelta(seconds=2.5)
        assert job.max_instances == 1
        assert job.coalesce is True
        with pytest.raises(ValueError, match="positive"):
            schedule_alert_delivery(scheduler, harness.deliverer, interval_seconds=0)
    finally:
        harness.close()


def test_one_run_of_the_job_is_a_delivery_round(database_url: str, tmp_path: Path) -> None:
    harness = AlertHarness(database_url, tmp_path / "data")
    try:
        with receiving() as receiver:
            harness.subscribe(receiver.url)
            harness.breach()
            harness.clock.set(BREACH_AT)
            result = run_alert_delivery(harness.deliverer)
            assert (result.fanned_out, result.count("delivered")) == (1, 1)
            assert json.loads(receiver.requests[0].body)["type"] == "sla_breach"
    finally:
        harness.close()
