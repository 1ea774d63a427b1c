"""RFC 8785 canonical JSON and SHA-256 digests: the one home of canonical bytes.

Everything that is hashed or signed (catalogues, statements, payloads) is hashed over
these bytes, never over how it happens to be stored or served.
"""

from __future__ import annotations

import hashlib
from typing import Any

import rfc8785


def canonical_json(value: Any) -> bytes:
    """RFC 8785 (JCS) canonical UTF-8 bytes of a JSON value.

    Raises ValueError for values JSON cannot carry exactly (NaN, infinities, integers
    beyond IEEE 754 double precision, non-string keys).
    """
    try:
        return rfc8785.dumps(value)
    except rfc8785.CanonicalizationError as exc:
        raise ValueError(f"cannot canonicalize: {exc}") from exc


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def document_digest(value: Any) -> str:
    """`sha256:` + hex SHA-256 of the document's canonical JSON (evidence-format §5)."""
    return "sha256:" + sha256_hex(canonical_json(value))
