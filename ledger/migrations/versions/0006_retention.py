"""Legal holds and retention runs.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25

- `legal_holds`: the fast lookup of holds in force (per order, or per tenant when
  `order_id` is NULL); each placement and release is also a chained record
  (`legal_hold`, `legal_hold_release`) in the orders concerned.
- `retention_runs` and `retention_run_items`: a run's plan and progress, so a run that
  crashed half-way resumes to the same end state (archive written, payloads erased,
  `retention_purge` records appended), and its signed report can be read later.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "legal_holds",
        sa.Column("id", _ID, nullable=False, autoincrement=True),
        sa.Column("tenant", sa.Text(), nullable=False),
        sa.Column("order_id", sa.Text(), nullable=True),  # NULL: the whole tenant
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("placed_by", sa.Text(), nullable=False),
        sa.Column("placed_at", sa.Text(), nullable=False),
        sa.Column("released_by", sa.Text(), nullable=True),
        sa.Column("released_at", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_legal_holds"),
    )
    op.create_index("ix_legal_holds_scope", "legal_holds", ["tenant", "order_id", "released_at"])
    op.create_table(
        "retention_runs",
        sa.Column("id", _ID, nullable=False, autoincrement=True),
        sa.Column("reference_time", sa.Text(), nullable=False),
        sa.Column("started_at", sa.Text(), nullable=False),
        sa.Column("finished_at", sa.Text(), nullable=True),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("archive_path", sa.Text(), nullable=True),
        sa.Column("report", sa.Text(), nullable=True),  # JSON
        sa.Column("report_signature", sa.Text(), nullable=True),
        sa.Column("key_id", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_retention_runs"),
    )
    op.create_table(
        "retention_run_items",
        sa.Column("run_id", _ID, nullable=False),
        sa.Column("record_id", _ID, nullable=False),
        sa.Column("tenant", sa.Text(), nullable=False),
        sa.Column("order_id", sa.Text(), nullable=False),
        sa.Column("record_class", sa.Text(), nullable=False),
        sa.Column("erased", sa.Boolean(), nullable=False),
        sa.Column("purge_seq", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("run_id", "record_id", name="pk_retention_run_items"),
        sa.ForeignKeyConstraint(["run_id"], ["retention_runs.id"], name="fk_run_items_run"),
        sa.ForeignKeyConstraint(["record_id"], ["records.id"], name="fk_run_items_record"),
    )
    op.create_index(
        "ix_retention_run_items_order", "retention_run_items", ["run_id", "tenant", "order_id"]
    )
    if op.get_bind().dialect.name == "postgresql":
        for table in ("legal_holds", "retention_runs", "retention_run_items"):
            op.execute(f"GRANT SELECT, INSERT, UPDATE ON {table} TO orderledger_app")
        for table in ("legal_holds", "retention_runs"):
            op.execute(f"GRANT USAGE ON SEQUENCE {table}_id_seq TO orderledger_app")


def downgrade() -> None:
    op.drop_table("retention_run_items")
    op.drop_table("retention_runs")
    op.drop_table("legal_holds")
