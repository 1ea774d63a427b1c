"""Walking payload schemas, coverage checking and field lookup, on a small catalogue."""

from __future__ import annotations

from typing import Any

import pytest

from statemodel.errors import UnknownState
from statemodel.registry import (
    CatalogueNotCovered,
    UnknownDataElement,
    UnknownField,
    catalogue_coverage_problems,
    check_catalogue_coverage,
    field_data_element_name,
    parse_registry,
    payload_fields,
)
from tests.registry.fixtures import mini_catalogue, mini_document


def test_walk_reaches_common_nested_and_array_item_fields() -> None:
    found = [(f.owner, f.path, f.data_element) for f in payload_fields(mini_catalogue())]
    assert found == [
        ("common_payload", "occurred_at", "StatusEvent.Occurrence.DateTime"),
        ("M01.01", "history", "StatusEvent.SubState.Code"),
        ("M01.02", "steps", "StatusEvent.Occurrence.DateTime"),
        ("M01.02", "steps[].at", "StatusEvent.Occurrence.DateTime"),
    ]


def test_common_payload_may_be_a_whole_schema() -> None:
    catalogue = mini_catalogue()
    catalogue["common_payload"] = {"type": "object", "properties": catalogue["common_payload"]}
    assert next(f.path for f in payload_fields(catalogue)) == "occurred_at"


def test_fully_labelled_catalogue_is_covered() -> None:
    registry = parse_registry(mini_document())
    assert catalogue_coverage_problems(registry, mini_catalogue()) == []
    check_catalogue_coverage(registry, mini_catalogue())


def _nested_at(doc: dict[str, Any]) -> dict[str, Any]:
    at: dict[str, Any] = doc["sub_states"][1]["payload"]["properties"]["steps"]["items"][
        "properties"]["at"]
    return at


@pytest.mark.parametrize(
    ("name", "doctor", "message"),
    [
        ("nested field without element", lambda d: _nested_at(d).pop("x-data-element"),
         "M01.02 steps[].at: has no x-data-element"),
        ("common field without element",
         lambda d: d["common_payload"]["occurred_at"].pop("x-data-element"),
         "common_payload occurred_at: has no x-data-element"),
        ("new field nobody registered",
         lambda d: d["sub_states"][0]["payload"]["properties"].update(
             note={"type": "string", "x-data-element": "StatusEvent.Note.Text"}),
         "M01.01 note: data element 'StatusEvent.Note.Text' is not registered"),
        ("enum value outside the value domain",
         lambda d: d["sub_states"][0]["payload"]["properties"]["history"]["items"].update(
             enum=["M01.01", "M99.99"]),
         "values M99.99 are not permissible values of OL-VD-000001@1"),
        ("json type the value domain cannot carry",
         lambda d: _nested_at(d).update(type="boolean", format=None),
         "cannot carry JSON 'boolean'"),
    ],
)
def test_doctored_catalogue_fails_coverage(name: str, doctor: Any, message: str) -> None:
    registry = parse_registry(mini_document())
    catalogue = mini_catalogue()
    doctor(catalogue)
    with pytest.raises(CatalogueNotCovered) as caught:
        check_catalogue_coverage(registry, catalogue)
    assert any(message in problem for problem in caught.value.problems), caught.value.problems


def test_candidate_elements_may_not_label_catalogue_fields() -> None:
    document = mini_document()
    document["data_elements"][1]["status"] = "Candidate"
    problems = catalogue_coverage_problems(parse_registry(document), mini_catalogue())
    assert "common_payload occurred_at: data element StatusEvent.Occurrence.DateTime is only " \
        "Candidate" in problems


@pytest.mark.parametrize(
    ("sub_state", "path", "element"),
    [
        ("M01.01", "history", "StatusEvent.SubState.Code"),
        ("M01.02", "steps.at", "StatusEvent.Occurrence.DateTime"),
        ("M01.02", "steps[].at", "StatusEvent.Occurrence.DateTime"),
        ("M01.02", "steps.3.at", "StatusEvent.Occurrence.DateTime"),
        ("M01.01", "occurred_at", "StatusEvent.Occurrence.DateTime"),  # common payload
    ],
)
def test_field_names_resolve(sub_state: str, path: str, element: str) -> None:
    assert field_data_element_name(sub_state, path, mini_catalogue()) == element


def test_field_lookup_failures_are_typed() -> None:
    catalogue = mini_catalogue()
    with pytest.raises(UnknownState):
        field_data_element_name("M77.01", "history", catalogue)
    with pytest.raises(UnknownField) as caught:
        field_data_element_name("M01.01", "history.nope", catalogue)
    assert caught.value.field == "history.nope"
    _nested_at(catalogue).pop("x-data-element")
    with pytest.raises(UnknownDataElement, match=r"M01\.02 steps\.at has no x-data-element"):
        field_data_element_name("M01.02", "steps.at", catalogue)


def test_combinator_branches_add_fields_but_do_not_redeclare_them() -> None:
    catalogue = mini_catalogue()
    payload = catalogue["sub_states"][0]["payload"]
    payload["allOf"] = [
        {"properties": {"history": {"minItems": 1}}},  # a constraint, not a new field
        {"properties": {"extra": {"type": "string"}}},  # a new field, unlabelled
    ]
    payload["if"] = {"properties": {"history": {"maxItems": 3}}}
    found = [f.path for f in payload_fields(catalogue) if f.owner == "M01.01"]
    assert found == ["history", "extra"]
    problems = catalogue_coverage_problems(parse_registry(mini_document()), catalogue)
    assert problems == ["M01.01 extra: has no x-data-element"]


def test_registry_lookup_field_returns_the_element() -> None:
    registry = parse_registry(mini_document())
    element = registry.lookup_field("M01.02", "steps[].at", mini_catalogue())
    assert element.name == "StatusEvent.Occurrence.DateTime"
    assert element.definition == "When the status event happened, per its source."
