"""The embedded SQLite backend: one file, zero setup, durable on every commit.

Durability is an invariant (an acknowledged record survives a crash), so the journal is
WAL with `synchronous=FULL`. Writers serialise with `BEGIN IMMEDIATE`: pysqlite would
start its own deferred transaction lazily, which lets two writers both read a head and
then fail to upgrade their locks; SQLAlchemy's recipe turns that off and emits our BEGIN.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any, Final

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL
from sqlalchemy.pool import ConnectionPoolEntry

from ledger.errors import ConfigurationError
from ledger.store.core import SqlRecorder, SqlUnitOfWork
from ledger.store.statements import SQLITE_HOT_PATH, ignoring_conflict_statements

#: How long a writer waits for another writer's transaction before giving up.
BUSY_TIMEOUT_MS: Final = 30_000
_READ_ONLY: Final = "orderledger_read_only"


class SqliteUnitOfWork(SqlUnitOfWork):
    hot = SQLITE_HOT_PATH
    insert_ignoring_conflict = ignoring_conflict_statements("sqlite")
    # No hooks: the sequencer needs no lock of its own (BEGIN IMMEDIATE admits one writer
    # at a time), and SQLite has no session settings for the erasure trigger to check.


class SqliteRecorder(SqlRecorder):
    dialect = "sqlite"
    unit_of_work_class = SqliteUnitOfWork

    @classmethod
    def from_url(cls, url: URL) -> SqliteRecorder:
        """Raises ConfigurationError for an in-memory database (WAL needs a file, and
        each pooled connection would see its own empty database) or a missing folder."""
        if url.drivername.partition("+")[2] not in ("", "pysqlite"):
            raise ConfigurationError(f"SQLite is reached through pysqlite, not {url.drivername}")
        database = url.database or ""
        if database in ("", ":memory:") or database.startswith("file::memory:"):
            raise ConfigurationError("SQLite needs a database file: sqlite:///path/to/file.db")
        folder = Path(database).expanduser().resolve().parent
        if not folder.is_dir():
            raise ConfigurationError(f"folder of the SQLite database does not exist: {folder}")
        return cls(_engine(url))

    def _begin(self, connection: Connection, read_only: bool) -> None:
        if read_only:
            connection.execution_options(**{_READ_ONLY: True})
        connection.begin()


def _engine(url: URL) -> Engine:
    engine = create_engine(
        url.set(drivername="sqlite+pysqlite"),
        pool_size=16,
        max_overflow=8,
        connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000},
    )
    event.listen(engine, "connect", _on_connect)
    event.listen(engine, "begin", _on_begin)
    return engine


def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # No implicit transactions from pysqlite: `_on_begin` emits BEGIN itself.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS:d}")
        _use_wal(cursor)
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


def _use_wal(cursor: sqlite3.Cursor) -> None:
    """Switch the file to WAL (a persistent setting, so usually already done).

    The switch needs the file to itself, and SQLite answers "database is locked" at once
    instead of waiting when another connection is busy, as when two services first start
    on a new file: so retry, for at most the busy timeout.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            mode = cursor.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() != "wal":
                mode = cursor.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise sqlite3.OperationalError(f"cannot use WAL: journal mode stays {mode}")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _on_begin(connection: Connection) -> None:
    read_only = bool(connection.get_execution_options().get(_READ_ONLY, False))
    # query_only makes a read-only unit of work refuse writes, as PostgreSQL's READ ONLY
    # does; the pooled connection remembers its setting, so it is only sent on a change.
    if connection.info.get(_READ_ONLY, False) != read_only:
        connection.exec_driver_sql(f"PRAGMA query_only = {int(read_only)}")
        connection.info[_READ_ONLY] = read_only
    # A reader needs no write lock: WAL lets it read beside the writer.
    connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")
