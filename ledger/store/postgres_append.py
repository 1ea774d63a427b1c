"""The append path's writes on PostgreSQL as ONE statement.

`UnitOfWork.write_appends` gets everything a unit of work's appends produced. On
PostgreSQL it is written by a single statement: each kind of row travels as one array
per column, `unnest`ed into its table by a data-modifying CTE. One statement means one
round trip, one parse/plan (it is prepared once per connection) and set-based inserts,
however many records the batch holds:

- `new_orders` runs first (`new_records` waits on its count), so creating an order that
  a concurrent writer created meanwhile fails as OrderExists, not on the records' keys;
- `new_records` inserts the records in the order given (`WITH ORDINALITY … ORDER BY`,
  so ids — and the Merkle log — follow chain order) and returns id and statement hash;
  payloads, idempotency entries and findings take their record id from it by hash;
- `moved` advances each head only if it still stands at the seq this unit of work
  locked, and returns a row per head moved: the caller compares the count;
- `disarmed` closes timers armed BEFORE this statement (all CTEs see one snapshot, so it
  cannot touch the rows `armed` inserts); `armed` inserts the new timers.

Constraint names reach the application as before (ledger.store.errors).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql

from ledger.store.rows import AppendWrites
from ledger.store.statements import (
    advance_params,
    finding_params,
    idempotency_params,
    order_params,
    record_and_payload_params,
)
from ledger.store.tables import FINDINGS, IDEMPOTENCY_KEYS, ORDERS, PAYLOADS, RECORDS, TIMERS
from ledger.store.timer_sql import disarm_params, timer_params

_DIALECT: Final = postgresql.dialect()  # type: ignore[no-untyped-call]


def _type(table: Table, column: str) -> str:
    return str(table.c[column].type.compile(dialect=_DIALECT))


def _unnest(group: str, columns: Sequence[tuple[str, str]], alias: str) -> str:
    """`unnest(%(g_a)s::T[], …) WITH ORDINALITY AS alias(a, …, ord)`."""
    arrays = ", ".join(f"%({group}_{name})s::{sql_type}[]" for name, sql_type in columns)
    names = ", ".join(name for name, _ in columns)
    return f"unnest({arrays}) WITH ORDINALITY AS {alias}({names}, ord)"


def _typed(table: Table, names: Sequence[str]) -> list[tuple[str, str]]:
    return [(name, _type(table, name)) for name in names]


_ORDER_COLUMNS: Final = [c.name for c in ORDERS.c]
_RECORD_COLUMNS: Final = [c.name for c in RECORDS.c if c.name != "id"]
_TIMER_COLUMNS: Final = [c.name for c in TIMERS.c if c.name != "id"]
_FINDING_COLUMNS: Final = [c.name for c in FINDINGS.c if c.name not in ("id", "record_id")]
_IDEMPOTENCY_COLUMNS: Final = [
    c.name for c in IDEMPOTENCY_KEYS.c if c.name != "record_id"]
_HEAD_COLUMNS: Final = ["sub_state", "main_state", "head_seq", "head_hash", "model",
                        "updated_at", "facts"]
_HASH: Final = ("statement_hash", _type(RECORDS, "statement_hash"))
_BY_HASH: Final = "JOIN new_records n ON n.statement_hash = {alias}.statement_hash"


def _select(alias: str, names: Sequence[str]) -> str:
    return ", ".join(f"{alias}.{name}" for name in names)


# Built at import from the table definitions only (no input): hence the noqa.
APPEND_SQL: Final = f"""
WITH new_orders AS (
    INSERT INTO orders ({", ".join(_ORDER_COLUMNS)})
    SELECT {_select("o", _ORDER_COLUMNS)}
    FROM {_unnest("o", _typed(ORDERS, _ORDER_COLUMNS), "o")} ORDER BY o.ord
    RETURNING 1
), new_records AS (
    INSERT INTO records ({", ".join(_RECORD_COLUMNS)})
    SELECT {_select("r", _RECORD_COLUMNS)}
    FROM {_unnest("r", _typed(RECORDS, _RECORD_COLUMNS), "r")}
    WHERE (SELECT count(*) FROM new_orders) >= 0  -- orders first: a taken one is OrderExists
    ORDER BY r.ord
    RETURNING id, statement_hash
), new_payloads AS (
    INSERT INTO payloads (record_id, payload, salt)
    SELECT n.id, p.payload, p.salt
    FROM {_unnest("p", [_HASH, *_typed(PAYLOADS, ["payload", "salt"])], "p")}
    {_BY_HASH.format(alias="p")}
), moved AS (
    UPDATE orders AS t SET {", ".join(f"{c} = m.{c}" for c in _HEAD_COLUMNS)}
    FROM {_unnest("m", [("tenant", "TEXT"), ("order_id", "TEXT"),
                        ("expected_seq", "BIGINT"), *_typed(ORDERS, _HEAD_COLUMNS)], "m")}
    WHERE t.tenant = m.tenant AND t.order_id = m.order_id AND t.head_seq = m.expected_seq
    RETURNING 1
), disarmed AS (
    UPDATE timers AS t
    SET state = 'disarmed', closed_at = d.at, closed_by_seq = d.by_seq, next_warn_at = NULL
    FROM {_unnest("d", [("tenant", "TEXT"), ("order_id", "TEXT"), ("name", "TEXT"),
                        ("at", "TEXT"), ("by_seq", "BIGINT")], "d")}
    WHERE t.tenant = d.tenant AND t.order_id = d.order_id AND t.state = 'armed'
      AND t.name = d.name
), armed AS (
    INSERT INTO timers ({", ".join(_TIMER_COLUMNS)})
    SELECT {_select("a", _TIMER_COLUMNS)}
    FROM {_unnest("a", _typed(TIMERS, _TIMER_COLUMNS), "a")} ORDER BY a.ord
), keys AS (
    INSERT INTO idempotency_keys ({", ".join(_IDEMPOTENCY_COLUMNS)}, record_id)
    SELECT {_select("i", _IDEMPOTENCY_COLUMNS)}, n.id
    FROM {_unnest("i", [*_typed(IDEMPOTENCY_KEYS, _IDEMPOTENCY_COLUMNS), _HASH], "i")}
    {_BY_HASH.format(alias="i")}
), found AS (
    INSERT INTO findings ({", ".join(_FINDING_COLUMNS)}, record_id)
    SELECT {_select("f", _FINDING_COLUMNS)}, n.id
    FROM {_unnest("f", [*_typed(FINDINGS, _FINDING_COLUMNS), _HASH], "f")}
    {_BY_HASH.format(alias="f")} ORDER BY f.ord
)
SELECT n.id, n.statement_hash, (SELECT count(*) FROM moved) FROM new_records n
"""  # noqa: S608


def append_params(writes: AppendWrites) -> dict[str, list[Any]]:
    """The arrays APPEND_SQL takes: one list per column and group, empty when the
    group has no rows."""
    params: dict[str, list[Any]] = {}
    _columns(params, "o", _ORDER_COLUMNS, [order_params(h) for h in writes.new_orders])
    records = [record_and_payload_params(r) for r in writes.records]
    _columns(params, "r", _RECORD_COLUMNS, records)
    _columns(params, "p", ["statement_hash", "payload", "salt"], records)
    _columns(params, "m", ["tenant", "order_id", "expected_seq", *_HEAD_COLUMNS],
             [_head_move(seq, head) for seq, head in writes.head_moves])
    _columns(params, "d", ["tenant", "order_id", "name", "at", "by_seq"],
             [_renamed(disarm_params(d), _DISARM_NAMES) for d in writes.timer_disarms])
    _columns(params, "a", _TIMER_COLUMNS, [timer_params(t) for t in writes.timers])
    _columns(params, "i", [*_IDEMPOTENCY_COLUMNS, "statement_hash"],
             [{**idempotency_params(e), "statement_hash": h} for h, e in writes.idempotency])
    _columns(params, "f", [*_FINDING_COLUMNS, "statement_hash"],
             [{**finding_params(f), "statement_hash": h} for h, f in writes.findings])
    return params


_DISARM_NAMES: Final = {"b_tenant": "tenant", "b_order": "order_id", "b_name": "name"}
_HEAD_NAMES: Final = {"b_tenant": "tenant", "b_order_id": "order_id",
                      "b_expected_seq": "expected_seq", "b_new_seq": "head_seq",
                      **{f"b_{c}": c for c in _HEAD_COLUMNS if c != "head_seq"}}


def _head_move(expected_seq: int, head: Any) -> dict[str, Any]:
    return _renamed(advance_params(expected_seq, head), _HEAD_NAMES)


def _renamed(row: Mapping[str, Any], names: Mapping[str, str]) -> dict[str, Any]:
    return {names.get(key, key): value for key, value in row.items()}


def _columns(params: dict[str, list[Any]], group: str, names: Sequence[str],
             rows: Sequence[Mapping[str, Any]]) -> None:
    for name in names:
        params[f"{group}_{name}"] = [row[name] for row in rows]
