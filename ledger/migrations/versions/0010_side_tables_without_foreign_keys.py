"""Payloads and the sequencing queue without foreign keys to records.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07

`fk_payloads_record` and `fk_sequencing_queue_record` are dropped. Every record inserts
one row into each table, in the record's own transaction: the payload by the append path,
the queue entry by the `records_enqueue` trigger. A foreign key checked each of those rows
with a query that locks the record row (`FOR KEY SHARE`, written to the WAL): ~16 µs of
PostgreSQL time per record, the two checks together, about a sixth of what the server
spends on a batched record (ADR 0005).

What the keys guarded still holds: records are never deleted (triggers and the
application role's privileges), so no reference can dangle by a deletion, and a row
inserted straight into either table for a record that does not exist is found by
`orderledger audit` ("dangling"). The other tables that name a record (idempotency keys,
findings, leaves, retention run items, carrier feed events) keep their foreign keys: they
get a row for few records, or off the append path.

SQLite drops a constraint only by rebuilding the table (alembic's batch mode), which
drops the table's triggers too: the payload triggers of 0001 are created again. The
queue is rebuilt with `records_enqueue` (which inserts into it) dropped meanwhile: SQLite
re-reads every trigger when a table is renamed and refuses one that names a missing table.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: (table, foreign key) dropped here.
_KEYS = (("payloads", "fk_payloads_record"), ("sequencing_queue", "fk_sequencing_queue_record"))


def _sqlite_triggers() -> list[str]:
    """0001's SQLite triggers on `payloads` and `records_enqueue`, to create again."""
    initial = importlib.import_module("ledger.migrations.versions.0001_initial")
    triggers: list[str] = initial._sqlite_triggers()
    return [ddl for ddl in triggers if ddl.startswith(
        ("CREATE TRIGGER payloads_", "CREATE TRIGGER records_enqueue "))]


def _rebuild(*, keys: bool) -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        op.execute("DROP TRIGGER records_enqueue")
    for table, key in _KEYS:
        with op.batch_alter_table(table) as batch:
            if keys:
                batch.create_foreign_key(key, "records", ["record_id"], ["id"])
            else:
                batch.drop_constraint(key, type_="foreignkey")
    if sqlite:
        for ddl in _sqlite_triggers():
            op.execute(ddl)


def upgrade() -> None:
    _rebuild(keys=False)


def downgrade() -> None:
    _rebuild(keys=True)
