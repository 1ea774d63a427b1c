"""Helpers for ledger tests: an open ledger on a fresh database, table snapshots, and
tampering that goes around the database's own refusal (as an attacker with DBA rights)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, create_engine, text
from sqlalchemy.pool import NullPool

from ledger.append import EventRequest
from ledger.clock import FixedClock
from ledger.service import Ledger, open_ledger
from ledger.settings import Settings
from ledger.statement import Actor, ActorType
from statemodel.scenarios import Scenario
from tests.store.factories import ALL_TABLES

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
#: Every table a snapshot compares: all of them, so "a refused request changes nothing"
#: also covers timers, alerts, findings and holds (DESIGN invariant 5).
TABLES = ALL_TABLES


def open_test_ledger(database_url: str, data_dir: Path, clock: FixedClock | None = None) -> Ledger:
    settings = Settings(
        database_url=database_url, data_dir=data_dir, log_origin="test.orderledger.example/log"
    )
    return open_ledger(settings, clock=clock or FixedClock(NOW))


def requests_for(
    scenario: Scenario,
    *,
    tenant: str = "shop-1",
    order: str = "order-1",
    steps: int | None = None,
    keyed: bool = False,
) -> list[EventRequest]:
    """The scenario's first `steps` steps (all by default) as append requests."""
    chosen = scenario.steps if steps is None else scenario.steps[:steps]
    return [
        EventRequest(
            tenant=tenant,
            order=order,
            event=step.event,
            event_time=step.at,
            actor=Actor(ActorType.PLATFORM, tenant),
            payload=dict(step.payload),
            idempotency_key=f"{order}:{i}" if keyed else None,
            create=i == 0,
        )
        for i, step in enumerate(chosen)
    ]


@contextmanager
def raw_connection(url: str) -> Iterator[Connection]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            yield conn
    finally:
        engine.dispose()


def snapshot(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every ledger table, sorted: equal snapshots mean nothing changed."""
    with raw_connection(url) as conn:
        return {
            table: sorted(
                (tuple(row) for row in conn.execute(text(f"SELECT * FROM {table}"))), key=repr
            )
            for table in TABLES
        }


def tamper(url: str, *statements: str, **params: Any) -> None:
    """Run SQL with the immutability triggers out of the way, as a DBA could."""
    with raw_connection(url) as conn:
        if conn.dialect.name == "sqlite":
            triggers = (
                conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger'"))
                .scalars()
                .all()
            )
            for name in triggers:
                conn.execute(text(f'DROP TRIGGER "{name}"'))
        else:
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        for sql in statements:
            conn.execute(text(sql), params)
