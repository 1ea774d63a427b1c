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

The fast path calls the C encoder object of `_json` directly: `json.JSONEncoder.encode`
builds a new one (and a circular-reference table) on every call, which cost more than
the check that decides whether the fast path applies.
"""

from __future__ import annotations

import hashlib
from _json import encode_basestring, make_encoder
from collections.abc import Iterable
from typing import Any, Final, NoReturn

import rfc8785

#: Integers JCS carries exactly: |n| <= 2^53 - 1 (rfc8785 refuses the rest).
MAX_SAFE_INTEGER: Final = 2**53 - 1
_MIN_SAFE_INTEGER: Final = -MAX_SAFE_INTEGER
_BMP_END: Final = "\uffff"


def _unreachable(value: object) -> NoReturn:
    """The C encoder's hook for types it does not know; `_encoder_is_exact` lets none
    through, so reaching it is a bug in that check."""
    raise TypeError(f"canonical fast path given a {type(value).__name__}")


#: The C encoder `json.dumps(ensure_ascii=False, sort_keys=True, separators=(",", ":"),
#: allow_nan=False)` builds, made once. No circular-reference table (markers=None): a
#: cycle already ends `_encoder_is_exact` in RecursionError, as it ends the reference;
#: so the encoder keeps no state between calls and threads may share it.
_encode_exact: Final = make_encoder(
    None, _unreachable, encode_basestring, None, ":", ",", True, False, False
)


def canonical_json(value: Any) -> bytes:
    """RFC 8785 (JCS) canonical UTF-8 bytes of a JSON value.

    Raises ValueError for values JSON cannot carry exactly (NaN, infinities, integers
    beyond IEEE 754 double precision, non-string keys, lone surrogates).
    """
    kind = type(value)  # `_encoder_is_exact`, its container case inlined (every record)
    if (_container_is_exact(value) if kind is dict or kind is list else _encoder_is_exact(value)):
        try:
            return "".join(_encode_exact(value, 0)).encode()
        except UnicodeEncodeError:
            pass  # a lone surrogate: the reference raises the precise error below
    try:
        return rfc8785.dumps(value)
    except rfc8785.CanonicalizationError as exc:
        raise ValueError(f"cannot canonicalize: {exc}") from exc


def _encoder_is_exact(value: Any) -> bool:
    """True when `json` encodes `value` to exactly its RFC 8785 text (see the module
    docstring); exact types only, so subclasses with their own behaviour go the long way.
    Raises RecursionError on a cyclic value, as the reference does."""
    kind = type(value)
    if kind is dict or kind is list:
        return _container_is_exact(value)
    if kind is int:
        return bool(_MIN_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER)
    return kind is str or kind is bool or value is None


def _container_is_exact(node: dict[Any, Any] | list[Any]) -> bool:
    """`_encoder_is_exact` for an exact dict or list. One pass over the keys and one over
    the children, recursing only into containers: the check runs on every canonical
    value, so it keeps to the few type tests the encoder cannot make itself."""
    children: Iterable[Any] = node
    if type(node) is dict:
        for key in node:
            if type(key) is not str:
                return False  # the encoder would stringify int, float, bool and None keys
        keys = "".join(node)
        if not keys.isascii() and max(keys) > _BMP_END:
            return False  # an astral key may sort differently by UTF-16 code unit
        children = node.values()
    for child in children:
        kind = type(child)
        if kind is str or kind is bool or child is None:
            continue
        if kind is int:
            if _MIN_SAFE_INTEGER <= child <= MAX_SAFE_INTEGER:
                continue
            return False
        if (kind is dict or kind is list) and _container_is_exact(child):
            continue
        return False  # a float, a subclass, a tuple or no JSON type at all
    return True


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def document_digest(value: Any) -> str:
    """`sha256:` + hex SHA-256 of the document's canonical JSON (evidence-format §5)."""
    return "sha256:" + sha256_hex(canonical_json(value))
