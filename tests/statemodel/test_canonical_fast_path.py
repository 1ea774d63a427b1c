"""The fast path of `canonical_json` writes exactly the `rfc8785` reference's bytes.

The writer hashes and signs through the fast path while every verifier (ledger/verify.py,
third parties) canonicalizes with a full RFC 8785 implementation: one differing byte
would make a record unverifiable. So the two are compared on arbitrary JSON values,
on values built from the inputs where the standard library's encoder and JCS are known
to part ways (floats, big integers, non-string and astral keys, lone surrogates,
subclasses, tuples), and on the refusals, down to the error raised.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NoReturn

import pytest
import rfc8785
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from statemodel.canonical import MAX_SAFE_INTEGER, _encoder_is_exact, canonical_json


class _Str(str):
    """A key subclass with its own behaviour: the reference sorts keys by `encode`."""

    def encode(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        return self.upper().encode(encoding, errors)


class _Int(int):
    """The reference writes `int(n)`, the C encoder the integer's own digits."""

    def __int__(self) -> int:
        return int.__add__(self, 1)


class _Dict(dict[Any, Any]):
    """The C encoder reads a dict subclass through `items()`, the reference does not."""

    def items(self) -> list[tuple[Any, Any]]:  # type: ignore[override]
        return [(key, "items() says otherwise") for key in self]


class _List(list[Any]):
    pass


def _expected(value: Any) -> bytes | tuple[str, str]:
    """What `canonical_json` must give: the reference's bytes, or the error it raises
    (a CanonicalizationError becomes a ValueError naming it; any other ValueError, such
    as the UnicodeEncodeError of a lone surrogate in a key, passes through)."""
    try:
        return rfc8785.dumps(value)
    except rfc8785.CanonicalizationError as exc:
        return ("ValueError", f"cannot canonicalize: {exc}")
    except ValueError as exc:
        return (type(exc).__name__, str(exc))


def _actual(value: Any) -> bytes | tuple[str, str]:
    try:
        return canonical_json(value)
    except ValueError as exc:
        return (type(exc).__name__, str(exc))


_BMP_END = "\uffff"


def _naively_exact(value: Any) -> bool:
    """The first, plainly recursive form of the fast-path test, kept to check the
    faster one: a value goes the fast way exactly when this says so."""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        return bool(-MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER)
    if kind is dict:
        for key, child in value.items():
            if type(key) is not str or not (key.isascii() or max(key) <= _BMP_END):
                return False
            if not _naively_exact(child):
                return False
        return True
    if kind is list:
        return all(_naively_exact(child) for child in value)
    return False


# --- arbitrary valid JSON ------------------------------------------------------------

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


@settings(max_examples=400, deadline=None)
@given(_json)
def test_any_json_value_gives_the_reference_bytes(value: Any) -> None:
    assert canonical_json(value) == rfc8785.dumps(value)


# --- values built from where the encoder and JCS part ways ---------------------------

#: Characters the encoder must escape or keep raw, and the ones whose order differs
#: between code point and UTF-16 code unit (U+E000..U+FFFF against astral ones).
_TRICKY_CHARS = "a\"\\\x1f\x7f中\ue000\uffff\U00010000\U0001f600"
_valid_text = st.text(st.characters(codec="utf-8"), max_size=6) | st.text(
    st.sampled_from(_TRICKY_CHARS), max_size=4
)
_bmp_keys = st.text(st.characters(codec="utf-8", max_codepoint=0xFFFF), max_size=6) | st.text(
    st.sampled_from("a\"\\中\ue000\uffff"), max_size=3
)
#: Values the fast path takes: valid Unicode, keys in the BMP, safe integers, no floats.
_clean_json = st.recursive(
    st.none() | st.booleans() | st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER) | _valid_text,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(_bmp_keys, children, max_size=4),
    max_leaves=15,
)
_clean_containers = st.lists(_clean_json, max_size=4) | st.dictionaries(
    _bmp_keys, _clean_json, max_size=5
)
#: Oddities the fast path's type check refuses. A lone surrogate passes it and is caught
#: when the encoder's text is encoded to UTF-8: it comes apart below.
_refused_values = st.one_of(
    st.floats(),  # NaN and infinities too
    st.integers(min_value=MAX_SAFE_INTEGER + 1) | st.integers(max_value=-MAX_SAFE_INTEGER - 1),
    st.builds(_Str, _valid_text),
    st.builds(_Int, st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER)),
    st.lists(_clean_json, max_size=3).map(tuple),
    st.lists(_clean_json, max_size=3).map(_List),
    st.dictionaries(_bmp_keys, _clean_json, max_size=3).map(_Dict),
    st.sampled_from([b"bytes", {1, 2}, 1j]),
)
_refused_keys = st.one_of(
    st.integers(-3, 3),
    st.booleans(),
    st.none(),
    st.floats(-2, 2),
    st.builds(_Str, _bmp_keys),
    st.sampled_from(["\U00010000", "\U0001f600", "a\U0001f600"]),  # astral
)
_with_lone_surrogate = st.builds(
    "{}{}{}".format, _valid_text, st.characters(categories=["Cs"]), _valid_text
)


def _containers_in(value: Any) -> Iterator[list[Any] | dict[Any, Any]]:
    if type(value) is list:
        yield value
        for child in value:
            yield from _containers_in(child)
    elif type(value) is dict:
        yield value
        for child in value.values():
            yield from _containers_in(child)


@st.composite
def _one_oddity(draw: st.DrawFn) -> tuple[Any, bool]:
    """(value, refused): a value the fast path would take but for one odd value or key
    somewhere inside, so that each check it makes is in turn the one that decides; and
    whether that check is the type check (False for a lone surrogate)."""
    surrogate = draw(st.integers(0, 7)) == 0
    odd_values = _with_lone_surrogate if surrogate else _refused_values
    if draw(st.integers(0, 5)) == 0:
        return draw(odd_values), not surrogate
    root = draw(_clean_containers)
    target = draw(st.sampled_from(list(_containers_in(root))))
    if isinstance(target, list):
        target.insert(draw(st.integers(0, len(target))), draw(odd_values))
    elif draw(st.booleans()):
        target[draw(_bmp_keys)] = draw(odd_values)
    else:
        target["\ue000"] = draw(_clean_json)  # an astral key then sorts differently
        key = draw(_with_lone_surrogate if surrogate else _refused_keys)
        assume(key not in target)  # _Str("a") would only replace the value of "a"
        target[key] = draw(_clean_json)
    return root, not surrogate


#: Many oddities at once, for how they interact (mixed key types, subclasses nested).
_many_oddities = st.recursive(
    _refused_values | _with_lone_surrogate | _clean_json,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(_bmp_keys | _refused_keys | _with_lone_surrogate, children, max_size=4)
    | st.lists(children, max_size=3).map(tuple)
    | st.dictionaries(_bmp_keys, children, max_size=3).map(_Dict),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(_one_oddity())
def test_one_oddity_gives_the_reference_bytes_or_its_error(case: tuple[Any, bool]) -> None:
    value, refused = case
    if refused:
        assert not _encoder_is_exact(value)
    assert _actual(value) == _expected(value)


@settings(max_examples=200, deadline=None)
@given(_many_oddities)
def test_many_oddities_give_the_reference_bytes_or_its_error(value: Any) -> None:
    assert _actual(value) == _expected(value)


@settings(max_examples=300, deadline=None)
@given(_many_oddities | _clean_json)
def test_the_fast_path_is_taken_exactly_where_the_naive_check_allows(value: Any) -> None:
    assert _encoder_is_exact(value) is _naively_exact(value)


# --- named cases ---------------------------------------------------------------------

_STATEMENT: dict[str, Any] = {
    "v": 1, "log": "ol1:tenant-a:ORD-1", "kind": "event", "tenant": "tenant-a",
    "order": "ORD-1", "seq": 17, "prev": "b3" * 32, "from": "M05.01", "to": "M05.02",
    "event": "hub_scan", "event_time": "2026-03-04T09:20:00.000Z",
    "recorded_at": "2026-03-04T09:20:01.123Z", "actor": {"type": "carrier", "id": "sf"},
    "payload_digest": "sha256:" + "ab" * 32, "model": "sha256:" + "cd" * 32,
    "rules": "sha256:" + "ef" * 32, "key_id": "rec-2026-01",
}  # fmt: skip
_CARRIER_PAYLOAD: dict[str, Any] = {
    "waybill_no": "SF1234567890123",
    "hub": {"code": "SHA-HQ-01", "name": "上海虹桥分拨中心", "lat_e6": 31197646},
    "parcels": [{"piece": 1, "dims_mm": [300, 200, 150]}, {"piece": 2, "dims_mm": []}],
    "route": ["SHA", "PEK"], "signed": False, "remark": None, "note": "\U0001f600",
}  # fmt: skip


def test_typical_values_never_reach_the_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    expected = [rfc8785.dumps(value) for value in (_STATEMENT, _CARRIER_PAYLOAD)]

    def reference_called(value: Any) -> NoReturn:
        raise AssertionError(f"fell back to the reference for {value!r}")

    monkeypatch.setattr(rfc8785, "dumps", reference_called)
    assert [canonical_json(_STATEMENT), canonical_json(_CARRIER_PAYLOAD)] == expected


@pytest.mark.parametrize(
    ("name", "value", "fast"),
    [
        ("control characters and escapes", "\x00\x08\t\n\x0c\r\x1f\x7f\"\\/", True),
        ("line and paragraph separators stay raw", "\u2028\u2029", True),
        ("Chinese text stays UTF-8", {"hub_name": "上海虹桥分拨中心"}, True),
        ("Chinese keys sort by code point", {"中": 1, "a": 2, "\ue000": 3}, True),
        ("astral character in a value", {"note": "\U0001f600"}, True),
        ("the largest safe integers", [MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER], True),
        ("empty containers", {"a": [], "b": {}, "c": [[], {}]}, True),
        ("astral key vs private-use key: UTF-16 order", {"\U0001f600": 1, "\ue000": 2}, False),
        ("astral key nested in a list", [{"a": 1}, {"\U00010000": 2}], False),
        ("integral float is written without .0", {"t": 1.0}, False),
        ("small float uses ECMAScript exponent", [1e-7, 1e21, 123456789012345680000.0], False),
        ("negative zero", -0.0, False),
        ("tuple", (1, 2), False),
        ("tuple nested in a dict", {"a": ("x", {"b": 1})}, False),
        ("nested float deep inside", {"a": [{"b": [0.5]}]}, False),
        ("str subclass as a value", {"a": _Str("x")}, False),
        ("str subclass as a key", {_Str("a"): 1}, False),
        ("int subclass", [_Int(5)], False),
        ("dict subclass", {"a": _Dict(b=1)}, False),
        ("list subclass", [_List([1])], False),
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
        ("big integer deep in a list", {"a": [1, [2, MAX_SAFE_INTEGER + 1]]}),
        ("non-string key", {1: "one"}),
        ("boolean key", {"a": {True: 1}}),
        ("null key", [{None: 1}]),
        ("float key", {1.5: 1}),
        ("NaN", float("nan")),
        ("infinity", [float("inf")]),
        ("infinity deep inside", {"a": [{"b": float("-inf")}]}),
        ("lone surrogate in a value", "\ud800"),
        ("lone surrogate in a nested value", {"a": ["ok", "\udc00"]}),
        ("lone surrogate in a key", {"a\udfff": 1}),
        ("a set is no JSON", {1, 2}),
        ("bytes are no JSON", {"a": b"x"}),
    ],
)
def test_what_jcs_refuses_is_refused_with_the_reference_error(name: str, value: Any) -> None:
    expected = _expected(value)
    assert isinstance(expected, tuple), f"{name}: the reference accepts it"
    with pytest.raises(ValueError) as raised:
        canonical_json(value)
    assert (type(raised.value).__name__, str(raised.value)) == expected, name
