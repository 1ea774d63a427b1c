"""The inserts of a unit of work with many records on PostgreSQL as ONE statement.

`UnitOfWork.write_appends` gets everything a unit of work's appends produced. With more
than one record, PostgreSQL inserts them with a single statement: each kind of row
travels as one JSON array parameter, turned into rows by `json_to_recordset` inside a
data-modifying CTE. One statement means one parse/plan (it is prepared once per
connection; a test keeps it short enough for psycopg to cache) and set-based inserts,
however many records the batch holds:

- `new_orders` runs first (`new_records` waits on its count), so creating an order that
  a concurrent writer created meanwhile fails as OrderExists, not on the records' keys;
- `new_records` inserts the records in the order given (each row carries its position
  `i`; `ORDER BY i`), so ids — and the Merkle log — follow chain order, and returns id
  and statement hash; payloads, idempotency entries and findings take their record id
  from it by hash; `armed` inserts the new timers.

The UPDATEs (head moves, timer disarms) are not in it: joined against a JSON array they
were planned as hash joins over a scan of every order and every armed timer (the planner
assumes 100 rows from `json_to_recordset`), a cost that grew with the ledger (1,494 →
889 records/s within one minute of batches). They go as single-row statements by key,
in the same pipeline and before this statement (`postgres_pipeline.write_pipelined`).

Constraint names reach the application as before (ledger.store.errors).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql

from ledger.store.rows import AppendWrites
from ledger.store.statements import (
    finding_params,
    idempotency_params,
    order_params,
    record_and_payload_params,
)
from ledger.store.tables import FINDINGS, IDEMPOTENCY_KEYS, ORDERS, PAYLOADS, RECORDS, TIMERS
from ledger.store.timer_sql import timer_params

_DIALECT: Final = postgresql.dialect()  # type: ignore[no-untyped-call]


def _defs(table: Table, names: Sequence[str], extra: str = "") -> str:
    """`a TEXT, b BIGINT, …`: the column definitions json_to_recordset needs."""
    defs = [f"{n} {table.c[n].type.compile(dialect=_DIALECT)}" for n in names]
    return ", ".join(defs) + (f", {extra}" if extra else "")


def _rows(param: str, alias: str, definitions: str, *, ordered: bool = True) -> str:
    """The rows of one JSON array parameter; `ordered` rows carry their position `i`."""
    position = ", i INT" if ordered else ""
    return f"json_to_recordset(%({param})s::json) AS {alias}({definitions}{position})"


_ORDER_COLUMNS: Final = [c.name for c in ORDERS.c]
_RECORD_COLUMNS: Final = [c.name for c in RECORDS.c if c.name != "id"]
_TIMER_COLUMNS: Final = [c.name for c in TIMERS.c if c.name != "id"]
_FINDING_COLUMNS: Final = [c.name for c in FINDINGS.c if c.name not in ("id", "record_id")]
_IDEMPOTENCY_COLUMNS: Final = [
    c.name for c in IDEMPOTENCY_KEYS.c if c.name != "record_id"]
_HASH: Final = "statement_hash TEXT"
_BY_HASH: Final = "JOIN new_records n ON n.statement_hash = {alias}.statement_hash"


def _select(alias: str, names: Sequence[str]) -> str:
    return ", ".join(f"{alias}.{name}" for name in names)


# Built at import from the table definitions only (no input). Short enough (and with few
# enough parameters) for psycopg to cache its parsed form and prepare it once.
APPEND_SQL: Final = f"""WITH new_orders AS (
INSERT INTO orders ({", ".join(_ORDER_COLUMNS)})
SELECT * FROM {_rows("orders", "o", _defs(ORDERS, _ORDER_COLUMNS), ordered=False)}
RETURNING 1
), new_records AS (
INSERT INTO records ({", ".join(_RECORD_COLUMNS)})
SELECT {_select("r", _RECORD_COLUMNS)}
FROM {_rows("records", "r", _defs(RECORDS, _RECORD_COLUMNS))}
WHERE (SELECT count(*) FROM new_orders) >= 0
ORDER BY r.i
RETURNING id, statement_hash
), new_payloads AS (
INSERT INTO payloads (record_id, payload, salt) SELECT n.id, p.payload, p.salt
FROM {_rows("payloads", "p", _defs(PAYLOADS, ["payload", "salt"], _HASH))}
{_BY_HASH.format(alias="p")}
), armed AS (
INSERT INTO timers ({", ".join(_TIMER_COLUMNS)})
SELECT * FROM {_rows("timers", "a", _defs(TIMERS, _TIMER_COLUMNS), ordered=False)}
), keys AS (
INSERT INTO idempotency_keys ({", ".join(_IDEMPOTENCY_COLUMNS)}, record_id)
SELECT {_select("i", _IDEMPOTENCY_COLUMNS)}, n.id
FROM {_rows("keys", "i", _defs(IDEMPOTENCY_KEYS, _IDEMPOTENCY_COLUMNS, _HASH))}
{_BY_HASH.format(alias="i")}
), found AS (
INSERT INTO findings ({", ".join(_FINDING_COLUMNS)}, record_id)
SELECT {_select("f", _FINDING_COLUMNS)}, n.id
FROM {_rows("findings", "f", _defs(FINDINGS, _FINDING_COLUMNS, _HASH))}
{_BY_HASH.format(alias="f")} ORDER BY f.i
)
SELECT n.id, n.statement_hash FROM new_records n"""  # noqa: S608


def append_params(writes: AppendWrites) -> dict[str, str]:
    """The JSON arrays APPEND_SQL takes, one per kind of row ("[]" for none)."""
    records = [record_and_payload_params(r) for r in writes.records]
    return {
        "orders": _json([order_params(h) for h in writes.new_orders]),
        "records": _json([{**{k: r[k] for k in _RECORD_COLUMNS}, "i": i}
                          for i, r in enumerate(records)]),
        "payloads": _json([
            {"statement_hash": r["statement_hash"], "payload": r["payload"],
             "salt": None if r["salt"] is None else "\\x" + r["salt"].hex()}
            for r in records]),
        "timers": _json([timer_params(t) for t in writes.timers]),
        "keys": _json([{**idempotency_params(e), "statement_hash": h}
                       for h, e in writes.idempotency]),
        "findings": _json([{**finding_params(f), "statement_hash": h, "i": i}
                           for i, (h, f) in enumerate(writes.findings)]),
    }


def _json(rows: Sequence[Mapping[str, Any]]) -> str:
    return json.dumps(rows, ensure_ascii=False, separators=(",", ":"))
