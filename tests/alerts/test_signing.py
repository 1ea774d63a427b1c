"""The receiver's check: a signed request verifies; anything tampered, stale or
malformed is rejected with a message naming what failed."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ledger.alerts import SignatureRejected, sign, verify_signature

SECRET = "whsec_test-secret-of-at-least-32-bytes-long-xx"
BODY = b'{"alert_id":7,"order":"order-1","type":"sla_breach"}'
SENT_AT = datetime(2026, 3, 3, 3, 0, tzinfo=UTC)
STAMP = str(int(SENT_AT.timestamp()))


@dataclass(frozen=True)
class Request:
    timestamp: str
    body: bytes
    signature: str
    now: datetime = SENT_AT
    secret: str = SECRET


GOOD = Request(STAMP, BODY, sign(SECRET, int(STAMP), BODY))


def test_the_signature_is_the_documented_hmac() -> None:
    expected = hmac.new(SECRET.encode(), STAMP.encode() + b"." + BODY, hashlib.sha256)
    assert GOOD.signature == "v1=" + expected.hexdigest()


@pytest.mark.parametrize(
    "request_",
    [
        pytest.param(GOOD, id="as-sent"),
        pytest.param(replace(GOOD, now=SENT_AT + timedelta(seconds=300)), id="at-window-end"),
        pytest.param(replace(GOOD, now=SENT_AT - timedelta(seconds=300)), id="clock-behind"),
        pytest.param(
            replace(GOOD, signature=f"v1={'0' * 64}, {GOOD.signature}"), id="rotation-list"
        ),
        pytest.param(replace(GOOD, signature=GOOD.signature.upper().replace("V1=", "v1=")),
                     id="upper-case-hex"),
    ],
)
def test_valid_requests_verify(request_: Request) -> None:
    verify_signature(
        request_.secret, request_.timestamp, request_.body, request_.signature, request_.now
    )


@pytest.mark.parametrize(
    ("request_", "reason"),
    [
        pytest.param(replace(GOOD, body=BODY.replace(b"order-1", b"order-2")),
                     "does not match", id="tampered-body"),
        pytest.param(replace(GOOD, body=BODY + b" "), "does not match", id="appended-space"),
        pytest.param(replace(GOOD, secret=SECRET + "x"), "does not match", id="wrong-secret"),
        pytest.param(replace(GOOD, timestamp=str(int(STAMP) + 1)),
                     "does not match", id="timestamp-changed"),
        pytest.param(replace(GOOD, now=SENT_AT + timedelta(seconds=301)),
                     "outside the 300 s replay window", id="old-timestamp"),
        pytest.param(replace(GOOD, now=SENT_AT - timedelta(hours=1)),
                     "replay window", id="future-timestamp"),
        pytest.param(replace(GOOD, timestamp="2026-03-03T03:00:00Z"),
                     "not whole unix seconds", id="timestamp-not-seconds"),
        pytest.param(replace(GOOD, timestamp="-5"), "not whole unix seconds", id="negative"),
        pytest.param(replace(GOOD, signature=GOOD.signature.replace("v1=", "v0=")),
                     "no v1= signature", id="unknown-scheme"),
        pytest.param(replace(GOOD, signature=""), "no v1= signature", id="no-signature"),
        pytest.param(replace(GOOD, signature="v1=ÿ" + GOOD.signature[4:]),
                     "does not match", id="non-ascii-signature"),
    ],
)
def test_tampered_stale_or_malformed_requests_are_rejected(request_: Request, reason: str) -> None:
    with pytest.raises(SignatureRejected, match=reason):
        verify_signature(
            request_.secret, request_.timestamp, request_.body, request_.signature, request_.now
        )


def test_the_window_is_configurable() -> None:
    late = SENT_AT + timedelta(seconds=30)
    verify_signature(SECRET, STAMP, BODY, GOOD.signature, late, window=timedelta(seconds=30))
    with pytest.raises(SignatureRejected, match="10 s replay window"):
        verify_signature(SECRET, STAMP, BODY, GOOD.signature, late, window=timedelta(seconds=10))


def test_the_worked_example_in_the_docs_holds() -> None:
    docs = (Path(__file__).parents[2] / "docs" / "alerts.md").read_text(encoding="utf-8")
    body = next(
        line.encode() for line in docs.splitlines() if line.startswith('{"alert_id":1,')
    )
    secret = "whsec_docs-example-secret-not-for-production-use"
    signature = sign(secret, 1772506800, body)
    assert f"X-Orderledger-Signature: {signature}" in docs
    assert f"give\n`{signature}`" in docs
    received_at = datetime(2026, 3, 3, 3, 0, 10, tzinfo=UTC)
    verify_signature(secret, "1772506800", body, signature, received_at)


def test_a_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        verify_signature(SECRET, STAMP, BODY, GOOD.signature, SENT_AT.replace(tzinfo=None))
