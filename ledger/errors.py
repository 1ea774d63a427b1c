"""Error types of the ledger (STYLE.md §4): few roots, fine-grained leaves.

Every error the ledger raises on purpose derives from `LedgerError` or from the state
model's `InvalidInput`; the API maps these types to problem+json in one place.
"""

from __future__ import annotations

from statemodel.errors import (
    IllegalTransition,
    InvalidInput,
    OrderledgerError,
    PayloadInvalid,
    UnknownEvent,
    UnknownState,
)

__all__ = [
    "ConcurrencyConflict",
    "ConfigurationError",
    "IdempotencyConflict",
    "IllegalTransition",
    "InvalidInput",
    "KeyStoreError",
    "LedgerError",
    "OrderExists",
    "OrderledgerError",
    "PayloadInvalid",
    "StorageError",
    "UnknownEvent",
    "UnknownKey",
    "UnknownOrder",
    "UnknownState",
]


class LedgerError(OrderledgerError):
    """Root of the ledger's own errors."""


class ConfigurationError(LedgerError):
    """Settings that cannot work (bad database URL, unreadable data dir, ...)."""


class StorageError(LedgerError):
    """The database failed in a way that is not the caller's fault."""


class KeyStoreError(LedgerError):
    """A signing key cannot be created, read or decrypted."""


class UnknownOrder(InvalidInput):
    """No order with this tenant and id."""


class OrderExists(InvalidInput):
    """An order with this tenant and id exists already."""


class UnknownKey(InvalidInput):
    """A key id that the ledger never published, or one that may not sign now."""


class ConcurrencyConflict(InvalidInput):
    """The chain head moved: a stale `expected_seq`, or a lost race for the head."""

    def __init__(self, message: str, *, expected_seq: int | None, actual_seq: int | None) -> None:
        super().__init__(message, field="expected_seq")
        self.expected_seq = expected_seq
        self.actual_seq = actual_seq


class IdempotencyConflict(InvalidInput):
    """The idempotency key was used before with a different request body."""

    def __init__(self, message: str) -> None:
        super().__init__(message, field="Idempotency-Key")
