"""Payload `pattern`s keep their ECMA-262 meaning: `$` is the very end of the string.

Python's `$` also matches before a final "\\n"; these tests hold the translation
(statemodel.ecma_regex), the reference validator, the compiled gate and
`OrderMachine.validate_payload` to the ECMA meaning, while the published schemas keep
their text.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from statemodel.catalogue import load_catalogue
from statemodel.ecma_regex import (
    EcmaDraft202012Validator,
    UntranslatablePattern,
    compile_ecma,
    ecma_to_python,
)
from statemodel.errors import PayloadInvalid
from statemodel.formats import is_rfc3339_datetime, parse_data_element_name
from statemodel.machine import OrderMachine
from statemodel.schema_gate import compile_gate

CAT = load_catalogue()
MACHINE = OrderMachine(CAT)

TRANSLATIONS = [
    ("end anchor", r"^[A-Z0-9]{8,20}$", r"^[A-Z0-9]{8,20}\Z"),
    ("no anchor", r"^ab", r"^ab"),
    ("middle anchor", r"a$|b", r"a\Z|b"),
    ("alternation in a group", r"^(a|b)$", r"^(a|b)\Z"),
    ("anchor inside each branch", r"^(a$|b$)", r"^(a\Z|b\Z)"),
    ("escaped dollar is a literal", r"^\$[0-9]+$", r"^\$[0-9]+\Z"),
    ("escaped backslash, then an anchor", r"a\\$", r"a\\\Z"),
    ("dollar inside a class", r"^[$]+$", r"^[\$]+\Z"),
    ("escaped bracket, then dollar, in a class", r"[\]$]", r"[\]\$]"),
    ("dollar in a negated class", r"[^$]$", r"[^\$]\Z"),
    ("bracket inside a class", r"[[a]", r"[\[a]"),
    ("class closes, anchor follows", r"[a-z]$", r"[a-z]\Z"),
    ("ECMA empty class matches nothing", r"a[]", r"a(?!)"),
    ("ECMA [^] matches anything", r"^[^]$", r"^[\s\S]\Z"),
    ("unicode escapes pass through", r"^[A-Za-z0-9\u4e00-\u9fff-]{2,20}$",
     r"^[A-Za-z0-9\u4e00-\u9fff-]{2,20}\Z"),
]


@pytest.mark.parametrize(("pattern", "python"), [t[1:] for t in TRANSLATIONS],
                         ids=[t[0] for t in TRANSLATIONS])
def test_translation(pattern: str, python: str) -> None:
    assert ecma_to_python(pattern) == python
    re.compile(python)  # and it is a Python regex


MATCHES = [
    ("end anchor refuses a final newline", r"^[A-Z0-9]{8,20}$", "SF1234567890\n", False),
    ("end anchor accepts the bare value", r"^[A-Z0-9]{8,20}$", "SF1234567890", True),
    ("alternation refuses a final newline", r"^(a|b)$", "b\n", False),
    ("a literal dollar still matches", r"^\$[0-9]+$", "$12", True),
    ("a dollar in a class is a literal", r"^[$]+$", "$$", True),
    ("a dollar in a class is no anchor", r"^a[$]", "a", False),
    ("escaped ] and $ in a class", r"^[\]$]$", "]", True),
    ("[^] takes a newline, then the end", r"^a[^]$", "a\n", True),
    ("empty class never matches", r"a[]", "a", False),
]


@pytest.mark.parametrize(("pattern", "text", "matches"), [m[1:] for m in MATCHES],
                         ids=[m[0] for m in MATCHES])
def test_translated_pattern_has_ecma_meaning(pattern: str, text: str, matches: bool) -> None:
    assert (compile_ecma(pattern).search(text) is not None) is matches
    schema = {"type": "string", "pattern": pattern}
    assert EcmaDraft202012Validator(schema).is_valid(text) is matches
    gate = compile_gate(schema)
    assert gate is not None
    assert gate(text) is matches


@pytest.mark.parametrize("pattern", ["a\\", "[a-z", "^[$"])
def test_malformed_patterns_are_refused_and_get_no_gate(pattern: str) -> None:
    with pytest.raises(UntranslatablePattern):
        ecma_to_python(pattern)
    assert compile_gate({"type": "string", "pattern": pattern}) is None


def test_pattern_properties_use_the_ecma_meaning() -> None:
    schema = {"type": "object", "patternProperties": {"^x$": {"type": "integer"}}}
    validator = EcmaDraft202012Validator(schema)
    assert not validator.is_valid({"x": "one"})
    assert validator.is_valid({"x\n": "one"})  # "x\n" is not named by `^x$`


def test_the_published_schema_keeps_its_text() -> None:
    schema = CAT.payload_schema("M05.02")
    assert schema["properties"]["waybill_no"]["pattern"] == "^[A-Z0-9]{8,32}$"


# ------------------------------------------------------------ payloads

HUB_SCAN: dict[str, Any] = {
    "waybill_no": "DB7700123456789", "carrier_code": "deppon", "hub_name": "上海虹桥分拨中心",
    "hub_admin_code": "310112", "scan_type": "arrival", "scanned_at": "2026-03-02T15:37:00+08:00",
}
DOCS_REQUIRED: dict[str, Any] = {
    "declaration_no": "223320261000123456", "submission_deadline_at": "2026-03-05T17:00:00+08:00",
    "missing_items": [{"doc_type": "commercial_invoice", "page": 3, "field": "HS code"}],
}
PROXY_SIGNED: dict[str, Any] = {
    "waybill_no": "SF1428806573291", "proxy_type": "family_member", "proxy_name_masked": "张*",
    "consent_ref": "CONSENT-1", "pod_hash": "0" * 64, "signed_at": "2026-03-04T10:48:00+08:00",
}

NEWLINE_CASES = [
    ("hub scan waybill", "M05.02", HUB_SCAN, "waybill_no", "does not match"),
    ("hub scan admin code", "M05.02", HUB_SCAN, "hub_admin_code", "does not match"),
    ("hub scan carrier code", "M05.02", HUB_SCAN, "carrier_code", "does not match"),
    ("hub scan time (format)", "M05.02", HUB_SCAN, "scanned_at", "is not a 'date-time'"),
    ("customs declaration no", "M06.02", DOCS_REQUIRED, "declaration_no", "does not match"),
    ("proxy masked name", "M08.02", PROXY_SIGNED, "proxy_name_masked", "does not match"),
    ("proof of delivery hash", "M08.02", PROXY_SIGNED, "pod_hash", "does not match"),
]


@pytest.mark.parametrize("sub_state", ["M05.02", "M06.02", "M08.02"])
def test_the_valid_payloads_still_pass(sub_state: str) -> None:
    payload = {"M05.02": HUB_SCAN, "M06.02": DOCS_REQUIRED, "M08.02": PROXY_SIGNED}[sub_state]
    MACHINE.validate_payload(sub_state, copy.deepcopy(payload))  # raises nothing


@pytest.mark.parametrize(("sub_state", "payload", "name", "message"),
                         [c[1:] for c in NEWLINE_CASES], ids=[c[0] for c in NEWLINE_CASES])
def test_a_final_newline_is_refused_naming_the_field(
    sub_state: str, payload: dict[str, Any], name: str, message: str,
) -> None:
    bad = {**copy.deepcopy(payload), name: payload[name] + "\n"}
    assert compile_gate(CAT.payload_schema(sub_state)) is not None
    assert not MACHINE._gate(sub_state)(bad)  # the gate asks the reference
    with pytest.raises(PayloadInvalid) as caught:
        MACHINE.validate_payload(sub_state, bad)
    field = f"payload.{name}"
    assert [path for path, _ in caught.value.errors] == [field]
    assert message in caught.value.errors[0][1]
    assert str(caught.value).startswith(f"payload for {sub_state} is invalid: {field}: ")


def test_common_payload_fields_refuse_a_final_newline() -> None:
    bad = {**HUB_SCAN, "reason_code": "weather_delay\n"}
    with pytest.raises(PayloadInvalid) as caught:
        MACHINE.validate_payload("M05.02", bad)
    assert caught.value.field == "payload.reason_code"


@pytest.mark.parametrize("text", ["2026-03-02T15:37:00+08:00\n", "2026-03-02T07:37:00Z\n"])
def test_date_time_format_refuses_a_final_newline(text: str) -> None:
    assert is_rfc3339_datetime(text.rstrip("\n"))
    assert not is_rfc3339_datetime(text)


def test_data_element_name_refuses_a_final_newline() -> None:
    assert parse_data_element_name("Parcel.Waybill.Identifier") == (
        "Parcel", "Waybill", "Identifier")
    with pytest.raises(ValueError, match="not ObjectClass"):
        parse_data_element_name("Parcel.Waybill.Identifier\n")
