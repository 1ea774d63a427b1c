"""JSON and CSV exports read back into an equal registry; bad imports are refused."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from statemodel.registry import (
    CSV_COLUMNS,
    Registry,
    RegistryInvalid,
    export_csv,
    export_json,
    import_csv,
    import_json,
    parse_registry,
)
from tests.registry.fixtures import mini_document


def _superseding_registry() -> Registry:
    """The mini registry plus a superseded element, a zh definition and an ended value."""
    document = mini_document()
    old = document["data_elements"][0]
    document["data_elements"].append({
        **old, "version": "2", "effective_from": "2026-03-01",
        "definition_zh": "状态事件的子状态代码", "change_description": 'Now says "reported", too.',
    })
    old.update(status="Superseded", effective_until="2026-03-01",
               superseded_by={"item": "OL-DE-000001@2", "date": "2026-03-01"})
    document["value_domains"][0]["permissible_values"][1]["end_date"] = "2027-01-01"
    return parse_registry(document)


@pytest.mark.parametrize(
    ("fmt", "export", "load"),
    [("json", export_json, import_json), ("csv", export_csv, import_csv)],
)
def test_round_trip_gives_an_equal_registry(fmt: str, export: object, load: object) -> None:
    registry = _superseding_registry()
    assert callable(export)
    assert callable(load)
    text = export(registry)
    assert load(text) == registry, fmt
    # A second trip is byte-stable: the export is a function of the content.
    assert export(load(text)) == text


def test_csv_has_one_row_per_record_and_item() -> None:
    registry = _superseding_registry()
    rows = list(csv.DictReader(io.StringIO(export_csv(registry))))
    expected = (len(registry.registration_authorities) + len(registry.organisations)
                + len(list(registry.items())))
    assert len(rows) == expected
    superseded = next(r for r in rows if r["id"] == "OL-DE-000001" and r["version"] == "1")
    assert superseded["status"] == "Superseded"
    assert (superseded["superseded_by"], superseded["superseded_on"]) == (
        "OL-DE-000001@2", "2026-03-01")
    assert superseded["value_domain"] == "OL-VD-000001@1"
    domain = next(r for r in rows if r["id"] == "OL-VD-000001")
    values = json.loads(domain["permissible_values"])
    assert [v["value"] for v in values] == ["M01.01", "M01.02"]
    assert values[1]["end_date"] == "2027-01-01"


def test_json_export_spells_out_every_field() -> None:
    document = json.loads(export_json(_superseding_registry()))
    assert "defaults" not in document
    element = document["data_elements"][0]
    assert element["registration_authority"] == "OL-RA-000001"
    assert element["status"] == "Superseded"
    assert element["superseded_by"] == {"item": "OL-DE-000001@2", "date": "2026-03-01"}


_awkward_text = st.text(
    alphabet=st.sampled_from(list('ab ,;"\'\n\r\t中文@=|[]{}\\')), min_size=1, max_size=30
).filter(lambda s: s.strip() != "")


@settings(max_examples=25, deadline=None)
@given(definition=_awkward_text, change=_awkward_text)
def test_csv_round_trip_survives_awkward_text(definition: str, change: str) -> None:
    base = parse_registry(mini_document())
    element = replace(base.data_elements[0], definition=definition, change_description=change)
    registry = replace(base, data_elements=(element, *base.data_elements[1:]))
    assert import_csv(export_csv(registry)) == registry
    assert import_json(export_json(registry)) == registry


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("not json", "{", "document: not JSON"),
        ("json of the wrong format", '{"format": "x"}', "format: must be"),
        ("wrong csv header", "type,id\n", "csv: header must be record_type,"),
        ("unknown record type", ",".join(CSV_COLUMNS) + "\nwidget,OL-XX-000001\n",
         "csv row 1: unknown record_type 'widget'"),
    ],
)
def test_bad_imports_are_refused(name: str, text: str, message: str) -> None:
    load = import_json if name.endswith("json") or name.startswith("json") else import_csv
    with pytest.raises(RegistryInvalid, match=message):
        load(text)


def test_csv_import_validates_like_the_loader() -> None:
    text = export_csv(parse_registry(mini_document()))
    broken = text.replace("OL-VD-000002@1", "OL-VD-000077@1")
    with pytest.raises(RegistryInvalid, match="value_domain OL-VD-000077@1 does not resolve"):
        import_csv(broken)


def test_csv_import_rejects_a_bad_list_cell() -> None:
    text = export_csv(parse_registry(mini_document()))
    broken = text.replace('[{""value"": ""M01.01""', '[{""value"" ""M01.01""', 1)
    assert broken != text
    with pytest.raises(RegistryInvalid, match="permissible_values is not a JSON array"):
        import_csv(broken)
