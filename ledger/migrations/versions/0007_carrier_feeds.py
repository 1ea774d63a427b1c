"""Carrier feeds: waybill routing, feed secrets, and every delivered carrier event.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25

- `carrier_subscriptions`: which order of a tenant a waybill belongs to, so that a
  carrier webhook (which knows only the waybill) reaches the right chain.
- `carrier_feed_secrets`: per tenant and feed, the Kuaidi100 salt or the HMAC key the
  webhook body is verified with (kept in clear: verifying an HMAC needs the key).
- `carrier_feed_events`: one row per (tenant, dedupe key): the carrier event's raw code
  and text, the SHA-256 of the body that carried it, and its outcome, i.e. the record
  it became or the finding (refused, unmappable, unrouted, resubscribe) it was judged.
  A redelivery finds the row and is answered as a duplicate.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "carrier_subscriptions",
        sa.Column("tenant", sa.Text(), nullable=False),
        sa.Column("waybill_no", sa.Text(), nullable=False),
        sa.Column("order_id", sa.Text(), nullable=False),
        sa.Column("carrier_code", sa.Text(), nullable=True),
        sa.Column("registered_by", sa.Text(), nullable=False),
        sa.Column("registered_at", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "waybill_no", name="pk_carrier_subscriptions"),
    )
    op.create_index(
        "ix_carrier_subscriptions_order", "carrier_subscriptions", ["tenant", "order_id"]
    )
    op.create_table(
        "carrier_feed_secrets",
        sa.Column("tenant", sa.Text(), nullable=False),
        sa.Column("feed", sa.Text(), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("updated_by", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "feed", name="pk_carrier_feed_secrets"),
        sa.CheckConstraint(
            "feed IN ('kuaidi100', 'aftership', 'generic')", name="ck_carrier_feed_secrets_feed"
        ),
    )
    op.create_table(
        "carrier_feed_events",
        sa.Column("id", _ID, nullable=False, autoincrement=True),
        sa.Column("tenant", sa.Text(), nullable=False),
        sa.Column("dedupe_key", sa.Text(), nullable=False),
        sa.Column("feed", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("waybill_no", sa.Text(), nullable=False),
        sa.Column("raw_code", sa.Text(), nullable=False),
        sa.Column("raw_text", sa.Text(), nullable=False),
        sa.Column("occurred_at", sa.Text(), nullable=False),
        sa.Column("order_id", sa.Text(), nullable=True),
        sa.Column("event", sa.Text(), nullable=True),
        sa.Column("mapping_version", sa.Text(), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("record_id", _ID, nullable=True),
        sa.Column("problem_type", sa.Text(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("body_sha256", sa.Text(), nullable=False),
        sa.Column("received_at", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_carrier_feed_events"),
        sa.UniqueConstraint("tenant", "dedupe_key", name="uq_carrier_feed_events_key"),
        sa.ForeignKeyConstraint(
            ["record_id"], ["records.id"], name="fk_carrier_feed_events_record"
        ),
        sa.CheckConstraint(
            "outcome IN ('recorded', 'refused', 'unmappable', 'unrouted', 'resubscribe')",
            name="ck_carrier_feed_events_outcome",
        ),
    )
    op.create_index(
        "ix_carrier_feed_events_outcome", "carrier_feed_events", ["tenant", "outcome", "id"]
    )
    if op.get_bind().dialect.name == "postgresql":
        for table in ("carrier_subscriptions", "carrier_feed_secrets", "carrier_feed_events"):
            op.execute(f"GRANT SELECT, INSERT, UPDATE ON {table} TO orderledger_app")
        op.execute("GRANT USAGE ON SEQUENCE carrier_feed_events_id_seq TO orderledger_app")


def downgrade() -> None:
    op.drop_table("carrier_feed_events")
    op.drop_table("carrier_feed_secrets")
    op.drop_table("carrier_subscriptions")
