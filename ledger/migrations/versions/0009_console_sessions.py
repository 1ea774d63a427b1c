"""Console sessions in the database.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25

`console_sessions`: one row per signed-in console user, by the SHA-256 of the session id
the cookie carries, with the API key it was opened with, its CSRF token and times. Kept in
the database, not in one process's memory, so that all worker processes of
`orderledger serve --workers N` share them and a restart signs nobody out. Not evidence:
the service inserts, touches and deletes rows.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "console_sessions",
        sa.Column("id_digest", sa.Text(), nullable=False),
        sa.Column("key_id", _ID, nullable=False),
        sa.Column("key_name", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("tenant", sa.Text(), nullable=True),
        sa.Column("csrf", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Text(), nullable=False),
        sa.Column("last_seen", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id_digest", name="pk_console_sessions"),
    )
    op.create_index("ix_console_sessions_last_seen", "console_sessions", ["last_seen"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("GRANT SELECT, INSERT, DELETE ON console_sessions TO orderledger_app")
        op.execute("GRANT UPDATE (last_seen) ON console_sessions TO orderledger_app")


def downgrade() -> None:
    op.drop_table("console_sessions")
