"""PostgreSQL finds a batch's heads and timers by index, however much the tables grew.

`lock_heads` and the batch's statements over arrays (head moves, timer disarms, new
orders: `ledger.store.postgres_arrays`) run once per batch. Each must read one index
entry per row: a plan that scans the orders or the timers table costs more with every
order ever created. A plan cached while the tables were small is such a plan (on a page
or two a scan is cheapest), and it stays cached until autovacuum's next ANALYZE. So each
test runs its statements often enough on small tables for any plan to be cached, grows
the tables, runs them again, and counts the scans the transaction made.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text

from ledger.store import AppendWrites, Recorder
from ledger.store.core import SqlUnitOfWork
from tests.store.factories import head_after, make_record, time_at

INSERT_ORDERS = text(
    "INSERT INTO orders (tenant, order_id, sub_state, main_state, head_seq, head_hash,"
    " model, created_at, updated_at, facts)"
    " SELECT 'shop-1', 'order-' || n, 'M05.02', 'M05', 3, repeat('a', 64), 'sha256:m',"
    " '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z', '{}'"
    " FROM generate_series(CAST(:first AS integer), CAST(:last AS integer)) AS n"
)
ARM_TIMERS = text(
    "INSERT INTO timers (tenant, order_id, name, sub_state, armed_seq, deadline, warn_at,"
    " next_warn_at, state, created_at)"
    " SELECT 'shop-1', 'order-' || n, 'no_scan', 'M05.02', 3, '2026-01-02T00:00:00.000Z',"
    " '[]', NULL, 'armed', '2026-01-01T00:00:00.000Z'"
    " FROM generate_series(CAST(:first AS integer), CAST(:last AS integer)) AS n"
)
SCANS = text("SELECT seq_scan, idx_scan FROM pg_stat_xact_user_tables WHERE relname = 'orders'")
ALL_SCANS = text("SELECT relname, seq_scan, coalesce(idx_scan, 0) FROM pg_stat_xact_user_tables"
                 " WHERE relname IN ('orders', 'timers') ORDER BY relname")
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


def _batch(order_numbers: range) -> AppendWrites:
    """A batch that moves the given orders' heads (from seq 3), disarms their timers and
    creates an order: the statements over arrays, with two records or more."""
    moved = [make_record(order=f"order-{n}", seq=4, from_state="M05.02", to_state="M05.02",
                         prev="a" * 64) for n in order_numbers]
    fresh = make_record(order=f"order-new-{order_numbers[0]}")
    return AppendWrites(
        records=[*moved, fresh],
        new_orders=[head_after(fresh)],
        head_moves=[(3, head_after(r)) for r in moved],
        timer_disarms=[("shop-1", r.statement.order, "no_scan", time_at(9), 4) for r in moved],
    )


def test_the_batch_statements_read_indexes_after_the_tables_grew(
    postgres_recorder: Recorder,
) -> None:
    with postgres_recorder.unit_of_work() as uow:
        _connection(uow).execute(INSERT_ORDERS, {"first": 1, "last": 36})
        _connection(uow).execute(ARM_TIMERS, {"first": 1, "last": 36})
    with postgres_recorder.unit_of_work() as uow:
        _connection(uow).execute(text("ANALYZE orders"))
        _connection(uow).execute(text("ANALYZE timers"))
    # past the driver's and the server's thresholds for caching a plan; committed, as a
    # rollback makes the driver forget what it prepared
    for first in range(1, 36, 3):
        with postgres_recorder.unit_of_work() as uow:
            uow.write_appends(_batch(range(first, first + 3)))
    with postgres_recorder.unit_of_work() as uow:
        _connection(uow).execute(INSERT_ORDERS, {"first": 37, "last": 3_000})
        _connection(uow).execute(ARM_TIMERS, {"first": 37, "last": 3_000})
    with postgres_recorder.unit_of_work() as uow:
        before = _connection(uow).execute(ALL_SCANS).all()
        uow.write_appends(_batch(range(2_990, 2_993)))
        after = _connection(uow).execute(ALL_SCANS).all()
    with postgres_recorder.unit_of_work(read_only=True) as uow:
        head = uow.get_head("shop-1", "order-2991")
        assert head is not None
        assert head.head_seq == 4
        assert uow.get_head("shop-1", "order-new-2990") is not None
        assert len(uow.list_timers(tenant="shop-1", state="disarmed")) == 36 + 3
    scans = {name: (seq - seq_0, index - index_0)
             for (name, seq, index), (_, seq_0, index_0) in zip(after, before, strict=True)}
    assert [name for name, _, _ in after] == ["orders", "timers"]
    assert scans["orders"][0] == 0
    assert scans["timers"][0] == 0
    assert scans["orders"][1] >= 3
    assert scans["timers"][1] >= 3
