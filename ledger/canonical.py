"""Canonical bytes of what the ledger hashes: salts, payload digests, statement hashes.

The domain-separation constants and the verifier's own hash functions live in
`ledger.verify` (the vendorable verifier). The writer hashes the same RFC 8785 bytes:
payloads through `statemodel.canonical.canonical_json`, statements through
`statement_canonical` here; property tests hold both byte-equal to the `rfc8785`
reference the verifier uses (tests/statemodel/test_canonical_fast_path.py,
tests/ledger/test_statement_canonical.py), and tests/evidence check the writer's hashes
with the verifier's functions.
"""

from __future__ import annotations

import hashlib
import os
import threading
from _json import encode_basestring
from typing import Any, Final

from ledger.statement import Statement
from statemodel.canonical import MAX_SAFE_INTEGER, canonical_json

__all__ = ["SALT_SIZE", "digest_of_canonical", "new_salt", "payload_digest",
           "statement_canonical", "statement_hash"]

SALT_SIZE: Final = 16
#: Salts drawn from the OS at once: one getrandom call serves this many records.
_SALTS_PER_DRAW: Final = 256


class _SaltPool(threading.local):
    """Each thread's salts to come: one `os.urandom` draw cut into SALT_SIZE pieces,
    every piece handed out once. A draw per record cost the append path a system call
    (~2 % of a batched record's CPU, bench/RESULTS.md)."""

    def __init__(self) -> None:
        self.salts: list[bytes] = []


_pool: Final = _SaltPool()
# A forked child must not hand out the salts its parent will: it starts with none (only
# the forking thread lives on in the child, and this runs in it).
os.register_at_fork(after_in_child=lambda: _pool.salts.clear())


def new_salt() -> bytes:
    """16 bytes from the OS CSPRNG, never handed out twice: a purged low-entropy
    payload cannot be guessed back from its digest (spec §1)."""
    salts = _pool.salts
    if not salts:
        drawn = os.urandom(SALT_SIZE * _SALTS_PER_DRAW)
        salts.extend(drawn[i : i + SALT_SIZE] for i in range(0, len(drawn), SALT_SIZE))
    return salts.pop()


def payload_digest(salt: bytes, payload: Any) -> str:
    """hex H(salt || JCS(payload)) (spec §1). Raises ValueError for a non-JSON payload."""
    return digest_of_canonical(salt, canonical_json(payload))


def digest_of_canonical(salt: bytes, canonical: bytes) -> str:
    """`payload_digest` for a payload whose canonical bytes the caller has already."""
    return hashlib.sha256(salt + canonical).hexdigest()


def statement_hash(stmt: Statement) -> bytes:
    """H(JCS(statement)), 32 bytes, over the statement's spec §1 JSON object."""
    return hashlib.sha256(statement_canonical(stmt)).digest()


def statement_canonical(stmt: Statement) -> bytes:
    """JCS(statement): the RFC 8785 bytes of `stmt.to_json()`.

    The statement's keys are fixed and ASCII, so their order is too: the bytes are
    written field by field, each string escaped by the C encoder that `canonical_json`'s
    fast path uses, with no object built, checked or sorted (this runs for every record
    written; tests/ledger/test_statement_canonical.py holds it byte-equal to the `rfc8785`
    reference). A field the fast path cannot write exactly (a string that is not valid
    Unicode, a seq outside the safe integers, a wrong type) goes to `canonical_json`,
    which raises as it does.
    """
    seq, version = stmt.seq, stmt.v
    if (type(seq) is int and type(version) is int and 0 <= seq <= MAX_SAFE_INTEGER
            and 0 <= version <= MAX_SAFE_INTEGER):
        enc, actor, before = encode_basestring, stmt.actor, stmt.from_state
        try:
            text = (
                f'{{"actor":{{"id":{enc(actor.id)},"type":{enc(actor.type.value)}}},'
                f'"event":{enc(stmt.event)},"event_time":{enc(stmt.event_time)},'
                f'"from":{"null" if before is None else enc(before)},'
                f'"key_id":{enc(stmt.key_id)},"kind":{enc(stmt.kind.value)},'
                f'"log":{enc(stmt.log)},"model":{enc(stmt.model)},"order":{enc(stmt.order)},'
                f'"payload_digest":{enc(stmt.payload_digest)},"prev":{enc(stmt.prev)},'
                f'"recorded_at":{enc(stmt.recorded_at)},"rules":{enc(stmt.rules)},'
                f'"seq":{seq},"tenant":{enc(stmt.tenant)},"to":{enc(stmt.to_state)},'
                f'"v":{version}}}'
            )
            return text.encode()
        except (TypeError, AttributeError, UnicodeEncodeError):
            pass  # the general path raises the precise error, or encodes what it can
    return canonical_json(stmt.to_json())
