"""Canonical bytes of what the ledger hashes: salts, payload digests, statement hashes.

The domain-separation constants and the verifier's own hash functions live in
`ledger.verify` (the vendorable verifier). The writer hashes the same RFC 8785 bytes
through `statemodel.canonical.canonical_json`, whose fast path a property test holds
byte-equal to the `rfc8785` reference the verifier uses (tests/statemodel/
test_canonical_fast_path.py), and tests/evidence check the writer's hashes with the
verifier's functions.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any, Final

from ledger.statement import Statement
from statemodel.canonical import canonical_json

__all__ = ["SALT_SIZE", "digest_of_canonical", "new_salt", "payload_digest", "statement_hash"]

SALT_SIZE: Final = 16


def new_salt() -> bytes:
    """16 bytes from the OS CSPRNG: a purged low-entropy payload cannot be guessed back
    from its digest (spec §1)."""
    return secrets.token_bytes(SALT_SIZE)


def payload_digest(salt: bytes, payload: Any) -> str:
    """hex H(salt || JCS(payload)) (spec §1). Raises ValueError for a non-JSON payload."""
    return digest_of_canonical(salt, canonical_json(payload))


def digest_of_canonical(salt: bytes, canonical: bytes) -> str:
    """`payload_digest` for a payload whose canonical bytes the caller has already."""
    return hashlib.sha256(salt + canonical).hexdigest()


def statement_hash(stmt: Statement) -> bytes:
    """H(JCS(statement)), 32 bytes, over the statement's spec §1 JSON object."""
    return hashlib.sha256(canonical_json(stmt.to_json())).digest()
