"""PostgreSQL locks a batch's heads by primary key, however much the orders table grew.

`lock_heads` runs once per batch. It must read one index entry per head: a plan that
scans the orders table costs more with every order ever created. A plan cached while
the table was small is such a plan (on a page or two a scan is cheapest), and it stays
cached until autovacuum's next ANALYZE. So the test locks heads often enough on a small
table for any plan to be cached, grows the table, locks again, and counts the scans the
transaction made.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text

from ledger.store import Recorder
from ledger.store.core import SqlUnitOfWork

INSERT_ORDERS = text(
    "INSERT INTO orders (tenant, order_id, sub_state, main_state, head_seq, head_hash,"
    " model, created_at, updated_at, facts)"
    " SELECT 'shop-1', 'order-' || n, 'M05.02', 'M05', 3, repeat('a', 64), 'sha256:m',"
    " '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z', '{}'"
    " FROM generate_series(CAST(:first AS integer), CAST(:last AS integer)) AS n"
)
SCANS = text("SELECT seq_scan, idx_scan FROM pg_stat_xact_user_tables WHERE relname = 'orders'")
KEYS = [("shop-1", "order-3"), ("shop-1", "order-1"), ("shop-1", "order-2")]


def _connection(uow: Any) -> Connection:
    assert isinstance(uow, SqlUnitOfWork)
    return uow._conn  # the unit of work's own transaction


def test_the_batch_lock_reads_the_primary_key_after_the_table_grew(
    postgres_recorder: Recorder,
) -> None:
    with postgres_recorder.unit_of_work() as uow:
        _connection(uow).execute(INSERT_ORDERS, {"first": 1, "last": 5})
    with postgres_recorder.unit_of_work() as uow:
        _connection(uow).execute(text("ANALYZE orders"))
    for _ in range(12):  # past the driver's and the server's thresholds for caching a plan
        with postgres_recorder.unit_of_work() as uow:
            assert len(uow.lock_heads(KEYS)) == 3
    with postgres_recorder.unit_of_work() as uow:
        _connection(uow).execute(INSERT_ORDERS, {"first": 6, "last": 3_000})
    with postgres_recorder.unit_of_work() as uow:
        # counts not yet reported to the server's statistics, so taken before and after
        seq_before, index_before = _connection(uow).execute(SCANS).one()
        locked = uow.lock_heads([*KEYS, ("shop-1", "order-2999"), ("shop-1", "order-9999")])
        seq_after, index_after = _connection(uow).execute(SCANS).one()
    assert sorted(locked) == sorted([*KEYS, ("shop-1", "order-2999")])
    assert seq_after - seq_before == 0
    assert index_after - index_before >= 1
