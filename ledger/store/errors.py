"""Driver errors become ledger errors here, and nowhere else.

Both backends report a broken constraint differently: PostgreSQL names it
(`diag.constraint_name`, also for our triggers, which raise `USING CONSTRAINT`), SQLite
names CHECK constraints and triggers in the message but lists only the columns of a
UNIQUE or PRIMARY KEY. So we resolve every failure to a constraint name first and map
names to error types in one table.
"""

from __future__ import annotations

import functools
import re
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Final, ParamSpec, TypeVar

import psycopg
from sqlalchemy import Connection, Engine, PrimaryKeyConstraint, UniqueConstraint
from sqlalchemy import exc as sa_exc

from ledger.errors import (
    ConcurrencyConflict,
    KeyStoreError,
    OrderExists,
    OrderledgerError,
    StorageError,
)
from ledger.store.tables import LEDGER_TABLES

__all__ = [
    "DRIVER_ERRORS",
    "ImmutabilityViolation",
    "SequencerConflict",
    "translate",
    "translated",
]


class ImmutabilityViolation(StorageError):
    """The database refused to change or remove evidence (a trigger or a privilege)."""


class SequencerConflict(StorageError):
    """Two sequencers wrote the same leaf, node or checkpoint, or left a gap."""


#: Prefix of every message our triggers raise; `<name>:` follows it in SQLite.
TRIGGER_MESSAGE_PREFIX: Final = "orderledger: "

# SQLSTATEs of PostgreSQL that mean "another transaction got in the way; try again".
_RETRYABLE_SQLSTATES: Final = frozenset({"40001", "40P01", "55P03"})
_INSUFFICIENT_PRIVILEGE: Final = "42501"


def _conflict(message: str) -> OrderledgerError:
    return ConcurrencyConflict(message, expected_seq=None, actual_seq=None)


_BY_CONSTRAINT: Final[dict[str, Callable[[str], OrderledgerError]]] = {
    "pk_orders": lambda m: OrderExists(f"the order exists already ({m})", field="order"),
    "uq_records_order_seq": lambda m: _conflict(
        f"another writer stored this chain position first ({m})"
    ),
    "uq_records_statement_hash": lambda m: _conflict(f"this statement is stored already ({m})"),
    "pk_idempotency_keys": lambda m: _conflict(
        f"a concurrent request stored this idempotency key first; retry to replay it ({m})"
    ),
    "pk_signing_keys": lambda m: KeyStoreError(f"a key with this key_id is published ({m})"),
    "pk_leaves": lambda m: SequencerConflict(f"leaf index taken ({m})"),
    "uq_leaves_record": lambda m: SequencerConflict(f"record is a leaf already ({m})"),
    "pk_merkle_nodes": lambda m: SequencerConflict(f"Merkle node stored already ({m})"),
    "pk_sequencing_queue": lambda m: SequencerConflict(f"record queued twice ({m})"),
    "pk_checkpoints": lambda m: SequencerConflict(f"checkpoint size stored already ({m})"),
}


def _unique_columns_to_name() -> dict[str, str]:
    """SQLite's `UNIQUE constraint failed: t.a, t.b` column list -> constraint name."""
    names: dict[str, str] = {}
    for table in LEDGER_TABLES:
        for constraint in table.constraints:
            if isinstance(constraint, PrimaryKeyConstraint | UniqueConstraint) and isinstance(
                constraint.name, str
            ):
                columns = ", ".join(f"{table.name}.{c.name}" for c in constraint.columns)
                names[columns] = constraint.name
    return names


_SQLITE_UNIQUE: Final = _unique_columns_to_name()
_SQLITE_UNIQUE_RE: Final = re.compile(r"UNIQUE constraint failed: (.+)$")
_SQLITE_CHECK_RE: Final = re.compile(r"CHECK constraint failed: (\w+)")
_TRIGGER_RE: Final = re.compile(re.escape(TRIGGER_MESSAGE_PREFIX) + r"(\w+): ")


def _constraint_name(orig: BaseException) -> str | None:
    diag = getattr(orig, "diag", None)
    name = getattr(diag, "constraint_name", None)
    if isinstance(name, str) and name:
        return name
    message = str(orig)
    match = _TRIGGER_RE.match(message)
    if match:
        return match.group(1)
    match = _SQLITE_UNIQUE_RE.match(message)
    if match:
        return _SQLITE_UNIQUE.get(match.group(1).strip())
    match = _SQLITE_CHECK_RE.match(message)
    if match:
        return match.group(1)
    return None


def _driver_message(orig: BaseException) -> str:
    """The driver's one-line message, without SQLAlchemy's SQL and parameter dump."""
    return str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__


#: What a database call can raise: SQLAlchemy's wrapped driver errors and pool timeouts,
#: and the drivers' own errors from the append path's direct cursor calls.
DRIVER_ERRORS: Final = (sa_exc.DBAPIError, sa_exc.TimeoutError, psycopg.Error, sqlite3.Error)
_INTEGRITY_ERRORS: Final = (sa_exc.IntegrityError, psycopg.IntegrityError, sqlite3.IntegrityError)


def translate(error: Exception) -> OrderledgerError:
    """The ledger error for a database error (one of `DRIVER_ERRORS`); never raises.

    Integrity failures map by constraint name (`_BY_CONSTRAINT`; our immutability triggers
    become `ImmutabilityViolation`); lost races and deadlocks become
    `ConcurrencyConflict`; a refused privilege becomes `ImmutabilityViolation`; the rest,
    `StorageError`.
    """
    if isinstance(error, sa_exc.TimeoutError):
        return StorageError(f"database unavailable: {error}")
    orig: BaseException = error
    if isinstance(error, sa_exc.DBAPIError) and error.orig is not None:
        orig = error.orig
    message = _driver_message(orig)
    sqlstate = getattr(orig, "sqlstate", None)
    name = _constraint_name(orig)
    if name is not None:
        factory = _BY_CONSTRAINT.get(name)
        if factory is not None:
            return factory(message)
        if message.startswith(TRIGGER_MESSAGE_PREFIX):
            return ImmutabilityViolation(message)
    if sqlstate in _RETRYABLE_SQLSTATES:
        return _conflict(f"transaction lost a race; retry ({message})")
    if sqlstate == _INSUFFICIENT_PRIVILEGE:
        return ImmutabilityViolation(f"the database role may not do this ({message})")
    if isinstance(error, _INTEGRITY_ERRORS) or isinstance(orig, _INTEGRITY_ERRORS):
        return StorageError(f"database integrity check failed: {message}")
    return StorageError(f"database error: {message}")


P = ParamSpec("P")
R = TypeVar("R")


def translated(method: Callable[P, R]) -> Callable[P, R]:
    """Decorate a data-access method so driver errors leave it as ledger errors."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except DRIVER_ERRORS as error:
            raise translate(error) from error

    return wrapper


@contextmanager
def engine_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction on `engine` (committed when the block ends, rolled back when it
    raises) whose driver errors leave it as ledger errors: for the stores beside the
    ledger (API keys, carrier feeds, console sessions), each call its own transaction."""
    try:
        with engine.begin() as connection:
            yield connection
    except DRIVER_ERRORS as exc:
        raise translate(exc) from exc
