"""The ledger schema: tables, immutability triggers, the least-privilege role.

Revision ID: 0001
Revises:
Create Date: 2026-05-10

Immutability is the database's job, not only the application's: triggers refuse UPDATE
and DELETE of evidence (and TRUNCATE in PostgreSQL), allow a payload UPDATE only as
erasure, and let a key's `not_after` be set once. In PostgreSQL the role
`orderledger_app` lacks the privileges to change evidence even with triggers disabled.
Every trigger message starts `orderledger: <name>: ` and PostgreSQL's also carries
<name> as its constraint name, which is how `ledger.store.errors` recognises them.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = ("records", "leaves", "merkle_nodes", "checkpoints", "catalogues")
APP_ROLE = "orderledger_app"
ALL_TABLES = ("orders", "records", "payloads", "catalogues", "signing_keys",
              "idempotency_keys", "sequencing_queue", "leaves", "merkle_nodes", "checkpoints")

_RECORD_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _text(name: str, *, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.Text(), nullable=nullable)


def _create_tables() -> None:
    op.create_table(
        "orders",
        _text("tenant"), _text("order_id"), _text("sub_state"), _text("main_state"),
        sa.Column("head_seq", sa.BigInteger(), nullable=False),
        _text("head_hash"), _text("model"), _text("created_at"), _text("updated_at"),
        sa.PrimaryKeyConstraint("tenant", "order_id", name="pk_orders"),
    )
    op.create_table(
        "records",
        sa.Column("id", _RECORD_ID, nullable=False, autoincrement=True),
        sa.Column("v", sa.Integer(), nullable=False),
        _text("log"), _text("kind"), _text("tenant"), _text("order_id"),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        _text("prev"), _text("from_state", nullable=True), _text("to_state"), _text("event"),
        _text("event_time"), _text("recorded_at"), _text("actor_type"), _text("actor_id"),
        _text("payload_digest"), _text("model"), _text("rules"), _text("key_id"),
        _text("statement_hash"), _text("signature"),
        sa.PrimaryKeyConstraint("id", name="pk_records"),
        sa.UniqueConstraint("tenant", "order_id", "seq", name="uq_records_order_seq"),
        sa.UniqueConstraint("statement_hash", name="uq_records_statement_hash"),
    )
    op.create_index("ix_records_tenant_to_state", "records", ["tenant", "to_state"])
    op.create_index("ix_records_event_time", "records", ["event_time"])
    op.create_index("ix_records_recorded_at", "records", ["recorded_at"])
    op.create_table(
        "payloads",
        sa.Column("record_id", _RECORD_ID, nullable=False, autoincrement=False),
        _text("payload", nullable=True),
        sa.Column("salt", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("record_id", name="pk_payloads"),
        sa.ForeignKeyConstraint(["record_id"], ["records.id"], name="fk_payloads_record"),
        sa.CheckConstraint("(payload IS NULL) = (salt IS NULL)",
                           name="ck_payloads_both_or_neither"),
    )
    op.create_table(
        "catalogues",
        _text("digest"), _text("version"), _text("document"),
        sa.PrimaryKeyConstraint("digest", name="pk_catalogues"),
    )
    op.create_table(
        "signing_keys",
        _text("key_id"), _text("purpose"), _text("alg"),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        _text("not_before"), _text("not_after", nullable=True),
        sa.PrimaryKeyConstraint("key_id", name="pk_signing_keys"),
        sa.CheckConstraint("purpose IN ('record', 'log')", name="ck_signing_keys_purpose"),
    )
    op.create_table(
        "idempotency_keys",
        _text("tenant"), _text("key"), _text("request_hash"),
        sa.Column("record_id", _RECORD_ID, nullable=False),
        _text("created_at"),
        sa.PrimaryKeyConstraint("tenant", "key", name="pk_idempotency_keys"),
        sa.ForeignKeyConstraint(["record_id"], ["records.id"], name="fk_idempotency_keys_record"),
    )
    op.create_table(
        "sequencing_queue",
        sa.Column("record_id", _RECORD_ID, nullable=False, autoincrement=False),
        sa.PrimaryKeyConstraint("record_id", name="pk_sequencing_queue"),
        sa.ForeignKeyConstraint(["record_id"], ["records.id"], name="fk_sequencing_queue_record"),
    )
    op.create_table(
        "leaves",
        sa.Column("leaf_index", sa.BigInteger(), nullable=False, autoincrement=False),
        sa.Column("record_id", _RECORD_ID, nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("leaf_index", name="pk_leaves"),
        sa.UniqueConstraint("record_id", name="uq_leaves_record"),
        sa.ForeignKeyConstraint(["record_id"], ["records.id"], name="fk_leaves_record"),
    )
    op.create_table(
        "merkle_nodes",
        sa.Column("level", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("idx", sa.BigInteger(), nullable=False, autoincrement=False),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("level", "idx", name="pk_merkle_nodes"),
    )
    op.create_table(
        "checkpoints",
        sa.Column("size", sa.BigInteger(), nullable=False, autoincrement=False),
        sa.Column("root", sa.LargeBinary(), nullable=False),
        _text("note"), _text("created_at"),
        sa.PrimaryKeyConstraint("size", name="pk_checkpoints"),
    )


# --- SQLite --------------------------------------------------------------------------------

_KEY_FIELDS_CHANGED = " OR ".join(
    f"NEW.{c} IS NOT OLD.{c}" for c in ("key_id", "purpose", "alg", "public_key", "not_before")
)


def _sqlite_refuse(trigger: str, when: str, table: str, name: str, message: str) -> str:
    return (f"CREATE TRIGGER {trigger} BEFORE {when} ON {table} BEGIN "
            f"SELECT RAISE(ABORT, 'orderledger: {name}: {message}'); END")


def _sqlite_triggers() -> list[str]:
    ddl: list[str] = []
    for table in APPEND_ONLY:
        for verb in ("UPDATE", "DELETE"):
            ddl.append(_sqlite_refuse(f"{table}_no_{verb.lower()}", verb, table,
                                      f"{table}_immutable",
                                      f"{table} rows are append-only; {verb} refused"))
    ddl += [
        _sqlite_refuse(
            "payloads_erasure_only",
            "UPDATE",
            "payloads WHEN NEW.payload IS NOT NULL OR NEW.salt IS NOT NULL "
            "OR NEW.record_id IS NOT OLD.record_id",
            "payloads_erasure_only",
            "a payload may only be erased (payload and salt set to NULL)",
        ),
        _sqlite_refuse("payloads_no_delete", "DELETE", "payloads", "payloads_immutable",
                       "payloads rows are append-only; DELETE refused"),
        _sqlite_refuse(
            "signing_keys_close_once",
            "UPDATE",
            f"signing_keys WHEN {_KEY_FIELDS_CHANGED} OR OLD.not_after IS NOT NULL "
            "OR NEW.not_after IS NULL",
            "signing_keys_close_once",
            "only not_after may change, once, from NULL to a time",
        ),
        _sqlite_refuse("signing_keys_no_delete", "DELETE", "signing_keys",
                       "signing_keys_immutable", "signing_keys rows are append-only; DELETE "
                       "refused"),
        # Every committed record is queued for the Merkle log, whoever inserted it.
        "CREATE TRIGGER records_enqueue AFTER INSERT ON records BEGIN "
        "INSERT INTO sequencing_queue (record_id) VALUES (NEW.id); END",
    ]
    return ddl


# --- PostgreSQL ----------------------------------------------------------------------------

_PG_FUNCTIONS = [
    """
    CREATE FUNCTION orderledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION 'orderledger: %_immutable: % rows are append-only; % refused',
          TG_TABLE_NAME, TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'restrict_violation', CONSTRAINT = TG_TABLE_NAME || '_immutable',
              TABLE = TG_TABLE_NAME;
    END $$
    """,
    """
    CREATE FUNCTION orderledger_payload_erasure_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.payload IS NOT NULL OR NEW.salt IS NOT NULL
         OR NEW.record_id IS DISTINCT FROM OLD.record_id THEN
        RAISE EXCEPTION 'orderledger: payloads_erasure_only: a payload may only be erased '
                        '(payload and salt set to NULL)'
          USING ERRCODE = 'restrict_violation', CONSTRAINT = 'payloads_erasure_only';
      END IF;
      IF coalesce(current_setting('orderledger.purpose', true), '') <> 'retention' THEN
        RAISE EXCEPTION 'orderledger: payloads_erasure_only: erasing a payload needs '
                        'SET LOCAL orderledger.purpose = ''retention'''
          USING ERRCODE = 'restrict_violation', CONSTRAINT = 'payloads_erasure_only';
      END IF;
      RETURN NEW;
    END $$
    """,
    """
    CREATE FUNCTION orderledger_key_close_once() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF (NEW.key_id, NEW.purpose, NEW.alg, NEW.public_key, NEW.not_before)
           IS DISTINCT FROM (OLD.key_id, OLD.purpose, OLD.alg, OLD.public_key, OLD.not_before)
         OR OLD.not_after IS NOT NULL OR NEW.not_after IS NULL THEN
        RAISE EXCEPTION 'orderledger: signing_keys_close_once: only not_after may change, '
                        'once, from NULL to a time'
          USING ERRCODE = 'restrict_violation', CONSTRAINT = 'signing_keys_close_once';
      END IF;
      RETURN NEW;
    END $$
    """,
    # Statement-level with a transition table: one INSERT per batch, not per row.
    """
    CREATE FUNCTION orderledger_enqueue_records() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO sequencing_queue (record_id) SELECT id FROM new_records;
      RETURN NULL;
    END $$
    """,
]


def _pg_triggers() -> list[str]:
    ddl: list[str] = []
    refuse = "EXECUTE FUNCTION orderledger_refuse_change()"
    for table in APPEND_ONLY:
        ddl.append(f"CREATE TRIGGER {table}_no_update_delete BEFORE UPDATE OR DELETE ON {table} "
                   f"FOR EACH ROW {refuse}")
    for table in (*APPEND_ONLY, "payloads", "signing_keys"):
        ddl.append(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                   f"FOR EACH STATEMENT {refuse}")
    ddl += [
        f"CREATE TRIGGER payloads_no_delete BEFORE DELETE ON payloads FOR EACH ROW {refuse}",
        "CREATE TRIGGER payloads_erasure_only BEFORE UPDATE ON payloads FOR EACH ROW "
        "EXECUTE FUNCTION orderledger_payload_erasure_only()",
        f"CREATE TRIGGER signing_keys_no_delete BEFORE DELETE ON signing_keys FOR EACH ROW "
        f"{refuse}",
        "CREATE TRIGGER signing_keys_close_once BEFORE UPDATE ON signing_keys FOR EACH ROW "
        "EXECUTE FUNCTION orderledger_key_close_once()",
        "CREATE TRIGGER records_enqueue AFTER INSERT ON records "
        "REFERENCING NEW TABLE AS new_records FOR EACH STATEMENT "
        "EXECUTE FUNCTION orderledger_enqueue_records()",
    ]
    return ddl


def create_role_sql(role: str) -> str:
    """CREATE ROLE `role` NOLOGIN unless it exists. Roles belong to the whole cluster: two
    databases migrating at the same moment may both find it missing, and the later
    CREATE then fails (duplicate_object, or unique_violation on pg_authid), which here
    means the role is there, as wanted."""
    return f"""
        DO $$ BEGIN
          IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN
            CREATE ROLE {role} NOLOGIN;
          END IF;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
          NULL;
        END $$
        """


def _pg_role() -> list[str]:
    """`orderledger_app`: what the service needs, nothing that could rewrite evidence."""
    tables = ", ".join(ALL_TABLES)
    return [
        create_role_sql(APP_ROLE),
        f"GRANT SELECT, INSERT ON {tables} TO {APP_ROLE}",
        f"GRANT SELECT ON alembic_version TO {APP_ROLE}",
        f"GRANT UPDATE ON orders TO {APP_ROLE}",
        f"GRANT UPDATE (not_after) ON signing_keys TO {APP_ROLE}",
        f"GRANT UPDATE (payload, salt) ON payloads TO {APP_ROLE}",
        f"GRANT DELETE ON sequencing_queue TO {APP_ROLE}",
        f"GRANT USAGE ON SEQUENCE records_id_seq TO {APP_ROLE}",
    ]


def upgrade() -> None:
    _create_tables()
    if op.get_bind().dialect.name == "postgresql":
        statements = [*_PG_FUNCTIONS, *_pg_triggers(), *_pg_role()]
    else:
        statements = _sqlite_triggers()
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    # Dropping a table drops its triggers; the cluster-wide role stays (other databases
    # may use it), only its grants here go with the tables.
    for table in reversed(ALL_TABLES):
        op.drop_table(table)
    if op.get_bind().dialect.name == "postgresql":
        for function in ("orderledger_refuse_change", "orderledger_payload_erasure_only",
                         "orderledger_key_close_once", "orderledger_enqueue_records"):
            op.execute(f"DROP FUNCTION {function}()")
