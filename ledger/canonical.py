"""Canonical bytes of what the ledger hashes: salts, payload digests, statement hashes.

The hash functions themselves live in `ledger.verify` (the vendorable verifier), so the
writer and every verifier compute them with the same code.
"""

from __future__ import annotations

import secrets
from typing import Final

from ledger.statement import Statement
from ledger.verify import payload_digest
from ledger.verify import statement_hash as _statement_json_hash

__all__ = ["SALT_SIZE", "new_salt", "payload_digest", "statement_hash"]

SALT_SIZE: Final = 16


def new_salt() -> bytes:
    """16 bytes from the OS CSPRNG: a purged low-entropy payload cannot be guessed back
    from its digest (spec §1)."""
    return secrets.token_bytes(SALT_SIZE)


def statement_hash(stmt: Statement) -> bytes:
    """H(JCS(statement)), 32 bytes, over the statement's spec §1 JSON object."""
    return _statement_json_hash(stmt.to_json())
