"""Alembic migrations of the ledger's schema, run from code (no alembic.ini).

`upgrade(connection)` brings a database to the newest revision; `Recorder.migrate()` is
how the application calls it. Migrations are plain DDL frozen at the time they were
written: they never import the current table classes.
"""

from __future__ import annotations

import threading
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection

MIGRATIONS_DIR = Path(__file__).resolve().parent

# Alembic keeps the running migration in module globals (`alembic.context`), so one
# process migrates one database at a time; across processes the database serialises
# (env.py's advisory lock, SQLite's BEGIN IMMEDIATE).
_ONE_AT_A_TIME = threading.Lock()


def alembic_config(connection: Connection | None = None) -> Config:
    """An alembic Config for this package; `connection` is what env.py migrates."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(connection: Connection, revision: str = "head") -> None:
    """Migrate the database behind `connection` to `revision`, in one transaction
    (idempotent: at `revision` already, nothing happens). Driver errors propagate."""
    with _ONE_AT_A_TIME:
        command.upgrade(alembic_config(connection), revision)
