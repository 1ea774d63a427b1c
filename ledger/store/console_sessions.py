"""Storage of console sessions (table `console_sessions`, migration 0009).

A console session is not evidence: rows are inserted at sign-in, touched on use and
deleted at sign-out or expiry, with SQLAlchemy Core on the recorder's engine, each call in
its own short transaction. They live in the database, not in a process's memory, so that
every worker process of `orderledger serve --workers N` (and a restarted one) knows every
session. Only the SHA-256 of a session id is stored; the policy (timeouts, how many) is
the console's (api/web/session.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)

from ledger.store.errors import engine_transaction
from ledger.store.queries import engine_of

_ID: Final = BigInteger().with_variant(Integer(), "sqlite")

#: The table as migration 0009 creates it (its own metadata, like `api_keys`).
CONSOLE_SESSIONS: Final = Table(
    "console_sessions",
    MetaData(),
    Column("id_digest", Text, nullable=False),
    Column("key_id", _ID, nullable=False),
    Column("key_name", Text, nullable=False),
    Column("role", Text, nullable=False),
    Column("tenant", Text, nullable=True),
    Column("csrf", Text, nullable=False),
    Column("created_at", Text, nullable=False),
    Column("last_seen", Text, nullable=False),
    PrimaryKeyConstraint("id_digest", name="pk_console_sessions"),
    Index("ix_console_sessions_last_seen", "last_seen"),
)
_S = CONSOLE_SESSIONS.c


@dataclass(frozen=True, slots=True)
class SessionRow:
    """A stored session: the digest of its id, the API key it was opened with (id, name,
    role, tenant as at sign-in), its CSRF token and times (RFC 3339, ledger.timefmt)."""

    id_digest: str
    key_id: int
    key_name: str
    role: str
    tenant: str | None
    csrf: str
    created_at: str
    last_seen: str


class ConsoleSessionStore:
    """Reads and writes `console_sessions` through an engine. Thread-safe (no state of
    its own). Every method raises StorageError (or a subclass) when the database fails."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def _transaction(self) -> AbstractContextManager[Connection]:
        return engine_transaction(self._engine)

    def insert(self, row: SessionRow, *, expired_before: tuple[str, str],
               keep_at_most: int) -> None:
        """Store `row` after deleting the expired sessions (`expired_before`: last seen
        at or before the first, or created at or before the second) and, while there are
        still `keep_at_most` or more, the least recently used ones."""
        with self._transaction() as conn:
            conn.execute(delete(CONSOLE_SESSIONS).where(_expired(*expired_before)))
            count = _count(conn)
            if count >= keep_at_most:
                oldest = (select(_S.id_digest).order_by(_S.last_seen, _S.id_digest)
                          .limit(count - keep_at_most + 1))
                conn.execute(delete(CONSOLE_SESSIONS).where(_S.id_digest.in_(oldest)))
            conn.execute(insert(CONSOLE_SESSIONS), _params(row))

    def get(self, id_digest: str) -> SessionRow | None:
        with self._transaction() as conn:
            found = conn.execute(
                select(CONSOLE_SESSIONS).where(_S.id_digest == id_digest)).mappings().first()
        return None if found is None else _row_of(found)

    def touch(self, id_digest: str, last_seen: str) -> bool:
        """Move the session's last use to `last_seen`; False when it is gone."""
        with self._transaction() as conn:
            result = conn.execute(update(CONSOLE_SESSIONS)
                                  .where(_S.id_digest == id_digest)
                                  .values(last_seen=last_seen))
        return int(result.rowcount) == 1

    def delete(self, id_digest: str) -> None:
        with self._transaction() as conn:
            conn.execute(delete(CONSOLE_SESSIONS).where(_S.id_digest == id_digest))

    def count(self) -> int:
        with self._transaction() as conn:
            return _count(conn)

    def all(self) -> list[SessionRow]:
        """Every stored session, least recently used first."""
        with self._transaction() as conn:
            rows = conn.execute(select(CONSOLE_SESSIONS)
                                .order_by(_S.last_seen, _S.id_digest)).mappings().all()
        return [_row_of(r) for r in rows]


def console_session_store(recorder: object) -> ConsoleSessionStore:
    """The session store on a recorder's engine. Raises StorageError for a recorder
    without a SQLAlchemy engine."""
    return ConsoleSessionStore(engine_of(recorder))


def _count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(CONSOLE_SESSIONS)).scalar_one())


def _expired(seen_before: str, created_before: str) -> Any:
    return or_(_S.last_seen <= seen_before, _S.created_at <= created_before)


def _params(row: SessionRow) -> dict[str, Any]:
    return {"id_digest": row.id_digest, "key_id": row.key_id, "key_name": row.key_name,
            "role": row.role, "tenant": row.tenant, "csrf": row.csrf,
            "created_at": row.created_at, "last_seen": row.last_seen}


def _row_of(m: Mapping[Any, Any]) -> SessionRow:
    return SessionRow(id_digest=m["id_digest"], key_id=int(m["key_id"]),
                      key_name=m["key_name"], role=m["role"], tenant=m["tenant"],
                      csrf=m["csrf"], created_at=m["created_at"], last_seen=m["last_seen"])
