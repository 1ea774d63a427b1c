"""SLA timers and the alert outbox.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25

- `timers`: one row per armed SLA timer (never one scheduler job per timer), indexed by
  state and deadline so a sweep finds due timers in O(log n). A timer leaves `armed`
  exactly once, for `fired` (its breach record is chained) or `disarmed` (its sub-state was
  left, or its `disarm_on` event came); the database refuses any other change.
- `alert_outbox`: alerts (breaches and pre-breach warnings) written in the same
  transaction that decided them, so delivery survives restarts (transactional outbox).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

_PG_TIMER_GUARD = """
CREATE FUNCTION orderledger_timer_close_once() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.state <> 'armed'
     OR NEW.state NOT IN ('armed', 'fired', 'disarmed')
     OR (NEW.id, NEW.tenant, NEW.order_id, NEW.name, NEW.sub_state, NEW.armed_seq,
         NEW.deadline, NEW.created_at)
        IS DISTINCT FROM
        (OLD.id, OLD.tenant, OLD.order_id, OLD.name, OLD.sub_state, OLD.armed_seq,
         OLD.deadline, OLD.created_at) THEN
    RAISE EXCEPTION 'orderledger: timers_close_once: a timer may only leave the armed state once'
      USING ERRCODE = 'restrict_violation', CONSTRAINT = 'timers_close_once', TABLE = 'timers';
  END IF;
  RETURN NEW;
END $$
"""

_SQLITE_TIMER_GUARD = (
    "CREATE TRIGGER timers_close_once BEFORE UPDATE ON timers "
    "WHEN OLD.state <> 'armed' OR NEW.state NOT IN ('armed', 'fired', 'disarmed') "
    "OR NEW.id IS NOT OLD.id OR NEW.tenant IS NOT OLD.tenant "
    "OR NEW.order_id IS NOT OLD.order_id OR NEW.name IS NOT OLD.name "
    "OR NEW.sub_state IS NOT OLD.sub_state OR NEW.armed_seq IS NOT OLD.armed_seq "
    "OR NEW.deadline IS NOT OLD.deadline OR NEW.created_at IS NOT OLD.created_at "
    "BEGIN SELECT RAISE(ABORT, 'orderledger: timers_close_once: a timer may only leave "
    "the armed state once'); END"
)


def upgrade() -> None:
    op.create_table(
        "timers",
        sa.Column("id", _ID, nullable=False, autoincrement=True),
        sa.Column("tenant", sa.Text(), nullable=False),
        sa.Column("order_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("sub_state", sa.Text(), nullable=False),
        sa.Column("armed_seq", sa.BigInteger(), nullable=False),
        sa.Column("deadline", sa.Text(), nullable=False),
        sa.Column("warn_at", sa.Text(), nullable=False),  # JSON list, earliest first
        sa.Column("next_warn_at", sa.Text(), nullable=True),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Text(), nullable=False),
        sa.Column("closed_at", sa.Text(), nullable=True),
        sa.Column("closed_by_seq", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_timers"),
        sa.CheckConstraint("state IN ('armed', 'fired', 'disarmed')", name="ck_timers_state"),
    )
    op.create_index("ix_timers_state_deadline", "timers", ["state", "deadline"])
    op.create_index("ix_timers_state_next_warn", "timers", ["state", "next_warn_at"])
    op.create_index("ix_timers_order", "timers", ["tenant", "order_id", "state"])
    op.create_table(
        "alert_outbox",
        sa.Column("id", _ID, nullable=False, autoincrement=True),
        sa.Column("tenant", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),  # sla_breach | sla_warning
        sa.Column("body", sa.Text(), nullable=False),  # JSON
        sa.Column("created_at", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_alert_outbox"),
    )
    op.create_index("ix_alert_outbox_tenant", "alert_outbox", ["tenant", "id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_TIMER_GUARD)
        op.execute(
            "CREATE TRIGGER timers_close_once BEFORE UPDATE ON timers FOR EACH ROW "
            "EXECUTE FUNCTION orderledger_timer_close_once()"
        )
        refuse = "EXECUTE FUNCTION orderledger_refuse_change()"
        op.execute(f"CREATE TRIGGER timers_no_delete BEFORE DELETE ON timers FOR EACH ROW {refuse}")
        op.execute(
            f"CREATE TRIGGER alert_outbox_no_update_delete BEFORE UPDATE OR DELETE ON "
            f"alert_outbox FOR EACH ROW {refuse}"
        )
        for table in ("timers", "alert_outbox"):
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                f"FOR EACH STATEMENT {refuse}"
            )
            op.execute(f"GRANT SELECT, INSERT ON {table} TO orderledger_app")
            op.execute(f"GRANT USAGE ON SEQUENCE {table}_id_seq TO orderledger_app")
        op.execute(
            "GRANT UPDATE (state, next_warn_at, closed_at, closed_by_seq) ON timers "
            "TO orderledger_app"
        )
    else:
        op.execute(_SQLITE_TIMER_GUARD)
        for table, verbs in (("timers", ("DELETE",)), ("alert_outbox", ("UPDATE", "DELETE"))):
            for verb in verbs:
                op.execute(
                    f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} BEGIN "
                    f"SELECT RAISE(ABORT, 'orderledger: {table}_immutable: {table} rows are "
                    f"append-only; {verb} refused'); END"
                )


def downgrade() -> None:
    op.drop_table("alert_outbox")
    op.drop_table("timers")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION orderledger_timer_close_once()")
