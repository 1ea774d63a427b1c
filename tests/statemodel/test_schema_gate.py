"""The compiled schema gate never accepts what the jsonschema reference refuses.

The gate (statemodel.schema_gate) lets a payload through on its own say-so, so it must
be sound: gate(x) implies reference_valid(x), for every sub-state's schema. Payloads
are the scenarios' real ones and Hypothesis mutations of them (fields dropped, replaced
by values of every JSON type, near-miss strings, unknown fields added).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from statemodel.catalogue import load_catalogue
from statemodel.ecma_regex import EcmaDraft202012Validator
from statemodel.formats import make_format_checker
from statemodel.machine import OrderMachine
from statemodel.scenarios import SCENARIOS
from statemodel.schema_gate import compile_gate

CAT = load_catalogue()
MACHINE = OrderMachine(CAT)
CHECKER = make_format_checker()


def _examples() -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {code: [] for code in CAT.sub_states}
    for scenario in SCENARIOS:
        for step in scenario.steps:
            found[step.expect].append(dict(step.payload))
    return found


EXAMPLES = _examples()
STATES = sorted(CAT.sub_states)
_near_misses = st.sampled_from([
    "", " ", "DB7700123456789\n", "db7700123456789", "3101120", "31011", "上海",
    "2026-03-03T09:40:00", "2026-03-03T09:40:00+08:00", "2026-02-30T09:40:00Z",
    "2026-03-03T09:40:00Z\n", "310112\n", "deppon\n", "arrival\n",
    "2026-03-03", "2026-13-01", "sf", "SF", "x" * 81, "x" * 2001, "CARRIER", "arrival",
])
_values: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=10) | _near_misses,
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=6) | _near_misses, children, max_size=3),
    max_leaves=8,
)


def reference_valid(sub_state: str, payload: Any) -> bool:
    # The machine's reference: Draft 2020-12 with ECMA-262 `pattern` (`$` = end of string).
    validator = EcmaDraft202012Validator(CAT.payload_schema(sub_state), format_checker=CHECKER)
    return bool(validator.is_valid(payload))


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    sub_state = draw(st.sampled_from(STATES))
    bases = EXAMPLES[sub_state] or [{}]
    payload = dict(draw(st.sampled_from(bases)))
    properties = sorted(CAT.payload_schema(sub_state).get("properties", {}))
    for _ in range(draw(st.integers(1, 3))):
        action = draw(st.sampled_from(["drop", "replace", "add", "nest"]))
        if action == "drop" and payload:
            payload.pop(draw(st.sampled_from(sorted(payload))))
        elif action == "replace" and properties:
            payload[draw(st.sampled_from(properties))] = draw(_values)
        elif action == "add":
            payload[draw(st.text(max_size=8))] = draw(_values)
        elif action == "nest" and payload:
            key = draw(st.sampled_from(sorted(payload)))
            if isinstance(payload[key], dict) and payload[key]:
                inner = dict(payload[key])
                inner[draw(st.sampled_from(sorted(inner)))] = draw(_values)
                payload[key] = inner
    return sub_state, payload


def test_every_sub_state_schema_is_gated() -> None:
    ungated = [code for code in STATES if compile_gate(CAT.payload_schema(code)) is None]
    assert ungated == [], "a schema without a gate is validated at the reference's speed"


@pytest.mark.parametrize("sub_state", [s for s in STATES if EXAMPLES[s]])
def test_the_gate_accepts_the_scenarios_payloads(sub_state: str) -> None:
    gate = compile_gate(CAT.payload_schema(sub_state))
    assert gate is not None
    for payload in EXAMPLES[sub_state]:
        assert gate(payload), payload
        assert reference_valid(sub_state, payload)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_the_gate_is_sound(case: tuple[str, dict[str, Any]]) -> None:
    sub_state, payload = case
    if MACHINE._gate(sub_state)(payload):
        assert reference_valid(sub_state, payload), (sub_state, payload)


@pytest.mark.parametrize(
    ("name", "schema", "gated"),
    [
        ("plain object", {"type": "object", "properties": {"a": {"type": "string"}}}, True),
        ("2020-12 prefixItems", {"type": "array", "prefixItems": [{"type": "string"}]}, False),
        ("unevaluatedProperties", {"type": "object", "unevaluatedProperties": False}, False),
        ("a format we do not check", {"type": "string", "format": "email"}, False),
        ("tuple items", {"type": "array", "items": [{"type": "string"}]}, False),
        ("nested unknown keyword", {"properties": {"a": {"$ref": "#/$defs/x"}}}, False),
        ("a property NAMED like a keyword is fine",
         {"properties": {"prefixItems": {"type": "string"}}}, True),
    ],
)
def test_only_vetted_keywords_are_gated(name: str, schema: dict[str, Any], gated: bool) -> None:
    assert (compile_gate(schema) is not None) is gated, name


@pytest.mark.parametrize(
    ("payload", "valid"),
    [({}, True), ({"a": 1}, False), ({"a": 1, "b": 2}, True), ({"b": 2}, True)],
)
def test_dependent_required_keeps_its_meaning(payload: dict[str, Any], valid: bool) -> None:
    schema = {"type": "object", "dependentRequired": {"a": ["b"]}}
    gate = compile_gate(schema)
    assert gate is not None
    assert gate(payload) is valid
    assert Draft202012Validator(schema).is_valid(payload) is valid


def test_invalid_payloads_still_get_the_reference_errors() -> None:
    payload = dict(EXAMPLES["M05.02"][0])
    payload["hub_admin_code"] = "31011"
    with pytest.raises(Exception, match=r"payload\.hub_admin_code"):
        MACHINE.validate_payload("M05.02", payload)
