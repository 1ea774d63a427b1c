"""Webhook subscriptions and alert delivery state.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25

Alerts are decided into `alert_outbox` (0004). Delivery fans each alert out to the
tenant's matching subscriptions as `alert_deliveries` rows whose state survives
restarts: pending (with the next attempt time), delivered, or dead (parked after the
last retry, visible to operators).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "webhook_subscriptions",
        sa.Column("id", _ID, nullable=False, autoincrement=True),
        sa.Column("tenant", sa.Text(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("event_filter", sa.Text(), nullable=False),  # JSON list of alert kinds
        sa.Column("created_at", sa.Text(), nullable=False),
        sa.Column("disabled_at", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_subscriptions"),
    )
    op.create_index("ix_webhook_subscriptions_tenant", "webhook_subscriptions", ["tenant"])
    op.create_table(
        "alert_deliveries",
        sa.Column("id", _ID, nullable=False, autoincrement=True),
        sa.Column("alert_id", _ID, nullable=False),
        sa.Column("subscription_id", _ID, nullable=False),
        sa.Column("state", sa.Text(), nullable=False),  # pending | delivered | dead
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.Text(), nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_alert_deliveries"),
        sa.UniqueConstraint("alert_id", "subscription_id", name="uq_alert_deliveries"),
        sa.ForeignKeyConstraint(["alert_id"], ["alert_outbox.id"], name="fk_deliveries_alert"),
        sa.ForeignKeyConstraint(
            ["subscription_id"], ["webhook_subscriptions.id"], name="fk_deliveries_subscription"
        ),
        sa.CheckConstraint(
            "state IN ('pending', 'delivered', 'dead')", name="ck_alert_deliveries_state"
        ),
    )
    op.create_index("ix_alert_deliveries_due", "alert_deliveries", ["state", "next_attempt_at"])
    op.create_table(
        "alert_cursor",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("last_alert_id", _ID, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_alert_cursor"),
    )
    if op.get_bind().dialect.name == "postgresql":
        for table in ("webhook_subscriptions", "alert_deliveries", "alert_cursor"):
            op.execute(f"GRANT SELECT, INSERT, UPDATE ON {table} TO orderledger_app")
        for table in ("webhook_subscriptions", "alert_deliveries"):
            op.execute(f"GRANT USAGE ON SEQUENCE {table}_id_seq TO orderledger_app")


def downgrade() -> None:
    op.drop_table("alert_cursor")
    op.drop_table("alert_deliveries")
    op.drop_table("webhook_subscriptions")
