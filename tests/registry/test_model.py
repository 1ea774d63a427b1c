"""Registration status order, references and the valid mini registry."""

from __future__ import annotations

from datetime import date

import pytest

from statemodel.registry import (
    DataElement,
    ItemRef,
    RegistrationStatus,
    UnknownDataElement,
    parse_registry,
    parse_registry_yaml,
)
from tests.registry.fixtures import MINI_YAML, mini_document

STATUS_ORDER = [
    "Not Progressed", "Incomplete", "Candidate", "Recorded", "Qualified", "Standard",
    "Preferred Standard", "Superseded", "Retired",
]


def test_statuses_compare_in_the_standards_order() -> None:
    statuses = [RegistrationStatus.from_label(label) for label in STATUS_ORDER]
    assert statuses == sorted(statuses)
    assert [s.label for s in statuses] == STATUS_ORDER
    assert RegistrationStatus.CANDIDATE < RegistrationStatus.STANDARD
    assert RegistrationStatus.PREFERRED_STANDARD > RegistrationStatus.QUALIFIED


@pytest.mark.parametrize("label", ["preferred standard", " Preferred Standard ", "RETIRED"])
def test_status_labels_are_case_and_space_tolerant(label: str) -> None:
    assert RegistrationStatus.from_label(label).label == label.strip().title()


def test_unknown_status_label_names_the_choices() -> None:
    with pytest.raises(ValueError, match=r"unknown registration status 'Approved' \(one of"):
        RegistrationStatus.from_label("Approved")


@pytest.mark.parametrize(
    ("status", "current"),
    [(RegistrationStatus.STANDARD, True), (RegistrationStatus.SUPERSEDED, False),
     (RegistrationStatus.RETIRED, False), (RegistrationStatus.INCOMPLETE, True)],
)
def test_superseded_and_retired_are_not_current(status: RegistrationStatus, current: bool) -> None:
    assert status.is_current is current


@pytest.mark.parametrize(
    ("text", "ok"),
    [("OL-DE-000123@1", True), ("OL-DE-000123@2.1", True), ("OL-DE-000123", False),
     ("OL-DE-123@1", False), ("OL-DE-000123@v1", False)],
)
def test_item_references_are_id_at_version(text: str, ok: bool) -> None:
    if ok:
        assert str(ItemRef.parse(text)) == text
    else:
        with pytest.raises(ValueError, match="is not a reference"):
            ItemRef.parse(text)


def test_yaml_defaults_fill_the_administration_record() -> None:
    registry = parse_registry_yaml(MINI_YAML)
    element = registry.data_element("StatusEvent.SubState.Code")
    assert element.ref == ItemRef("OL-DE-000001", "1")
    assert element.status is RegistrationStatus.RECORDED
    assert element.effective_from == date(2026, 1, 1)
    assert element.steward == "OL-ORG-000001"
    assert registry.object_classes[0].definition_zh == "订单状态事件"
    domain = registry.value_domain_of(element)
    assert domain.values_on(date(2026, 6, 1)) == {"M01.01", "M01.02"}
    assert domain.permissible_values[0].begin_date == date(2026, 1, 1)


def test_data_element_lookup_skips_superseded_versions() -> None:
    document = mini_document()
    old = document["data_elements"][1]
    new = {**old, "version": "2", "effective_from": "2026-03-01",
           "change_description": "Definition clarified."}
    old.update(status="Superseded", effective_until="2026-03-01",
               superseded_by={"item": "OL-DE-000002@2", "date": "2026-03-01"})
    document["data_elements"].append(new)
    registry = parse_registry(document)
    found = registry.data_element("StatusEvent.Occurrence.DateTime")
    assert isinstance(found, DataElement)
    assert found.version == "2"
    assert registry.item("OL-DE-000002@1").status is RegistrationStatus.SUPERSEDED


def test_unknown_data_element_is_a_lookup_error() -> None:
    registry = parse_registry(mini_document())
    with pytest.raises(UnknownDataElement, match=r"'StatusEvent\.Nothing\.Code'"):
        registry.data_element("StatusEvent.Nothing.Code")
