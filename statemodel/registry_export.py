"""Registry export and import as JSON (the document form) and CSV (one row per item).

Both formats read back into an equal `Registry`; importing validates exactly as
loading the packaged YAML does, so a hand-edited export cannot smuggle in a broken item.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from statemodel.registry_document import (
    REGISTRY_FORMAT,
    parse_registry_document,
    registry_to_document,
)
from statemodel.registry_model import Registry, RegistryInvalid
from statemodel.registry_rules import registry_problems

CSV_COLUMNS = (
    "record_type",
    "id",
    "version",
    "name",
    "definition",
    "definition_zh",
    "status",
    "registration_authority",
    "steward",
    "submitting_organisation",
    "effective_from",
    "effective_until",
    "change_description",
    "superseded_by",
    "superseded_on",
    "object_class",
    "property",
    "conceptual_domain",
    "data_element_concept",
    "value_domain",
    "data_type",
    "format",
    "max_length",
    "unit_of_measure",
    "value_meanings",
    "permissible_values",
)
# CSV record_type -> document section. Records first, so a reader meets the
# authority and organisations before the items that name them.
_SECTION_OF_TYPE = {
    "registration_authority": "registration_authorities",
    "organisation": "organisations",
    "object_class": "object_classes",
    "property": "properties",
    "conceptual_domain": "conceptual_domains",
    "value_domain": "value_domains",
    "data_element_concept": "data_element_concepts",
    "data_element": "data_elements",
}
_JSON_CELLS = ("value_meanings", "permissible_values")


def validated(registry: Registry) -> Registry:
    """Return `registry` if it keeps every rule; otherwise raise RegistryInvalid."""
    problems = registry_problems(registry)
    if problems:
        raise RegistryInvalid(problems)
    return registry


def parse_registry(document: object) -> Registry:
    """Parse and validate a registry document (YAML-loaded or JSON-loaded).

    Raises RegistryInvalid listing every malformed entry or broken rule.
    """
    return validated(parse_registry_document(document))


def export_json(registry: Registry) -> str:
    """The registry as a JSON document, every field explicit, UTF-8 text kept readable."""
    return json.dumps(registry_to_document(registry), ensure_ascii=False, indent=2) + "\n"


def import_json(text: str) -> Registry:
    """Read an `export_json` document; RegistryInvalid if it is not JSON or not valid."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RegistryInvalid([f"document: not JSON: {exc}"]) from None
    return parse_registry(document)


def export_csv(registry: Registry) -> str:
    """One row per record and administered item, columns `CSV_COLUMNS`.

    Value meanings and permissible values are one JSON array per cell; absent values
    are empty cells.
    """
    document = registry_to_document(registry)
    out = io.StringIO(newline="")
    # RFC 4180 line ends: the writer then quotes any cell holding a CR or LF.
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for record_type, section in _SECTION_OF_TYPE.items():
        entries = document[section]
        assert isinstance(entries, list)
        for entry in entries:
            writer.writerow(_entry_to_row(record_type, entry))
    return out.getvalue()


def _entry_to_row(record_type: str, entry: dict[str, Any]) -> dict[str, str]:
    row = {"record_type": record_type}
    for key, value in entry.items():
        if value is None:
            continue
        if key == "superseded_by":
            row["superseded_by"], row["superseded_on"] = value["item"], value["date"]
        elif key in _JSON_CELLS:
            row[key] = json.dumps(value, ensure_ascii=False) if value else ""
        else:
            row[key] = str(value)
    return row


def import_csv(text: str) -> Registry:
    """Read an `export_csv` table back; RegistryInvalid naming the data row (1-based)
    of any problem."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if tuple(reader.fieldnames or ()) != CSV_COLUMNS:
        raise RegistryInvalid([f"csv: header must be {','.join(CSV_COLUMNS)}"])
    document: dict[str, Any] = {"format": REGISTRY_FORMAT}
    for name in _SECTION_OF_TYPE.values():
        document[name] = []
    problems: list[str] = []
    for number, row in enumerate(reader, start=1):
        section = _SECTION_OF_TYPE.get(row["record_type"] or "")
        if section is None:
            problems.append(f"csv row {number}: unknown record_type {row['record_type']!r}")
            continue
        try:
            document[section].append(_row_to_entry(row))
        except ValueError as exc:
            problems.append(f"csv row {number}: {exc}")
    if problems:
        raise RegistryInvalid(problems)
    return parse_registry(document)


def _row_to_entry(row: dict[str, str | None]) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    for key, cell in row.items():
        if key is None or key in ("record_type", "superseded_on") or not cell:
            continue
        if key in _JSON_CELLS:
            try:
                entry[key] = json.loads(cell)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{key} is not a JSON array: {exc}") from None
        elif key == "max_length":
            if not cell.isdigit():
                raise ValueError(f"max_length {cell!r} is not a whole number")
            entry[key] = int(cell)
        elif key == "superseded_by":
            entry[key] = {"item": cell, "date": row.get("superseded_on")}
        else:
            entry[key] = cell
    return entry
