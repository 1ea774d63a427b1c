"""Storage of API keys (table `api_keys`, migration 0002), on the recorder's engine.

API keys are not evidence: they live beside the ledger's tables and are read and written
here with SQLAlchemy Core, each call in its own short transaction. Only the SHA-256 of a
token is stored. Keys are never deleted; revoking sets `revoked_at` once.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Connection,
    Engine,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    func,
    insert,
    select,
    update,
)

from ledger.errors import InvalidInput
from ledger.store.errors import engine_transaction
from ledger.store.queries import engine_of

_ID = BigInteger().with_variant(Integer(), "sqlite")

#: The table as migration 0002 creates it (its own metadata: not part of LEDGER_TABLES,
#: whose schema test compares evidence tables only).
API_KEYS = Table(
    "api_keys",
    MetaData(),
    Column("id", _ID, nullable=False, autoincrement=True),
    Column("name", Text, nullable=False),
    Column("key_hash", Text, nullable=False),
    Column("role", Text, nullable=False),
    Column("tenant", Text, nullable=True),
    Column("created_at", Text, nullable=False),
    Column("revoked_at", Text, nullable=True),
    PrimaryKeyConstraint("id", name="pk_api_keys"),
    UniqueConstraint("name", name="uq_api_keys_name"),
    UniqueConstraint("key_hash", name="uq_api_keys_key_hash"),
    CheckConstraint(
        "role IN ('platform', 'carrier', 'auditor', 'legal', 'admin')", name="ck_api_keys_role"
    ),
    CheckConstraint(
        "tenant IS NOT NULL OR role IN ('auditor', 'legal', 'admin')",
        name="ck_api_keys_tenant_scope",
    ),
)
_K = API_KEYS.c


@dataclass(frozen=True, slots=True)
class ApiKeyRow:
    """A stored API key. `tenant` None: every tenant. `revoked_at` None: in force."""

    id: int
    name: str
    key_hash: str
    role: str
    tenant: str | None
    created_at: str
    revoked_at: str | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


class DuplicateKeyName(InvalidInput):
    """An API key with this name exists already (names identify actors in records)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"an API key named {name!r} exists already", field="name")


class UnknownApiKey(InvalidInput):
    """No API key has this name."""

    def __init__(self, name: str) -> None:
        super().__init__(f"no API key named {name!r}", field="name")


class ApiKeyStore:
    """Reads and writes `api_keys` through an engine. Thread-safe (no state of its own).

    Every method raises StorageError (or a subclass) when the database fails.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def _transaction(self) -> AbstractContextManager[Connection]:
        return engine_transaction(self._engine)

    def insert(
        self, *, name: str, key_hash: str, role: str, tenant: str | None, created_at: str
    ) -> ApiKeyRow:
        """Store a new key; returns it with its id. Raises DuplicateKeyName when the name
        is taken (checked first; a racing insert fails on the unique constraint as a
        StorageError)."""
        with self._transaction() as conn:
            taken = conn.execute(select(_K.id).where(_K.name == name)).first()
            if taken is not None:
                raise DuplicateKeyName(name)
            new_id = conn.execute(
                insert(API_KEYS).returning(_K.id),
                {"name": name, "key_hash": key_hash, "role": role, "tenant": tenant,
                 "created_at": created_at},
            ).scalar_one()
        return ApiKeyRow(int(new_id), name, key_hash, role, tenant, created_at)

    def find_by_hash(self, key_hash: str) -> ApiKeyRow | None:
        """The key whose token hashes to `key_hash` (revoked or not), or None."""
        with self._transaction() as conn:
            row = conn.execute(select(API_KEYS).where(_K.key_hash == key_hash)).mappings().first()
        return None if row is None else _row_of(row)

    def find_by_name(self, name: str) -> ApiKeyRow | None:
        with self._transaction() as conn:
            row = conn.execute(select(API_KEYS).where(_K.name == name)).mappings().first()
        return None if row is None else _row_of(row)

    def list(self) -> list[ApiKeyRow]:
        """Every key, revoked ones included, by id."""
        with self._transaction() as conn:
            rows = conn.execute(select(API_KEYS).order_by(_K.id)).mappings().all()
        return [_row_of(row) for row in rows]

    def count(self) -> int:
        with self._transaction() as conn:
            return int(conn.execute(select(func.count()).select_from(API_KEYS)).scalar_one())

    def revoke(self, name: str, revoked_at: str) -> ApiKeyRow:
        """Revoke the key called `name` as of `revoked_at`; returns it as revoked.

        Revoking a revoked key changes nothing and returns it with its first revocation
        time. Raises UnknownApiKey when there is no such key.
        """
        with self._transaction() as conn:
            conn.execute(
                update(API_KEYS)
                .where((_K.name == name) & _K.revoked_at.is_(None))
                .values(revoked_at=revoked_at)
            )
            row = conn.execute(select(API_KEYS).where(_K.name == name)).mappings().first()
        if row is None:
            raise UnknownApiKey(name)
        return _row_of(row)


def api_key_store(recorder: object) -> ApiKeyStore:
    """The key store on a recorder's engine. Raises StorageError for a recorder without a
    SQLAlchemy engine."""
    return ApiKeyStore(engine_of(recorder))


def _row_of(m: Mapping[Any, Any]) -> ApiKeyRow:
    return ApiKeyRow(
        id=int(m["id"]),
        name=m["name"],
        key_hash=m["key_hash"],
        role=m["role"],
        tenant=m["tenant"],
        created_at=m["created_at"],
        revoked_at=m["revoked_at"],
    )
