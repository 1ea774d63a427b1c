"""The packaged registry against the packaged state catalogue."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from statemodel.catalogue import load_catalogue
from statemodel.registry import (
    REPRESENTATION_TERMS,
    CatalogueNotCovered,
    DataElementConcept,
    ObjectClass,
    Property,
    Registry,
    ValueDomain,
    catalogue_coverage_problems,
    check_catalogue_coverage,
    export_csv,
    export_json,
    import_csv,
    import_json,
    load_registry,
    payload_fields,
)

# DOMAIN.md §5 core envelope, in registered 11179-5 form (see docs/registry.md).
ENVELOPE = [
    "StatusEvent.Event.Identifier",
    "StatusEvent.Occurrence.DateTime",
    "StatusEvent.MainState.Code",
    "StatusEvent.SubState.Code",
    "StatusEvent.Reason.Code",
    "StatusEvent.ResponsibleParty.Code",
    "StatusEvent.Action.Code",
    "StatusEvent.Due.DateTime",
    "Location.AdminDivision.Code",
    "StatusEvent.SourceSystem.Code",
    "StatusEvent.SourceRaw.Code",
    "StatusEvent.MappingVersion.Identifier",
    "StatusEvent.Payload.Hash",
    "StatusEvent.PreviousEvent.Hash",
]


@pytest.fixture(scope="module")
def registry() -> Registry:
    return load_registry()


@pytest.fixture
def catalogue() -> dict[str, Any]:
    """A private deep copy, so a test may doctor it."""
    return copy.deepcopy(dict(load_catalogue().document))


def test_registry_loads_once(registry: Registry) -> None:
    assert load_registry() is registry


def test_every_catalogue_field_has_a_registered_element(
    registry: Registry, catalogue: dict[str, Any]
) -> None:
    fields = list(payload_fields(catalogue))
    assert len(fields) > 41  # every sub-state has actionable fields
    assert {f.owner for f in fields} >= {s["code"] for s in catalogue["sub_states"]} - {
        s["code"] for s in catalogue["sub_states"] if not s["payload"].get("properties")}
    assert catalogue_coverage_problems(registry, catalogue) == []


def _first_nested(catalogue: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    for sub_state in catalogue["sub_states"]:
        for field in payload_fields({"sub_states": [sub_state]}):
            if "." in field.path:
                return field.owner, field.path, dict(field.schema)
    raise AssertionError("the catalogue has no nested payload field")


def test_doctored_nested_field_without_element_fails(
    registry: Registry, catalogue: dict[str, Any]
) -> None:
    owner, path, _ = _first_nested(catalogue)
    sub_state = next(s for s in catalogue["sub_states"] if s["code"] == owner)
    node = sub_state["payload"]
    for step in path.split("."):
        while "items" in node:
            node = node["items"]
        node = node["properties"][step.removesuffix("[]")]
    del node["x-data-element"]
    with pytest.raises(CatalogueNotCovered) as caught:
        check_catalogue_coverage(registry, catalogue)
    assert caught.value.problems == (f"{owner} {path}: has no x-data-element",)


def test_doctored_field_with_an_unregistered_element_fails(
    registry: Registry, catalogue: dict[str, Any]
) -> None:
    first = catalogue["sub_states"][0]
    first["payload"].setdefault("properties", {})["smuggled"] = {
        "type": "string", "x-data-element": "StatusEvent.Smuggled.Text"}
    common_name = next(iter(catalogue["common_payload"]))
    del catalogue["common_payload"][common_name]["x-data-element"]
    problems = catalogue_coverage_problems(registry, catalogue)
    assert problems == [
        f"common_payload {common_name}: has no x-data-element",
        f"{first['code']} smuggled: data element 'StatusEvent.Smuggled.Text' is not registered "
        "(or not current)",
    ]


def test_every_field_looks_up_its_element(registry: Registry, catalogue: dict[str, Any]) -> None:
    for sub_state in catalogue["sub_states"]:
        for field in payload_fields({"sub_states": [sub_state]}):
            found = registry.lookup_field(sub_state["code"], field.path)
            assert found.name == field.data_element, (sub_state["code"], field.path)
    common = next(payload_fields({"common_payload": catalogue["common_payload"]}))
    code = catalogue["sub_states"][0]["code"]
    assert registry.lookup_field(code, common.path).name == common.data_element


def _codes(registry: Registry, element: str) -> set[str]:
    domain = registry.value_domain_of(registry.data_element(element))
    return {pv.value for pv in domain.permissible_values}


def test_code_domains_equal_the_catalogues_codes(
    registry: Registry, catalogue: dict[str, Any]
) -> None:
    sub_states = {s["code"] for s in catalogue["sub_states"]}
    assert len(sub_states) == 41
    assert _codes(registry, "StatusEvent.SubState.Code") == sub_states
    assert _codes(registry, "StatusEvent.MainState.Code") == {
        m["code"] for m in catalogue["main_states"]}
    assert _codes(registry, "StatusEvent.ResponsibleParty.Code") == {
        p["code"] for p in catalogue["responsible_parties"]}


@pytest.mark.parametrize("name", ENVELOPE)
def test_core_envelope_elements_are_registered(registry: Registry, name: str) -> None:
    assert registry.data_element(name).status.is_current


def test_every_name_is_class_property_term_of_registered_parts(registry: Registry) -> None:
    for element in registry.data_elements:
        object_class, prop, term = element.name.split(".")
        concept = registry.typed_item(element.data_element_concept, DataElementConcept)
        assert registry.typed_item(concept.object_class, ObjectClass).name == object_class
        assert registry.typed_item(concept.property, Property).name == prop
        domain = registry.typed_item(element.value_domain, ValueDomain)
        assert domain.data_type in REPRESENTATION_TERMS[term], element.name


def test_packaged_registry_round_trips(registry: Registry) -> None:
    assert import_json(export_json(registry)) == registry
    assert import_csv(export_csv(registry)) == registry
