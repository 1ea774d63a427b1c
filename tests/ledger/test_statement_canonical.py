"""`statement_canonical` writes exactly the `rfc8785` reference's bytes of a statement.

The writer hashes every statement through this field-by-field writer, while verifiers
canonicalize `to_json()` with a full RFC 8785 implementation: one differing byte would
make a record unverifiable. So the two are compared on statements with arbitrary text in
every string field (escapes, control characters, astral characters, lone surrogates),
seqs inside and beyond the safe integers, and with and without a previous state; and on
the refusals.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.canonical import statement_canonical, statement_hash
from ledger.statement import Actor, ActorType, Kind, Statement
from statemodel.canonical import MAX_SAFE_INTEGER

#: Any code point, lone surrogates included (hypothesis leaves them out by default).
_ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=12)
_TRICKY_TEXT = st.sampled_from(
    ["", '"', "\\", "\n\t\b\f\r", "\x00\x1f\x7f", "\u2028\u2029", "订单-顺丰", "😀", "\ud800",
     "/</script>", "é"]
)
_TEXT = st.one_of(_TRICKY_TEXT, _ANY_TEXT)


def _statement(**fields: Any) -> Statement:
    base: dict[str, Any] = {
        "log": "orderledger.example/log", "kind": Kind.TRANSITION, "tenant": "shop-1",
        "order": "o-1", "seq": 1, "prev": "ab" * 32, "from_state": "M01.01",
        "to_state": "M02.01", "event": "order_paid",
        "event_time": "2026-03-01T08:00:00.000Z", "recorded_at": "2026-03-01T08:00:01.000Z",
        "actor": Actor(ActorType.PLATFORM, "shop-1"), "payload_digest": "cd" * 32,
        "model": "sha256:" + "ef" * 32, "rules": "cn-fulfilment-2026@1.0.0",
        "key_id": "0123456789abcdef",
    }
    base.update(fields)
    return Statement(**base)


def _reference(stmt: Statement) -> bytes | None:
    """The reference's bytes, or None where it refuses."""
    try:
        return rfc8785.dumps(stmt.to_json())
    except rfc8785.CanonicalizationError:
        return None


@st.composite
def statements(draw: st.DrawFn) -> Statement:
    text_fields = ("log", "tenant", "order", "prev", "to_state", "event", "event_time",
                   "recorded_at", "payload_digest", "model", "rules", "key_id")
    fields: dict[str, Any] = {name: draw(_TEXT) for name in text_fields}
    fields["from_state"] = draw(st.none() | _TEXT)
    fields["kind"] = draw(st.sampled_from(Kind))
    fields["actor"] = Actor(draw(st.sampled_from(ActorType)), draw(_TEXT))
    fields["seq"] = draw(st.integers(0, 2**60) | st.sampled_from([0, MAX_SAFE_INTEGER,
                                                                   MAX_SAFE_INTEGER + 1]))
    return _statement(**fields)


@settings(max_examples=400, deadline=None)
@given(statements())
def test_the_statement_writer_matches_the_reference(stmt: Statement) -> None:
    expected = _reference(stmt)
    if expected is None:
        with pytest.raises(ValueError, match="cannot canonicalize"):
            statement_canonical(stmt)
    else:
        assert statement_canonical(stmt) == expected


@pytest.mark.parametrize(
    ("name", "fields"),
    [
        ("a realistic statement", {}),
        ("the first record", {"seq": 0, "from_state": None}),
        ("escapes and Chinese text", {"order": 'o"1\\\n', "tenant": "上海-虹桥\x01"}),
        ("an astral character", {"actor": Actor(ActorType.CARRIER, "deppon-😀")}),
        ("the largest safe seq", {"seq": MAX_SAFE_INTEGER}),
    ],
)
def test_known_statements(name: str, fields: dict[str, Any]) -> None:
    stmt = _statement(**fields)
    expected = rfc8785.dumps(stmt.to_json())
    assert statement_canonical(stmt) == expected
    assert statement_hash(stmt) == hashlib.sha256(expected).digest()


@pytest.mark.parametrize(
    ("name", "fields"),
    [
        ("a lone surrogate", {"event": "hub\udc00scan"}),
        ("a seq beyond the safe integers", {"seq": MAX_SAFE_INTEGER + 1}),
    ],
)
def test_what_the_reference_refuses_is_refused(name: str, fields: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="cannot canonicalize"):
        statement_canonical(_statement(**fields))


def test_a_field_of_the_wrong_type_takes_the_general_path() -> None:
    """A non-string field is no statement the spec allows; the writer does not guess its
    JSON but gives it to the general path, which encodes what the reference would."""
    stmt = dataclasses.replace(_statement(), tenant=7)  # type: ignore[arg-type]
    assert statement_canonical(stmt) == rfc8785.dumps(stmt.to_json())
