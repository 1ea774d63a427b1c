"""API keys: who may call the HTTP API, in which role, for which tenant.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25

Only the SHA-256 of a key's token is stored (the token itself is shown once, when the
key is created), so a copy of the database lets no one call the API. A key is never
deleted: revoking sets `revoked_at` once, which keeps the key name that records name as
their actor resolvable. `tenant` NULL means "every tenant"; the CHECK keeps that to the
roles that may read across tenants (platform and carrier keys always name one tenant).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
ROLES = ("platform", "carrier", "auditor", "legal", "admin")


def upgrade() -> None:
    roles = ", ".join(f"'{role}'" for role in ROLES)
    op.create_table(
        "api_keys",
        sa.Column("id", _ID, nullable=False, autoincrement=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("key_hash", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("tenant", sa.Text(), nullable=True),
        sa.Column("created_at", sa.Text(), nullable=False),
        sa.Column("revoked_at", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
        sa.UniqueConstraint("name", name="uq_api_keys_name"),
        sa.UniqueConstraint("key_hash", name="uq_api_keys_key_hash"),
        sa.CheckConstraint(f"role IN ({roles})", name="ck_api_keys_role"),
        sa.CheckConstraint(
            "tenant IS NOT NULL OR role IN ('auditor', 'legal', 'admin')",
            name="ck_api_keys_tenant_scope",
        ),
    )
    if op.get_bind().dialect.name == "postgresql":
        # The service may create keys and revoke them, never rewrite or delete one.
        op.execute("GRANT SELECT, INSERT ON api_keys TO orderledger_app")
        op.execute("GRANT UPDATE (revoked_at) ON api_keys TO orderledger_app")
        op.execute("GRANT USAGE ON SEQUENCE api_keys_id_seq TO orderledger_app")


def downgrade() -> None:
    op.drop_table("api_keys")
