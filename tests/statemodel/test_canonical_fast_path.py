"""The fast path of `canonical_json` writes exactly the `rfc8785` reference's bytes.

The writer hashes and signs through the fast path while every verifier (ledger/verify.py,
third parties) canonicalizes with a full RFC 8785 implementation: one differing byte
would make a record unverifiable. So the two are compared on arbitrary JSON values,
on the inputs where the standard library's encoder and JCS are known to part ways, and
on the refusals.
"""

from __future__ import annotations

from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from statemodel.canonical import MAX_SAFE_INTEGER, _encoder_is_exact, canonical_json

_text = st.text(st.characters(codec="utf-8"), max_size=12)  # no lone surrogates
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _text
)
_json = st.recursive(
    _scalars,
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(_text, children, max_size=5),
    max_leaves=30,
)


@settings(max_examples=600, deadline=None)
@given(_json)
def test_any_json_value_gives_the_reference_bytes(value: Any) -> None:
    assert canonical_json(value) == rfc8785.dumps(value)


@pytest.mark.parametrize(
    ("name", "value", "fast"),
    [
        ("control characters and escapes", "\x00\x08\t\n\x0c\r\x1f\x7f\"\\/", True),
        ("line and paragraph separators stay raw", "\u2028\u2029", True),
        ("Chinese text stays UTF-8", {"hub_name": "上海虹桥分拨中心"}, True),
        ("the largest safe integers", [MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER], True),
        ("astral key vs private-use key: UTF-16 order", {"\U0001f600": 1, "\ue000": 2}, False),
        ("integral float is written without .0", {"t": 1.0}, False),
        ("small float uses ECMAScript exponent", [1e-7, 1e21, 123456789012345680000.0], False),
        ("negative zero", -0.0, False),
        ("tuple", (1, 2), False),
        ("nested float deep inside", {"a": [{"b": [0.5]}]}, False),
    ],
)
def test_edge_cases_match_the_reference(name: str, value: Any, fast: bool) -> None:
    assert _encoder_is_exact(value) is fast, name
    assert canonical_json(value) == rfc8785.dumps(value), name


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("integer beyond 2^53 - 1", MAX_SAFE_INTEGER + 1),
        ("negative integer beyond the range", {"n": -MAX_SAFE_INTEGER - 1}),
        ("non-string key", {1: "one"}),
        ("NaN", float("nan")),
        ("infinity", [float("inf")]),
        ("lone surrogate in a value", "\ud800"),
        ("lone surrogate in a key", {"a\udfff": 1}),
        ("a set is no JSON", {1, 2}),
    ],
)
def test_what_jcs_refuses_is_refused(name: str, value: Any) -> None:
    with pytest.raises(ValueError):
        canonical_json(value)
    with pytest.raises((ValueError, rfc8785.CanonicalizationError)):
        rfc8785.dumps(value)
