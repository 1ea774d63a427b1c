"""Signing webhook requests, and the check a receiver makes (pure: no I/O, no clock).

A request carries `X-Orderledger-Timestamp: <unix seconds>` and
`X-Orderledger-Signature: v1=<hex HMAC-SHA256(secret, timestamp + "." + body)>`. Signing
the timestamp with the body lets a receiver refuse replays of an old request: it
accepts a timestamp only within a window around its own clock.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta
from typing import Final

from ledger.alerts.errors import SignatureRejected

TIMESTAMP_HEADER: Final = "X-Orderledger-Timestamp"
SIGNATURE_HEADER: Final = "X-Orderledger-Signature"
DELIVERY_HEADER: Final = "X-Orderledger-Delivery"
EVENT_HEADER: Final = "X-Orderledger-Event"
#: The scheme of the signature; a new scheme would get a new prefix, side by side.
SIGNATURE_SCHEME: Final = "v1"
#: How far a receiver lets a timestamp stray from its own clock, either way.
DEFAULT_REPLAY_WINDOW: Final = timedelta(seconds=300)


def signed_bytes(timestamp: int | str, body: bytes) -> bytes:
    """The bytes the HMAC covers: the decimal timestamp, a dot, the raw body."""
    return str(timestamp).encode("ascii") + b"." + body


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header value for `body` sent at `timestamp` (unix seconds):
    `v1=` + hex HMAC-SHA256 keyed with the secret's UTF-8 bytes."""
    mac = hmac.new(secret.encode("utf-8"), signed_bytes(timestamp, body), hashlib.sha256)
    return f"{SIGNATURE_SCHEME}={mac.hexdigest()}"


def verify_signature(
    secret: str,
    timestamp: str | int,
    body: bytes,
    signature: str,
    now: datetime,
    window: timedelta = DEFAULT_REPLAY_WINDOW,
) -> None:
    """Check a webhook request as a receiver must: `timestamp` (the header's text) is
    whole unix seconds within `window` of `now` (either way), and `signature` (the
    header's text; several comma-separated `v1=` values are allowed, e.g. while a secret
    is rotated) holds a `v1` HMAC of `timestamp + "." + body` under `secret`.

    Returns None when every check holds. Raises SignatureRejected naming the first check
    that failed: malformed timestamp, timestamp outside the window, no v1 signature, or
    a signature that does not match (compared in constant time). Raises ValueError for
    a naive `now`.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware: a naive time is read as local time")
    text = str(timestamp).strip()
    if not text.isascii() or not text.isdigit():
        raise SignatureRejected(f"timestamp {text!r} is not whole unix seconds")
    skew = abs(now.timestamp() - int(text))
    if skew > window.total_seconds():
        raise SignatureRejected(
            f"timestamp {text} is {skew:.0f} s from now, outside the "
            f"{window.total_seconds():.0f} s replay window"
        )
    offered = [
        value.strip()[len(SIGNATURE_SCHEME) + 1 :]
        for value in signature.split(",")
        if value.strip().startswith(f"{SIGNATURE_SCHEME}=")
    ]
    if not offered:
        raise SignatureRejected(f"no {SIGNATURE_SCHEME}= signature in {signature!r}")
    expected = sign(secret, int(text), body)[len(SIGNATURE_SCHEME) + 1 :]
    # Compare every offered value, so the time taken tells nothing about which matched.
    matches = [
        hmac.compare_digest(expected.encode(), value.lower().encode("utf-8"))
        for value in offered
    ]
    if not any(matches):
        raise SignatureRejected("signature does not match the body and timestamp")
