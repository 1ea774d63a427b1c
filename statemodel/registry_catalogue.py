"""Where the state catalogue meets the registry: payload fields and their data elements.

Every payload property of the catalogue (nested ones and the top-level
`common_payload` ones included) names its data element with the extension keyword
`x-data-element`. This module walks those schemas, checks that every name is a current
registered data element whose value domain fits the field, and resolves one field of
one sub-state to its element (for labelling fields with a name and a definition).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from statemodel.errors import UnknownState
from statemodel.registry_model import (
    CatalogueNotCovered,
    RegistrationStatus,
    Registry,
    UnknownDataElement,
    UnknownField,
)

DATA_ELEMENT_KEYWORD = "x-data-element"
COMMON = "common_payload"
# Catalogue fields may only use elements the registry has at least recorded.
MINIMUM_STATUS = RegistrationStatus.RECORDED
# JSON Schema type (or string format) -> value-domain data types that can carry it.
_JSON_TYPE_FITS = {
    "boolean": frozenset({"boolean"}),
    "integer": frozenset({"integer"}),
    "number": frozenset({"decimal", "integer"}),
    "date-time": frozenset({"date-time"}),
    "date": frozenset({"date"}),
}
_COMBINATORS = ("allOf", "anyOf", "oneOf")


@dataclass(frozen=True)
class PayloadField:
    """One property of a payload schema; `owner` is a sub-state code or `common_payload`."""

    owner: str
    path: str  # dotted; array items written `name[]`
    schema: Mapping[str, Any]

    @property
    def data_element(self) -> str | None:
        name = self.schema.get(DATA_ELEMENT_KEYWORD)
        return name if isinstance(name, str) else None


def _properties(schema: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Properties declared directly or through allOf/anyOf/oneOf branches.

    A branch that only constrains a property declared already (and `if`/`then`
    conditions, which are never walked) declares no new field.
    """
    seen: set[str] = set()
    props = schema.get("properties")
    if isinstance(props, Mapping):
        for name, sub in props.items():
            if isinstance(sub, Mapping):
                seen.add(name)
                yield name, sub
    for key in _COMBINATORS:
        for branch in schema.get(key) or []:
            if isinstance(branch, Mapping):
                for name, sub in _properties(branch):
                    if name not in seen:
                        seen.add(name)
                        yield name, sub


def _items(schema: Mapping[str, Any]) -> Mapping[str, Any] | None:
    items = schema.get("items")
    return items if isinstance(items, Mapping) else None


def _walk(owner: str, schema: Mapping[str, Any], prefix: str) -> Iterator[PayloadField]:
    for name, sub in _properties(schema):
        path = f"{prefix}{name}"
        yield PayloadField(owner, path, sub)
        yield from _walk(owner, sub, f"{path}.")
        items, item_path = _items(sub), path
        while items is not None:  # arrays of arrays still end in one item schema
            item_path += "[]"
            yield from _walk(owner, items, f"{item_path}.")
            items = _items(items)


def _common_schema(document: Mapping[str, Any]) -> Mapping[str, Any]:
    """`common_payload` is a properties map, or a schema holding one."""
    common = document.get(COMMON)
    if not isinstance(common, Mapping):
        return {}
    if isinstance(common.get("properties"), Mapping) and "type" in common:
        return common
    return {"properties": common}


def payload_fields(document: Mapping[str, Any]) -> Iterator[PayloadField]:
    """Every payload property of the catalogue document, in document order."""
    yield from _walk(COMMON, _common_schema(document), "")
    for sub_state in document.get("sub_states") or []:
        payload = sub_state.get("payload")
        if isinstance(payload, Mapping):
            yield from _walk(str(sub_state.get("code")), payload, "")


def catalogue_coverage_problems(registry: Registry, document: Mapping[str, Any]) -> list[str]:
    """Every payload field without a fitting, current, registered data element."""
    problems = []
    for field in payload_fields(document):
        where = f"{field.owner} {field.path}"
        name = field.data_element
        if name is None:
            problems.append(f"{where}: has no {DATA_ELEMENT_KEYWORD}")
            continue
        try:
            element = registry.data_element(name)
        except UnknownDataElement:
            problems.append(f"{where}: data element {name!r} is not registered (or not current)")
            continue
        if element.status < MINIMUM_STATUS:
            problems.append(f"{where}: data element {name} is only {element.status.label}")
        problems.extend(f"{where}: {p}" for p in _fit_problems(registry, name, field.schema))
    return problems


def _fit_problems(registry: Registry, name: str, schema: Mapping[str, Any]) -> Iterator[str]:
    """The value domain must carry the field's JSON type and every value of its enum."""
    domain = registry.value_domain_of(registry.data_element(name))
    item_schema = schema
    while item_schema.get("type") == "array" and _items(item_schema) is not None:
        item_schema = _items(item_schema) or {}  # a multi-valued field: check one value
    json_type = item_schema.get("format") or item_schema.get("type")
    fits = _JSON_TYPE_FITS.get(str(json_type))
    if fits is not None and domain.data_type not in fits:
        yield (f"{name} has value domain {domain.ref} of type {domain.data_type!r}, "
               f"which cannot carry JSON {json_type!r}")
    enum = item_schema.get("enum") or ([item_schema["const"]] if "const" in item_schema else [])
    if domain.is_enumerated:
        allowed = {pv.value for pv in domain.permissible_values}
        missing = sorted(str(v) for v in enum if str(v) not in allowed)
        if missing:
            yield f"values {', '.join(missing)} are not permissible values of {domain.ref}"


def check_catalogue_coverage(registry: Registry, document: Mapping[str, Any]) -> None:
    """Raise CatalogueNotCovered listing every field `catalogue_coverage_problems` finds."""
    problems = catalogue_coverage_problems(registry, document)
    if problems:
        raise CatalogueNotCovered(problems)


def field_data_element_name(
    sub_state: str, field_path: str, document: Mapping[str, Any] | None = None
) -> str:
    """The `x-data-element` of one payload field of `sub_state` (or of the common payload).

    `document` defaults to the packaged catalogue. Raises UnknownState, UnknownField,
    or UnknownDataElement when the field exists but names no element.
    """
    if document is None:
        document = _packaged_catalogue_document()
    payload = next((s.get("payload") for s in document.get("sub_states") or []
                    if s.get("code") == sub_state), None)
    if payload is None:
        raise UnknownState(f"unknown sub-state {sub_state!r}", field="sub_state")
    steps = [step.removesuffix("[]") for step in field_path.split(".")]
    steps = [step for step in steps if step and not step.isdigit()]
    for schema in (payload, _common_schema(document)):
        found = _descend(schema, steps)
        if found is not None:
            name = found.get(DATA_ELEMENT_KEYWORD)
            if not isinstance(name, str):
                raise UnknownDataElement(f"{sub_state} {field_path} has no {DATA_ELEMENT_KEYWORD}")
            return name
    raise UnknownField(f"sub-state {sub_state} has no payload field {field_path!r}",
                       field=field_path)


@functools.cache
def _packaged_catalogue_document() -> Mapping[str, Any]:
    """One private copy of the packaged catalogue (`Catalogue.document` copies per call)."""
    from statemodel.catalogue import load_catalogue  # sibling module that reads data

    return load_catalogue().document


def _descend(schema: Mapping[str, Any], steps: list[str]) -> Mapping[str, Any] | None:
    node: Mapping[str, Any] | None = schema if steps else None
    for step in steps:
        if node is None:
            return None
        while _items(node) is not None:  # array steps are implicit in the path
            node = _items(node) or {}
        node = dict(_properties(node)).get(step)
    return node
