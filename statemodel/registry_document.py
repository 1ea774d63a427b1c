"""Registry documents (YAML or JSON) to model objects and back.

The document form is the one wire format of the registry: `registry.yaml` is written in
it (with a `defaults` block to keep it short) and `export_json` writes it with every
field spelt out. Parsing checks shape only (types, required fields, unknown keys);
the consistency rules live in `registry_rules`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from statemodel.registry_model import (
    AdministeredItem,
    ConceptualDomain,
    DataElement,
    DataElementConcept,
    ItemRef,
    ObjectClass,
    Organisation,
    PermissibleValue,
    Property,
    RegistrationAuthority,
    RegistrationStatus,
    Registry,
    RegistryInvalid,
    Supersession,
    ValueDomain,
    ValueMeaning,
)

REGISTRY_FORMAT = "orderledger.registry.v1"

# Administration fields a YAML `defaults` block may supply for every item.
DEFAULTABLE_FIELDS = (
    "version",
    "registration_authority",
    "steward",
    "submitting_organisation",
    "status",
    "effective_from",
)
_ADMIN_FIELDS = (
    "id",
    "version",
    "name",
    "definition",
    "definition_zh",
    "registration_authority",
    "steward",
    "submitting_organisation",
    "status",
    "effective_from",
    "effective_until",
    "change_description",
    "superseded_by",
)
_TOP_LEVEL = (
    "format",
    "defaults",
    "registration_authorities",
    "organisations",
    "object_classes",
    "properties",
    "conceptual_domains",
    "value_domains",
    "data_element_concepts",
    "data_elements",
)


class _FieldError(Exception):
    """Shape problem inside one entry; caught per entry so the others still parse."""


class _Entry:
    """Typed access to one mapping of the document, failing with `_FieldError`."""

    def __init__(self, raw: object, allowed: tuple[str, ...], defaults: Mapping[str, Any]):
        if not isinstance(raw, Mapping):
            raise _FieldError(f"must be a mapping, got {type(raw).__name__}")
        unknown = sorted(str(key) for key in raw if key not in allowed)
        if unknown:
            raise _FieldError(f"unknown field(s) {', '.join(unknown)}")
        self._raw = {**{k: v for k, v in defaults.items() if k in allowed}, **raw}

    def _get(self, key: str, optional: bool) -> object:
        value = self._raw.get(key)
        if value is None and not optional:
            raise _FieldError(f"missing required field {key!r}")
        return value

    def text(self, key: str) -> str:
        value = self._get(key, optional=False)
        if not isinstance(value, str) or not value.strip():
            raise _FieldError(f"{key!r} must be a non-empty string")
        return value

    def optional_text(self, key: str) -> str | None:
        value = self._get(key, optional=True)
        if value is None or value == "":
            return None  # CSV cannot tell "" from absent, so neither can we
        if not isinstance(value, str):
            raise _FieldError(f"{key!r} must be a string")
        return value

    def version(self) -> str:
        value = self._get("version", optional=False)
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)  # YAML reads `version: 1` as an integer
        return self.text("version")

    def day(self, key: str) -> date:
        value = self._get(key, optional=False)
        return _to_date(key, value)

    def optional_day(self, key: str) -> date | None:
        value = self._get(key, optional=True)
        return None if value in (None, "") else _to_date(key, value)

    def ref(self, key: str) -> ItemRef:
        try:
            return ItemRef.parse(self.text(key))
        except ValueError as exc:
            raise _FieldError(f"{key!r}: {exc}") from None

    def optional_int(self, key: str) -> int | None:
        value = self._get(key, optional=True)
        if value is None or value == "":
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise _FieldError(f"{key!r} must be a positive integer")
        return value

    def status(self) -> RegistrationStatus:
        try:
            return RegistrationStatus.from_label(self.text("status"))
        except ValueError as exc:
            raise _FieldError(str(exc)) from None

    def entries(self, key: str) -> list[object]:
        value = self._get(key, optional=True)
        if value is None:
            return []
        if not isinstance(value, list):
            raise _FieldError(f"{key!r} must be a list")
        return value

    def supersession(self) -> Supersession | None:
        raw = self._get("superseded_by", optional=True)
        if raw is None:
            return None
        inner = _Entry(raw, ("item", "date"), {})
        return Supersession(by=inner.ref("item"), on=inner.day("date"))


def _to_date(key: str, value: object) -> date:
    if isinstance(value, date) and type(value) is date:
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise _FieldError(f"{key!r} must be a date YYYY-MM-DD, got {value!r}")


def _admin(entry: _Entry) -> dict[str, Any]:
    return {
        "id": entry.text("id"),
        "version": entry.version(),
        "name": entry.text("name"),
        "definition": entry.text("definition"),
        "definition_zh": entry.optional_text("definition_zh"),
        "registration_authority": entry.text("registration_authority"),
        "steward": entry.text("steward"),
        "submitting_organisation": entry.text("submitting_organisation"),
        "status": entry.status(),
        "effective_from": entry.day("effective_from"),
        "effective_until": entry.optional_day("effective_until"),
        "change_description": entry.optional_text("change_description"),
        "superseded_by": entry.supersession(),
    }


def _object_class(entry: _Entry) -> ObjectClass:
    return ObjectClass(**_admin(entry))


def _property(entry: _Entry) -> Property:
    return Property(**_admin(entry))


def _conceptual_domain(entry: _Entry) -> ConceptualDomain:
    admin = _admin(entry)
    meanings = []
    for index, raw in enumerate(entry.entries("value_meanings")):
        try:
            vm = _Entry(raw, ("meaning", "definition", "begin_date", "end_date"),
                        {"begin_date": admin["effective_from"]})
            meanings.append(ValueMeaning(vm.text("meaning"), vm.text("definition"),
                                         vm.day("begin_date"), vm.optional_day("end_date")))
        except _FieldError as exc:
            raise _FieldError(f"value_meanings[{index}]: {exc}") from None
    return ConceptualDomain(**admin, value_meanings=tuple(meanings))


def _value_domain(entry: _Entry) -> ValueDomain:
    admin = _admin(entry)
    values = []
    for index, raw in enumerate(entry.entries("permissible_values")):
        try:
            pv = _Entry(raw, ("value", "meaning", "begin_date", "end_date"),
                        {"begin_date": admin["effective_from"]})
            values.append(PermissibleValue(pv.text("value"), pv.text("meaning"),
                                           pv.day("begin_date"), pv.optional_day("end_date")))
        except _FieldError as exc:
            raise _FieldError(f"permissible_values[{index}]: {exc}") from None
    return ValueDomain(
        **admin,
        conceptual_domain=entry.ref("conceptual_domain"),
        data_type=entry.text("data_type"),
        format=entry.optional_text("format"),
        max_length=entry.optional_int("max_length"),
        unit_of_measure=entry.optional_text("unit_of_measure"),
        permissible_values=tuple(values),
    )


def _data_element_concept(entry: _Entry) -> DataElementConcept:
    return DataElementConcept(
        **_admin(entry),
        object_class=entry.ref("object_class"),
        property=entry.ref("property"),
        conceptual_domain=entry.ref("conceptual_domain"),
    )


def _data_element(entry: _Entry) -> DataElement:
    return DataElement(
        **_admin(entry),
        data_element_concept=entry.ref("data_element_concept"),
        value_domain=entry.ref("value_domain"),
    )


_SECTIONS: dict[str, tuple[tuple[str, ...], Callable[[_Entry], AdministeredItem]]] = {
    "object_classes": ((), _object_class),
    "properties": ((), _property),
    "conceptual_domains": (("value_meanings",), _conceptual_domain),
    "value_domains": (
        ("conceptual_domain", "data_type", "format", "max_length", "unit_of_measure",
         "permissible_values"),
        _value_domain,
    ),
    "data_element_concepts": (("object_class", "property", "conceptual_domain"),
                              _data_element_concept),
    "data_elements": (("data_element_concept", "value_domain"), _data_element),
}


def parse_registry_document(document: object) -> Registry:
    """Build a Registry from a document's shape, without the consistency rules.

    Raises RegistryInvalid listing every malformed entry (`section[index]: problem`).
    """
    if not isinstance(document, Mapping):
        raise RegistryInvalid(["document: must be a mapping"])
    problems: list[str] = []
    if document.get("format") != REGISTRY_FORMAT:
        problems.append(f"format: must be {REGISTRY_FORMAT!r}, got {document.get('format')!r}")
    unknown = sorted(str(key) for key in document if key not in _TOP_LEVEL)
    if unknown:
        problems.append(f"document: unknown section(s) {', '.join(unknown)}")
    defaults = document.get("defaults") or {}
    if not isinstance(defaults, Mapping) or any(k not in DEFAULTABLE_FIELDS for k in defaults):
        problems.append(f"defaults: must be a mapping of {', '.join(DEFAULTABLE_FIELDS)}")
        defaults = {}

    def section(key: str, allowed: tuple[str, ...], build: Callable[[_Entry], Any],
                entry_defaults: Mapping[str, Any]) -> tuple[Any, ...]:
        raw_list = document.get(key) or []
        if not isinstance(raw_list, list):
            problems.append(f"{key}: must be a list")
            return ()
        built = []
        for index, raw in enumerate(raw_list):
            try:
                built.append(build(_Entry(raw, allowed, entry_defaults)))
            except _FieldError as exc:
                label = raw.get("id") if isinstance(raw, Mapping) else None
                problems.append(f"{key}[{index}]{f' {label}' if label else ''}: {exc}")
        return tuple(built)

    record_fields = ("id", "name", "definition")
    authorities = section("registration_authorities", record_fields,
                          lambda e: RegistrationAuthority(e.text("id"), e.text("name"),
                                                          e.text("definition")), {})
    organisations = section("organisations", record_fields,
                            lambda e: Organisation(e.text("id"), e.text("name"),
                                                   e.text("definition")), {})
    items = {key: section(key, _ADMIN_FIELDS + extra, build, defaults)
             for key, (extra, build) in _SECTIONS.items()}
    if problems:
        raise RegistryInvalid(problems)
    return Registry(registration_authorities=authorities, organisations=organisations, **items)


def _plain(value: object) -> object:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, RegistrationStatus):
        return value.label
    if isinstance(value, ItemRef):
        return str(value)
    if isinstance(value, Supersession):
        return {"item": str(value.by), "date": value.on.isoformat()}
    if isinstance(value, ValueMeaning | PermissibleValue):
        return {key: _plain(getattr(value, key)) for key in value.__dataclass_fields__}
    if isinstance(value, tuple):
        return [_plain(member) for member in value]
    return value


def item_to_entry(item: AdministeredItem) -> dict[str, object]:
    """One item as a document entry with every field spelt out (None for absent)."""
    return {key: _plain(getattr(item, key))
            for key in item.__dataclass_fields__ if key != "item_type"}


def registry_to_document(registry: Registry) -> dict[str, object]:
    """The registry as a JSON-ready document, no defaults; parses back to an equal one."""
    document: dict[str, object] = {"format": REGISTRY_FORMAT}
    document["registration_authorities"] = [
        {"id": ra.id, "name": ra.name, "definition": ra.definition}
        for ra in registry.registration_authorities
    ]
    document["organisations"] = [
        {"id": org.id, "name": org.name, "definition": org.definition}
        for org in registry.organisations
    ]
    for key in _SECTIONS:
        document[key] = [item_to_entry(item) for item in getattr(registry, key)]
    return document
