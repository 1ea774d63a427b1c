"""A batch's timer disarms, head moves and new orders on PostgreSQL: one statement each.

Each statement takes its rows as one array per column, sent in binary (`%b`), unnested
and joined by key to the table it changes (`UPDATE ... FROM unnest(...)`), or inserted as
they are (`INSERT ... SELECT FROM unnest(...)`). As single-row statements, a batch of 100
records took ~60 of them (25 disarms, 25 head moves, 10 new orders), each ~40–50 µs of
psycopg's client CPU. Measured on 25 head moves (bench/RESULTS.md, session 7): client
CPU ~1,200 → ~630 µs, server about the same.

Session 5 tried `unnest` with arrays in text format (`%s`), whose adaptation cost more
than it saved, and `json_to_recordset`, whose row count the planner could not know;
session 7 measured a `VALUES` list of parameters, which psycopg re-parses in Python at
every execution once a statement has more than 50 parameters.

Every statement is planned at each execution (`prepare=False`, the caller's part): a
plan cached while a table was small would scan the whole of it once it has grown
(session 6's head lock did). A test counts the sequential scans.

What each statement does equals its single-row form run row by row:

- a head moves only where it still stands at the seq the unit of work locked; the
  caller compares the row count with the moves it asked for;
- a disarm closes the armed timers of its (tenant, order, name). Of two disarms of one
  key only the first may close anything (the second finds none armed), so the later
  ones are dropped here: in one join, both would match the same timer;
- new orders go in as one INSERT, so a taken key fails it with the primary key's name
  (`OrderExists`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql

from ledger.store.rows import OrderHead, TimerDisarm
from ledger.store.statements import advance_params, order_params
from ledger.store.tables import ORDERS, TIMERS

_DIALECT: Final = postgresql.dialect()  # type: ignore[no-untyped-call]


def _unnest(table: Table, columns: Sequence[tuple[str, str]]) -> str:
    """`unnest(%b::type[], ...) AS v(name, ...)` for (name, column) pairs, each array of
    the type of `table`'s column."""
    arrays = ", ".join(
        f"%b::{table.c[column].type.compile(dialect=_DIALECT)}[]" for _, column in columns)
    return f"unnest({arrays}) AS v({', '.join(name for name, _ in columns)})"


def _columns(rows: Sequence[Sequence[Any]]) -> list[list[Any]]:
    """The transpose of `rows` (at least one, all as wide): one list per column."""
    return [list(column) for column in zip(*rows, strict=True)]


#: A head move's values: (name in the statement, the orders column whose type it has,
#: its key in `advance_params`), in the order of the arrays.
_MOVE: Final = (
    ("tenant", "tenant", "b_tenant"), ("order_id", "order_id", "b_order_id"),
    ("expected_seq", "head_seq", "b_expected_seq"), ("head_seq", "head_seq", "b_new_seq"),
    ("head_hash", "head_hash", "b_head_hash"), ("sub_state", "sub_state", "b_sub_state"),
    ("main_state", "main_state", "b_main_state"), ("model", "model", "b_model"),
    ("updated_at", "updated_at", "b_updated_at"), ("facts", "facts", "b_facts"),
)
ADVANCE_HEADS: Final = (
    "UPDATE orders AS o SET "  # noqa: S608 - names are the table's own
    + ", ".join(f"{name} = v.{name}" for name, _, _ in _MOVE[3:])
    + f" FROM {_unnest(ORDERS, [(name, column) for name, column, _ in _MOVE])}"
    " WHERE o.tenant = v.tenant AND o.order_id = v.order_id AND o.head_seq = v.expected_seq"
)

_DISARM_COLUMNS: Final = (("tenant", "tenant"), ("order_id", "order_id"), ("name", "name"),
                          ("at", "closed_at"), ("by_seq", "closed_by_seq"))
DISARM_TIMERS: Final = (
    "UPDATE timers AS t SET state = 'disarmed', closed_at = v.at,"  # noqa: S608
    f" closed_by_seq = v.by_seq, next_warn_at = NULL FROM {_unnest(TIMERS, _DISARM_COLUMNS)}"
    # `state = 'armed'` literally: the armed-only index serves only such a query
    " WHERE t.tenant = v.tenant AND t.order_id = v.order_id AND t.state = 'armed'"
    " AND t.name = v.name"
)

_ORDER_COLUMNS: Final = tuple(c.name for c in ORDERS.c)
INSERT_ORDERS: Final = (
    f"INSERT INTO orders ({', '.join(_ORDER_COLUMNS)})"  # noqa: S608
    f" SELECT * FROM {_unnest(ORDERS, [(n, n) for n in _ORDER_COLUMNS])}"
)


def advance_heads_params(moves: Sequence[tuple[int, OrderHead]]) -> list[list[Any]]:
    """The arrays of ADVANCE_HEADS (at least one move)."""
    return _columns([[p[key] for _, _, key in _MOVE]
                     for p in (advance_params(seq, head) for seq, head in moves)])


def first_disarms(disarms: Sequence[TimerDisarm]) -> list[TimerDisarm]:
    """`disarms` less any whose (tenant, order, name) an earlier one names, in order."""
    seen: set[tuple[str, str, str]] = set()
    kept = []
    for disarm in disarms:
        key = disarm[:3]
        if key not in seen:
            seen.add(key)
            kept.append(disarm)
    return kept


def disarm_timers_params(disarms: Sequence[TimerDisarm]) -> list[list[Any]]:
    """The arrays of DISARM_TIMERS, for `first_disarms`' output (at least one)."""
    return _columns(disarms)


def insert_orders_params(heads: Sequence[OrderHead]) -> list[list[Any]]:
    """The arrays of INSERT_ORDERS, in the table's column order (at least one head)."""
    return _columns([[p[n] for n in _ORDER_COLUMNS] for p in map(order_params, heads)])
