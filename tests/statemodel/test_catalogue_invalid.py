"""One broken catalogue per validation rule: each must fail with a precise message."""

from __future__ import annotations

import copy
import datetime
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from statemodel.catalogue import catalogue_from_document, load_catalogue, meta_schema
from statemodel.errors import CatalogueInvalid

Doc = dict[str, Any]


def _sub(doc: Doc, code: str) -> Doc:
    return next(s for s in doc["sub_states"] if s["code"] == code)


def _props(doc: Doc, code: str) -> Doc:
    props: Doc = _sub(doc, code)["payload"]["properties"]
    return props


def _transition(doc: Doc, event: str) -> Doc:
    return next(t for t in doc["transitions"] if t["event"] == event)


def _timer(doc: Doc, code: str, name: str) -> Doc:
    return next(t for t in _sub(doc, code)["timers"] if t["name"] == name)


def _extra_sub_state(doc: Doc) -> None:
    """A new non-final sub-state with a way out but no way in."""
    orphan = copy.deepcopy(_sub(doc, "M12.03"))
    orphan.update(code="M12.04", final=False)
    doc["sub_states"].append(orphan)
    doc["events"].append({"name": "orphan_closed", "description_zh": "孤立", "description_en": "x"})
    doc["transitions"].append({"event": "orphan_closed", "from": ["M12.04"], "to": "M12.03"})


def _remove_wildcard_and_archive_of_cancelled(doc: Doc) -> None:
    doc["transitions"] = [t for t in doc["transitions"] if t["event"] != "order_voided"]
    doc["events"] = [e for e in doc["events"] if e["name"] != "order_voided"]
    _transition(doc, "order_archived")["from"] = ["M12.02"]


def _drop_creation_of(code: str) -> Callable[[Doc], None]:
    def mutate(doc: Doc) -> None:
        doc["creations"] = [c for c in doc["creations"] if c["to"] != code]
        doc["events"] = [e for e in doc["events"] if e["name"] != "cod_order_placed"]
    return mutate


def _do(*steps: Callable[[Doc], Any]) -> Callable[[Doc], None]:
    def mutate(doc: Doc) -> None:
        for step in steps:
            step(doc)
    return mutate


# (case name, mutation, fragment the error message must contain)
BROKEN: list[tuple[str, Callable[[Doc], Any], str]] = [
    # not plain JSON / meta-schema
    ("yaml date object", lambda d: d.update(effective_from=datetime.date(2026, 3, 1)),
     "$.effective_from: date is not a JSON value (quote dates"),
    ("missing top-level field", lambda d: d.pop("format"), "'format' is a required property"),
    ("wrong format name", lambda d: d.update(format="orderledger.catalogue.v2"),
     "meta-schema at $.format"),
    ("unknown top-level field", lambda d: d.update(colour="blue"), "'colour' was unexpected"),
    ("initial not a bool", lambda d: _sub(d, "M01.01").update(initial="yes"),
     "$.sub_states[0].initial"),
    ("bad sub-state code", lambda d: _sub(d, "M01.01").update(code="M1.1"),
     "$.sub_states[0].code"),
    ("from neither list nor star", lambda d: _transition(d, "order_voided").update(frm=1),
     "'frm' was unexpected"),
    ("from is 'all'", lambda d: _transition(d, "order_voided").update({"from": "all"}),
     "$.transitions[49].from"),
    ("payload not closed", lambda d: _sub(d, "M01.01")["payload"].update(
        additionalProperties=True), "$.sub_states[0].payload.additionalProperties"),
    ("payload without required fields", lambda d: _sub(d, "M01.01")["payload"].update(
        required=[]), "$.sub_states[0].payload.required"),
    ("effective_from without offset", lambda d: d.update(effective_from="2026-03-01T00:00:00"),
     "$.effective_from"),
    # uniqueness and references
    ("duplicate sub-state code", lambda d: _sub(d, "M01.02").update(code="M01.01"),
     "$.sub_states: duplicate code(s) M01.01"),
    ("duplicate event", lambda d: d["events"].append(copy.deepcopy(d["events"][0])),
     "$.events: duplicate code(s) order_placed"),
    ("duplicate timer name", lambda d: _sub(d, "M02.01")["timers"][1].update(
        name="audit_decision"), "duplicate timer name(s) ['audit_decision']"),
    ("unknown main state", lambda d: _sub(d, "M01.01").update(main="M13"),
     "(M01.01).main: unknown main state 'M13'"),
    ("code outside its main", lambda d: _sub(d, "M01.02").update(main="M02"),
     "'M01.02' does not belong to main state 'M02'"),
    ("unknown responsible party", lambda d: _sub(d, "M01.01").update(responsible=["COURIER"]),
     "unknown party 'COURIER'"),
    ("main state without sub-states", lambda d: d["main_states"].append(
        dict(d["main_states"][0], code="M13")), "without sub-states: ['M13']"),
    # creations
    ("creation of unknown event", lambda d: d["creations"][0].update(event="order_made"),
     "$.creations[0].event: unknown event 'order_made'"),
    ("creation into non-initial", lambda d: d["creations"][0].update(to="M02.02"),
     "$.creations[0].to: M02.02 is not an initial sub-state"),
    ("creation event twice", lambda d: d["creations"][1].update(event="order_placed"),
     "creation event 'order_placed' already leads to M01.01"),
    ("initial without creation", _drop_creation_of("M02.01"),
     "(M02.01): initial sub-state has no creation"),
    # transitions
    ("transition of unknown event", lambda d: _transition(d, "hub_scan").update(event="scan"),
     "unknown event 'scan'"),
    ("transition from unknown state", lambda d: _transition(d, "hub_scan")["from"].append(
        "M05.09"), "unknown sub-state 'M05.09'"),
    ("transition to unknown state", lambda d: _transition(d, "hub_scan").update(to="M05.09"),
     "unknown sub-state 'M05.09'"),
    ("nondeterministic", lambda d: d["transitions"].append(
        {"event": "hub_scan", "from": ["M05.01"], "to": "M05.03"}),
     "event 'hub_scan' from M05.01 is ambiguous: it already leads to M05.02"),
    ("wildcard plus explicit", lambda d: d["transitions"].append(
        {"event": "order_voided", "from": ["M05.01"], "to": "M12.01"}),
     "event 'order_voided' from M05.01 is ambiguous"),
    ("final with outgoing", lambda d: _transition(d, "order_archived")["from"].append("M12.03"),
     "M12.03 is final and cannot be left"),
    ("event never used", lambda d: d["events"].append(
        {"name": "teleported", "description_zh": "瞬移", "description_en": "Teleported"}),
     "declared but never used: teleported"),
    ("non-final dead end", _remove_wildcard_and_archive_of_cancelled,
     "(M12.01): non-final sub-state has no outgoing transition"),
    ("unreachable", _extra_sub_state, "(M12.04): not reachable from any initial sub-state"),
    # payload schemas
    ("invalid payload schema", lambda d: _props(d, "M01.01")["amount_due"].update(type="money"),
     "(M01.01).payload.properties.amount_due.type: not a valid draft 2020-12 schema"),
    ("invalid common schema", lambda d: d["common_payload"]["note"].update(maxLength=-1),
     "$.common_payload.note.maxLength: not a valid draft 2020-12 schema"),
    ("required field undeclared", lambda d: _sub(d, "M01.01")["payload"]["required"].append(
        "coupon"), "['coupon'] not declared in its properties"),
    ("clash with common payload", lambda d: _props(d, "M01.01").update(
        note={"type": "string", "x-data-element": "StatusEvent.Note.Text"}),
     "['note'] already declared in common_payload"),
    ("unchecked format", lambda d: _props(d, "M01.01").update(
        email={"type": "string", "format": "email", "x-data-element": "Buyer.Email.Text"}),
     "format 'email' is not checked"),
    ("external reference", lambda d: _props(d, "M01.01").update(
        ext={"$ref": "https://example.com/x.json", "x-data-element": "Order.External.Text"}),
     "payload schemas must be self-contained ($ref)"),
    # data elements
    ("nested property without data element", lambda d: _props(d, "M06.02")["missing_items"][
        "items"]["properties"]["doc_type"].pop("x-data-element"),
     "(M06.02).payload.missing_items[].doc_type: property has no x-data-element"),
    ("data element not three parts", lambda d: _props(d, "M01.01")["amount_due"].update(
        {"x-data-element": "Order.Amount"}), "is not ObjectClass.Property.RepresentationTerm"),
    ("data element lower case", lambda d: _props(d, "M01.01")["amount_due"].update(
        {"x-data-element": "order.AmountDue.Amount"}), "UpperCamelCase"),
    ("unknown representation term", lambda d: _props(d, "M01.01")["amount_due"].update(
        {"x-data-element": "Order.AmountDue.Money"}), "ends in 'Money', not a representation"),
    ("one element two value domains", lambda d: _props(d, "M05.01")["carrier_code"].update(
        pattern="^[A-Z]+$"), "data element Shipment.Carrier.Code is used with a different"),
    # timers
    ("unparseable timer rule", lambda d: _timer(d, "M09.02", "expected_recovery").update(
        deadline="payload.expected_recovery_at + 2 hours"), "timers[0]: deadline rule"),
    ("timer on unknown field", lambda d: _timer(d, "M01.01", "payment_deadline").update(
        deadline="payload.pay_by"), "payload.pay_by is not a field of M01.01"),
    ("timer on non-time field", lambda d: _timer(d, "M01.01", "payment_deadline").update(
        deadline="payload.amount_due + 1h"), "payload.amount_due is not a date-time field"),
    ("bad warning duration", lambda d: _timer(d, "M01.01", "payment_deadline").update(
        warn_before=["0m"]), "bad duration '0m': must be greater than zero"),
    ("disarm on unknown event", lambda d: _timer(d, "M05.02", "no_scan").update(
        disarm_on=["rescanned"]), "disarm_on: unknown event 'rescanned'"),
    ("disarm on a leaving event", lambda d: _timer(d, "M05.02", "no_scan").update(
        disarm_on=["station_arrived"]), "'station_arrived' does not lead from M05.02 back"),
]


@pytest.mark.parametrize(("mutate", "message"), [(m, msg) for _, m, msg in BROKEN],
                         ids=[name for name, _, _ in BROKEN])
def test_broken_catalogue_is_refused(mutate: Callable[[Doc], Any], message: str) -> None:
    doc = load_catalogue().document
    mutate(doc)
    with pytest.raises(CatalogueInvalid) as caught:
        catalogue_from_document(doc)
    assert message in str(caught.value)


def test_every_broken_case_starts_from_a_valid_catalogue() -> None:
    catalogue_from_document(load_catalogue().document)  # the baseline raises nothing


def test_meta_schema_is_a_valid_draft_2020_12_schema() -> None:
    Draft202012Validator.check_schema(dict(meta_schema()))


def test_input_document_is_not_changed() -> None:
    doc = load_catalogue().document
    before = json.dumps(doc, sort_keys=True)
    catalogue_from_document(doc)
    assert json.dumps(doc, sort_keys=True) == before


FILE_CASES = [
    ("duplicate yaml key", "format: a\nformat: b\n", "found duplicate key 'format'"),
    ("not yaml", "format: [unclosed\n", "is not valid YAML"),
    ("not a mapping", "- just\n- a list\n", "fails its meta-schema at $"),
]


@pytest.mark.parametrize(("text", "message"), [c[1:] for c in FILE_CASES],
                         ids=[c[0] for c in FILE_CASES])
def test_bad_catalogue_file(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "catalogue.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CatalogueInvalid) as caught:
        load_catalogue(path)
    assert message in str(caught.value)


def test_missing_catalogue_file(tmp_path: Path) -> None:
    with pytest.raises(CatalogueInvalid, match="cannot read catalogue"):
        load_catalogue(tmp_path / "absent.yaml")


def test_yaml_merge_key_may_be_overridden(tmp_path: Path) -> None:
    """`<<: *anchor` followed by an explicit key is an override, not a duplicate key."""
    path = tmp_path / "merge.yaml"
    path.write_text("x-base: &base {a: 1}\nx-use:\n  <<: *base\n  a: 2\n", encoding="utf-8")
    with pytest.raises(CatalogueInvalid) as caught:
        load_catalogue(path)
    assert "meta-schema" in str(caught.value)  # parsed fine, then refused for its content
