"""The SLA timers' hot look-ups are answered from the armed-only indexes (migration 0008).

Nearly every timer row is soon closed, so the disarm on the append path and the sweeper's
due timers and due warnings must read indexes that hold armed timers only. Each database
uses a partial index only for a query whose WHERE names the index's condition literally;
these tests read the query plans, so a statement that binds `'armed'` as a parameter (or
an index that lost its condition) fails here.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.sql import ClauseElement

from ledger.store import Recorder, TimerRow
from ledger.store.tables import TIMERS
from ledger.store.timer_sql import DISARM_ONE, due_query
from tests.store.factories import engine_of, time_at


def _plan(connection: Connection, statement: ClauseElement, values: dict[str, Any]) -> str:
    """The database's plan for `statement` with `values` bound, as the driver sends it."""
    compiled: Any = statement.compile(dialect=connection.dialect)
    params = compiled.construct_params(values)
    args: Any = (tuple(params[k] for k in compiled.positiontup or ())
                 if compiled.positional else params)
    if connection.dialect.name == "sqlite":
        rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", args).all()
        return "\n".join(str(row[-1]) for row in rows)
    connection.execute(text("SET LOCAL enable_seqscan = off"))  # tiny tables
    rows = connection.exec_driver_sql(f"EXPLAIN {compiled}", args).all()
    return "\n".join(str(row[0]) for row in rows)


def _timers(recorder: Recorder) -> None:
    with recorder.unit_of_work() as uow:
        uow.arm_timers([
            TimerRow(tenant="shop-1", order=f"order-{n}", name="no_scan", sub_state="M05.02",
                     armed_seq=n, deadline=time_at(3600 + n), warn_at=(time_at(1800 + n),),
                     next_warn_at=time_at(1800 + n), state="armed", created_at=time_at(n))
            for n in range(20)
        ])


DISARM_VALUES = {"b_tenant": "shop-1", "b_order": "order-3", "b_name": "no_scan",
                 "at": time_at(99), "by_seq": 4}

CASES = [
    pytest.param(DISARM_ONE, DISARM_VALUES, "ix_timers_armed_name",
                 id="the append path's disarm"),
    # On tables this small the planner may read either armed-only index for a sweep.
    pytest.param(due_query(TIMERS.c.deadline, time_at(4000), 10), {}, "ix_timers_armed_",
                 id="the sweeper's due timers"),
    pytest.param(due_query(TIMERS.c.next_warn_at, time_at(2000), 10), {}, "ix_timers_armed_",
                 id="the sweeper's due warnings"),
]


@pytest.mark.parametrize(("statement", "values", "index"), CASES)
def test_the_look_up_reads_the_armed_only_index(
    recorder: Recorder, statement: ClauseElement, values: dict[str, Any], index: str
) -> None:
    _timers(recorder)
    with engine_of(recorder).connect() as connection, connection.begin():
        plan = _plan(connection, statement, values)
        connection.rollback()
    assert index in plan, plan


ARMED_ONLY = ("ix_timers_armed_deadline", "ix_timers_armed_next_warn", "ix_timers_armed_name")


def test_the_armed_indexes_hold_armed_timers_only(recorder: Recorder) -> None:
    """Their definitions carry the condition: closed timers add no entry to them."""
    if recorder.dialect == "sqlite":
        query = "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'timers'"
    else:
        query = "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'timers'"
    with engine_of(recorder).connect() as connection:
        definitions = {str(name): str(sql) for name, sql in connection.execute(text(query))}
    conditions = {name: sql.partition(" WHERE ")[2] for name, sql in definitions.items()}
    for name in ARMED_ONLY:
        assert conditions[name].replace("(", "").replace(")", "").replace("::text", "") \
            == "state = 'armed'", definitions[name]
    assert conditions["ix_timers_order"] == ""  # listing an order's timers in any state
