"""Broken registry documents are rejected, each with a message naming the item and rule."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from statemodel.registry import RegistryInvalid, parse_registry, parse_registry_yaml
from tests.registry.fixtures import mini_document

Doc = dict[str, Any]


def _de(doc: Doc, index: int = 0) -> Doc:
    entry: Doc = doc["data_elements"][index]
    return entry


def _vd(doc: Doc, index: int = 0) -> Doc:
    entry: Doc = doc["value_domains"][index]
    return entry


def _supersede_de(doc: Doc, **link: Any) -> Doc:
    _de(doc).update(status="Superseded", effective_until="2026-03-01",
                    superseded_by={"item": "OL-DE-000001@2", "date": "2026-03-01", **link})
    return doc


def _add_de_v2(doc: Doc, **changes: Any) -> Doc:
    successor = {**_de(doc), "version": "2", "status": "Recorded", "effective_from": "2026-03-01",
                 "effective_until": None, "superseded_by": None}
    doc["data_elements"].append({**successor, **changes})
    return doc


@dataclass(frozen=True)
class Broken:
    name: str
    breaks: Callable[[Doc], object]
    message: str


CASES = [
    Broken("wrong format", lambda d: d.update(format="v0"),
           "format: must be 'orderledger.registry.v1', got 'v0'"),
    Broken("unknown section", lambda d: d.update(extras=[]), "unknown section(s) extras"),
    Broken("missing definition", lambda d: _de(d).pop("definition"),
           "data_elements[0] OL-DE-000001: missing required field 'definition'"),
    Broken("unknown field", lambda d: _de(d).update(colour="red"),
           "data_elements[0] OL-DE-000001: unknown field(s) colour"),
    Broken("bad date", lambda d: _de(d).update(effective_until="soon"),
           "'effective_until' must be a date YYYY-MM-DD, got 'soon'"),
    Broken("bad status", lambda d: _de(d).update(status="Approved"),
           "unknown registration status 'Approved'"),
    Broken("reference without version", lambda d: _de(d).update(value_domain="OL-VD-000001"),
           "'value_domain': 'OL-VD-000001' is not a reference"),
    Broken("duplicate id and version", lambda d: _de(d, 1).update(id="OL-DE-000001"),
           "duplicate identifier and version OL-DE-000001@1"),
    Broken("id prefix of another type", lambda d: _de(d).update(id="OL-VD-000009"),
           "data_elements OL-VD-000009@1 StatusEvent.SubState.Code: identifier must look "
           "like OL-DE-000001"),
    Broken("dangling value domain", lambda d: _de(d).update(value_domain="OL-VD-000099@1"),
           "value_domain OL-VD-000099@1 does not resolve"),
    Broken("reference of the wrong type", lambda d: _de(d).update(value_domain="OL-CD-000001@1"),
           "value_domain OL-CD-000001@1 is a conceptual_domain, not a ValueDomain"),
    Broken("unknown steward", lambda d: _de(d).update(steward="OL-ORG-000009"),
           "steward OL-ORG-000009 is not a registered organisation"),
    Broken("unknown authority", lambda d: _de(d).update(registration_authority="OL-RA-000002"),
           "registration authority OL-RA-000002 is not registered"),
    Broken("until before from", lambda d: _de(d).update(effective_until="2025-12-31"),
           "effective_until 2025-12-31 must be after effective_from 2026-01-01"),
    Broken("superseded without link", lambda d: _de(d).update(status="Superseded"),
           "StatusEvent.SubState.Code: status Superseded requires a superseded_by link"),
    Broken("link without superseded status",
           lambda d: (_supersede_de(d), _add_de_v2(d), _de(d).update(status="Recorded")),
           "has a superseded_by link but status Recorded, not Superseded"),
    Broken("superseded by nothing", _supersede_de,
           "superseded_by OL-DE-000001@2 does not resolve"),
    Broken("superseded by itself",
           lambda d: _supersede_de(d, item="OL-DE-000001@1"), "cannot supersede itself"),
    Broken("superseded by another type",
           lambda d: _supersede_de(d, item="OL-VD-000001@1"),
           "superseded_by OL-VD-000001@1 is a value_domain, not a data_element"),
    Broken("successor not yet in effect",
           lambda d: (_supersede_de(d), _add_de_v2(d, effective_from="2026-04-01")),
           "superseded_by OL-DE-000001@2 only takes effect on 2026-04-01"),
    Broken("until differs from supersession date",
           lambda d: (_supersede_de(d), _add_de_v2(d), _de(d).update(effective_until="2026-05-01")),
           "effective_until must equal the supersession date 2026-03-01"),
    Broken("retired without until", lambda d: _de(d).update(status="Retired"),
           "status Retired requires effective_until"),
    Broken("current element on a retired value domain",
           lambda d: _vd(d).update(status="Retired", effective_until="2026-02-01"),
           "value_domain OL-VD-000001@1 is Retired; a current item may not use it"),
    Broken("standard element on a recorded value domain",
           lambda d: (_de(d).update(status="Standard"),
                      d["data_element_concepts"][0].update(status="Standard")),
           "status Standard is above the status Recorded of its value_domain OL-VD-000001@1"),
    Broken("two current elements with one name",
           lambda d: _de(d, 1).update(name="StatusEvent.SubState.Code",
                                      data_element_concept="OL-DEC-000001@1",
                                      value_domain="OL-VD-000001@1"),
           "data_elements: 2 current items are named 'StatusEvent.SubState.Code'"),
    Broken("object class not upper camel case",
           lambda d: d["object_classes"][0].update(name="status_event"),
           "name 'status_event' must be UpperCamelCase"),
    Broken("concept name not class.property",
           lambda d: d["data_element_concepts"][0].update(name="StatusEvent.State"),
           "name must be 'StatusEvent.SubState' (object class . property), got "
           "'StatusEvent.State'"),
    Broken("element name not its concept's",
           lambda d: _de(d).update(name="Order.SubState.Code"),
           "name must be its concept's name 'StatusEvent.SubState' plus a representation term"),
    Broken("unknown representation term",
           lambda d: _de(d).update(name="StatusEvent.SubState.Kode"),
           "representation term 'Kode' is not one of Code, Identifier"),
    Broken("term inconsistent with value domain type",
           lambda d: _de(d, 1).update(name="StatusEvent.Occurrence.Date"),
           "representation term 'Date' needs a value domain of type date, but OL-VD-000002@1 "
           "is 'date-time'"),
    Broken("amount without currency",
           lambda d: (_vd(d, 1).update(data_type="decimal"),
                      _de(d, 1).update(name="StatusEvent.Occurrence.Amount")),
           "representation term 'Amount' needs a unit of measure on OL-VD-000002@1"),
    Broken("value domain of another conceptual domain",
           lambda d: _de(d, 1).update(value_domain="OL-VD-000001@1",
                                      name="StatusEvent.Occurrence.Code"),
           "value domain OL-VD-000001@1 represents OL-CD-000001@1, but its concept "
           "OL-DEC-000002@1 has conceptual domain OL-CD-000002@1"),
    Broken("unknown data type", lambda d: _vd(d, 1).update(data_type="timestamp"),
           "data_type 'timestamp' is not one of"),
    Broken("permissible values on a non-code type",
           lambda d: _vd(d, 1).update(permissible_values=[{"value": "x", "meaning": "Paid"}]),
           "permissible values need data_type 'code', not 'date-time'"),
    Broken("duplicate permissible value",
           lambda d: _vd(d)["permissible_values"].append({"value": "M01.01", "meaning": "Paid"}),
           "permissible value 'M01.01' appears twice in overlapping periods"),
    Broken("permissible value ends before it begins",
           lambda d: _vd(d)["permissible_values"][0].update(end_date="2025-01-01"),
           "permissible value 'M01.01': end_date 2025-01-01 must be after begin_date 2026-01-01"),
    Broken("permissible value longer than max length",
           lambda d: _vd(d)["permissible_values"][0].update(value="M01.01.X"),
           "permissible value 'M01.01.X' is longer than max_length 6"),
    Broken("permissible value meaning not in the conceptual domain",
           lambda d: _vd(d)["permissible_values"][0].update(meaning="Shipped"),
           "permissible value 'M01.01' means 'Shipped', which is not a value meaning of "
           "OL-CD-000001@1"),
    Broken("no registration authority", lambda d: d.update(registration_authorities=[]),
           "at least one registration authority is required"),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_broken_document_is_rejected_precisely(case: Broken) -> None:
    document = mini_document()
    parse_registry(mini_document())  # the unbroken fixture is valid
    case.breaks(document)
    with pytest.raises(RegistryInvalid) as caught:
        parse_registry(document)
    assert any(case.message in problem for problem in caught.value.problems), (
        caught.value.problems
    )


def test_valid_supersession_chain_is_accepted() -> None:
    document = mini_document()
    _supersede_de(document)
    _add_de_v2(document, change_description="Meaning of M01.02 narrowed.")
    registry = parse_registry(document)
    assert registry.data_element("StatusEvent.SubState.Code").version == "2"


def test_supersession_loop_is_rejected() -> None:
    document = mini_document()
    _supersede_de(document)
    _add_de_v2(document, status="Superseded", effective_until="2026-03-01",
               superseded_by={"item": "OL-DE-000001@1", "date": "2026-03-01"})
    with pytest.raises(RegistryInvalid, match="supersession chain loops back"):
        parse_registry(document)


def test_every_problem_is_reported_not_only_the_first() -> None:
    document = mini_document()
    _de(document).update(value_domain="OL-VD-000099@1")
    _de(document, 1).update(steward="OL-ORG-000009")
    with pytest.raises(RegistryInvalid) as caught:
        parse_registry(document)
    assert len(caught.value.problems) == 2


def test_malformed_yaml_is_rejected() -> None:
    with pytest.raises(RegistryInvalid, match="document: not YAML"):
        parse_registry_yaml("format: [unclosed")
