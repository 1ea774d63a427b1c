"""The standard-library sender against a real loopback receiver: what counts as
delivered, and that failures come back as outcomes, never as exceptions."""

from __future__ import annotations

import pytest

from ledger.alerts import Outcome, UrllibSender
from tests.alerts.receiver import HANG, Answer, receiving

SEND = UrllibSender(proxies={})


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        pytest.param(200, Outcome(200), id="200"),
        pytest.param(204, Outcome(204), id="204"),
        pytest.param(302, Outcome(302, "HTTP 302 Found"), id="redirect-not-followed"),
        pytest.param(404, Outcome(404, "HTTP 404 Not Found"), id="404"),
        pytest.param(500, Outcome(500, "HTTP 500 Internal Server Error"), id="500"),
        pytest.param(HANG, Outcome(None, "timed out after 0.3 s"), id="timeout"),
    ],
)
def test_outcomes(answer: Answer, expected: Outcome) -> None:
    with receiving([answer]) as receiver:
        outcome = SEND(receiver.url, b'{"a":1}', {"Content-Type": "application/json"}, 0.3)
        assert outcome == expected
        assert outcome.delivered is (expected.status in (200, 204))
        assert [(r.path, r.body) for r in receiver.requests] == [
            ("/hooks/orderledger", b'{"a":1}')
        ]


def test_a_connection_refused_is_an_outcome() -> None:
    with receiving() as receiver:
        url = receiver.url
    outcome = SEND(url, b"{}", {}, 0.3)
    assert outcome.status is None
    assert outcome.error is not None
    assert outcome.error.startswith("connection failed")
