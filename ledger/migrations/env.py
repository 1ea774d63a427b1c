"""Alembic environment: migrate the connection that `ledger.migrations.upgrade` hands in."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, text

#: Serialises concurrent migrations of one PostgreSQL database (two services starting).
MIGRATION_LOCK_KEY = 0x6F6C_6D69_67  # "ol mig"


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise RuntimeError("run migrations through ledger.migrations.upgrade(connection)")
    # Our SQLite connections emit BEGIN themselves, so SQLite DDL is transactional too.
    context.configure(connection=connection, target_metadata=None, transactional_ddl=True)
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                               {"key": MIGRATION_LOCK_KEY})
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) migrations are not supported")
run_migrations_online()
