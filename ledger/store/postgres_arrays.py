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
    """`unnest(%b::type[], ...) AS v(name, ...)`, each type that of `table`'s column."""
    arrays = ", ".join(
        f"%b::{table.c[column].type.compile(dialect=_DIALECT)}[]" for _, column in columns)
    return f"unnest({arrays}) AS v({', '.join(name for name, _ in columns)})"


#: (VALUES column, the orders column whose type it has), in `advance_params`' order.
_MOVE_COLUMNS: Final = (
    ("tenant", "tenant"), ("order_id", "order_id"), ("expected_seq", "head_seq"),
    ("head_seq", "head_seq"), ("head_hash", "head_hash"), ("sub_state", "sub_state"),
    ("main_state", "main_state"), ("model", "model"), ("updated_at", "updated_at"),
    ("facts", "facts"),
)
_ADVANCE_PARAMS: Final = ("b_tenant", "b_order_id", "b_expected_seq", "b_new_seq",
                          "b_head_hash", "b_sub_state", "b_main_state", "b_model",
                          "b_updated_at", "b_facts")
_SET_BY_MOVE: Final = [name for name, _ in _MOVE_COLUMNS[3:]]

ADVANCE_HEADS: Final = (
    "UPDATE orders AS o SET "  # noqa: S608 - names are the table's own
    + ", ".join(f"{name} = v.{name}" for name in _SET_BY_MOVE)
    + f" FROM {_unnest(ORDERS, _MOVE_COLUMNS)}"
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


def _columns(rows: Sequence[Sequence[Any]], width: int) -> list[list[Any]]:
    """The transpose of `rows` (each of `width` values): one list per column."""
    return [list(column) for column in zip(*rows, strict=True)] if rows else [[]] * width


def advance_heads_params(moves: Sequence[tuple[int, OrderHead]]) -> list[list[Any]]:
    """The arrays of ADVANCE_HEADS."""
    rows = [[p[n] for n in _ADVANCE_PARAMS]
            for p in (advance_params(seq, head) for seq, head in moves)]
    return _columns(rows, len(_ADVANCE_PARAMS))


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
    """The arrays of DISARM_TIMERS, for `first_disarms`' output."""
    return _columns(disarms, len(_DISARM_COLUMNS))


def insert_orders_params(heads: Sequence[OrderHead]) -> list[list[Any]]:
    """The arrays of INSERT_ORDERS, in the table's column order."""
    rows = [[p[n] for n in _ORDER_COLUMNS] for p in map(order_params, heads)]
    return _columns(rows, len(_ORDER_COLUMNS))
