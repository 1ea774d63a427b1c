"""Regulation findings and order facts.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25

- `findings`: what a regulation pack flagged on an accepted record (rule, severity,
  citation, message, field). Append-only like every other piece of evidence.
- `orders.facts`: the pack's folded order facts (last event time, delivery time, cooling-off
  end, …) kept beside the head so rules need not re-read a chain on every append. Derived
  data: audit can recompute it from the chain.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.add_column("orders", sa.Column("facts", sa.Text(), nullable=True))
    op.create_table(
        "findings",
        sa.Column("id", _ID, nullable=False, autoincrement=True),
        sa.Column("record_id", _ID, nullable=False),
        sa.Column("tenant", sa.Text(), nullable=False),
        sa.Column("order_id", sa.Text(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("sub_state", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.Text(), nullable=False),
        sa.Column("pack", sa.Text(), nullable=False),
        sa.Column("rule_id", sa.Text(), nullable=False),
        sa.Column("severity", sa.Text(), nullable=False),
        sa.Column("citation", sa.Text(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("field", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_findings"),
        sa.ForeignKeyConstraint(["record_id"], ["records.id"], name="fk_findings_record"),
    )
    op.create_index("ix_findings_tenant_rule", "findings", ["tenant", "rule_id"])
    op.create_index("ix_findings_record", "findings", ["record_id"])
    if op.get_bind().dialect.name == "postgresql":
        refuse = "EXECUTE FUNCTION orderledger_refuse_change()"
        op.execute(
            f"CREATE TRIGGER findings_no_update_delete BEFORE UPDATE OR DELETE ON findings "
            f"FOR EACH ROW {refuse}"
        )
        op.execute(
            f"CREATE TRIGGER findings_no_truncate BEFORE TRUNCATE ON findings "
            f"FOR EACH STATEMENT {refuse}"
        )
        op.execute("GRANT SELECT, INSERT ON findings TO orderledger_app")
        op.execute("GRANT USAGE ON SEQUENCE findings_id_seq TO orderledger_app")
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER findings_no_{verb.lower()} BEFORE {verb} ON findings BEGIN "
                f"SELECT RAISE(ABORT, 'orderledger: findings_immutable: findings rows are "
                f"append-only; {verb} refused'); END"
            )


def downgrade() -> None:
    op.drop_table("findings")
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("facts")
