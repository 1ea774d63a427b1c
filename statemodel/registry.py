"""The ISO/IEC 11179-3 metadata registry: public surface.

`load_registry()` reads and validates the packaged `data/registry.yaml` once.
Every payload field of the state catalogue names a data element of this registry
(`x-data-element`); `Registry.lookup_field` resolves one, and
`check_catalogue_coverage` proves that all of them resolve. Exports: JSON (the
document form) and CSV (one row per item), each importable back to an equal registry.
"""

from __future__ import annotations

import functools
from pathlib import Path

import yaml

from statemodel.registry_catalogue import (
    DATA_ELEMENT_KEYWORD,
    PayloadField,
    catalogue_coverage_problems,
    check_catalogue_coverage,
    field_data_element_name,
    payload_fields,
)
from statemodel.registry_document import REGISTRY_FORMAT, registry_to_document
from statemodel.registry_export import (
    CSV_COLUMNS,
    export_csv,
    export_json,
    import_csv,
    import_json,
    parse_registry,
)
from statemodel.registry_model import (
    AdministeredItem,
    CatalogueNotCovered,
    ConceptualDomain,
    DataElement,
    DataElementConcept,
    ItemRef,
    ItemType,
    ObjectClass,
    Organisation,
    PermissibleValue,
    Property,
    RegistrationAuthority,
    RegistrationStatus,
    Registry,
    RegistryInvalid,
    RegistryLookupError,
    Supersession,
    UnknownDataElement,
    UnknownField,
    ValueDomain,
    ValueMeaning,
)
from statemodel.registry_rules import REPRESENTATION_TERMS, registry_problems

__all__ = [
    "CSV_COLUMNS",
    "DATA_ELEMENT_KEYWORD",
    "REGISTRY_FORMAT",
    "REPRESENTATION_TERMS",
    "AdministeredItem",
    "CatalogueNotCovered",
    "ConceptualDomain",
    "DataElement",
    "DataElementConcept",
    "ItemRef",
    "ItemType",
    "ObjectClass",
    "Organisation",
    "PayloadField",
    "PermissibleValue",
    "Property",
    "RegistrationAuthority",
    "RegistrationStatus",
    "Registry",
    "RegistryInvalid",
    "RegistryLookupError",
    "Supersession",
    "UnknownDataElement",
    "UnknownField",
    "ValueDomain",
    "ValueMeaning",
    "catalogue_coverage_problems",
    "check_catalogue_coverage",
    "export_csv",
    "export_json",
    "field_data_element_name",
    "import_csv",
    "import_json",
    "load_registry",
    "parse_registry",
    "parse_registry_yaml",
    "payload_fields",
    "registry_problems",
    "registry_to_document",
]

REGISTRY_PATH = Path(__file__).resolve().parent / "data" / "registry.yaml"


def parse_registry_yaml(text: str) -> Registry:
    """Parse and validate a registry written in YAML; RegistryInvalid if it is not."""
    try:
        # The C loader when PyYAML has it: the packaged registry is a few thousand lines.
        document = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506
    except yaml.YAMLError as exc:
        raise RegistryInvalid([f"document: not YAML: {exc}"]) from None
    return parse_registry(document)


@functools.cache
def load_registry() -> Registry:
    """The packaged registry (`statemodel/data/registry.yaml`), validated, read once.

    Raises RegistryInvalid if the file is missing or breaks a rule (a build defect).
    """
    try:
        text = REGISTRY_PATH.read_text(encoding="utf-8")
    except OSError as exc:
        raise RegistryInvalid([f"cannot read {REGISTRY_PATH}: {exc}"]) from exc
    return parse_registry_yaml(text)
