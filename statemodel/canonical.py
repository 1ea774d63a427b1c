"""RFC 8785 canonical JSON and SHA-256 digests: the one home of canonical bytes.

Everything that is hashed or signed (catalogues, statements, payloads) is hashed over
these bytes, never over how it happens to be stored or served.

`canonical_json` takes a fast path for the values where the standard library's C JSON
encoder already writes RFC 8785 bytes: objects with string keys that sort the same by
code point as by UTF-16 code unit, arrays, strings, booleans, null and integers in the
IEEE 754 safe range. Floats (whose ECMAScript formatting differs from Python's `repr`),
other types, keys outside the Basic Multilingual Plane and strings that are not valid
Unicode go to the `rfc8785` reference implementation. A property test holds the two
byte-equal (tests/statemodel/test_canonical_fast_path.py); the offline verifier
(`ledger/verify.py`) always uses the reference.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Final

import rfc8785

#: Integers JCS carries exactly: |n| <= 2^53 - 1 (rfc8785 refuses the rest).
MAX_SAFE_INTEGER: Final = 2**53 - 1
_BMP_END: Final = "\uffff"
_encode = json.JSONEncoder(
    ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False
).encode


def canonical_json(value: Any) -> bytes:
    """RFC 8785 (JCS) canonical UTF-8 bytes of a JSON value.

    Raises ValueError for values JSON cannot carry exactly (NaN, infinities, integers
    beyond IEEE 754 double precision, non-string keys, lone surrogates).
    """
    if _encoder_is_exact(value):
        try:
            return _encode(value).encode("utf-8")
        except UnicodeEncodeError:
            pass  # a lone surrogate: the reference raises the precise error below
    try:
        return rfc8785.dumps(value)
    except rfc8785.CanonicalizationError as exc:
        raise ValueError(f"cannot canonicalize: {exc}") from exc


def _encoder_is_exact(value: Any) -> bool:
    """True when `json` encodes `value` to exactly its RFC 8785 text (see the module
    docstring); exact types only, so subclasses with their own behaviour go the long way."""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        return bool(-MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER)
    if kind is dict:
        for key, child in value.items():
            if type(key) is not str or not (key.isascii() or max(key) <= _BMP_END):
                return False
            if not _encoder_is_exact(child):
                return False
        return True
    if kind is list:
        return all(_encoder_is_exact(child) for child in value)
    return False


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def document_digest(value: Any) -> str:
    """`sha256:` + hex SHA-256 of the document's canonical JSON (evidence-format §5)."""
    return "sha256:" + sha256_hex(canonical_json(value))
