"""ISO/IEC 11179-3 metadata registry model: pure, frozen dataclasses, no I/O.

An administered item is identified by (identifier, version), e.g. `OL-DE-000123` v`1`;
references between items name both, written `OL-DE-000123@1` (the `name@version` form
the project already uses for regulation packs). Registration authorities and
organisations are plain records: they register and steward items but are not
themselves versioned.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from typing import Any, TypeVar

from statemodel.errors import InvalidInput, OrderledgerError

_ItemT = TypeVar("_ItemT", bound="AdministeredItem")


class RegistryInvalid(OrderledgerError):
    """A registry document breaks the model's rules; `problems` lists every breach.

    Each problem starts with where it is (`data_elements[3] OL-DE-000003@1: ...`).
    """

    def __init__(self, problems: list[str] | tuple[str, ...]) -> None:
        self.problems = tuple(problems)
        shown = "; ".join(self.problems[:20])
        more = f" (and {len(self.problems) - 20} more)" if len(self.problems) > 20 else ""
        super().__init__(f"registry invalid: {shown}{more}")


class CatalogueNotCovered(RegistryInvalid):
    """A catalogue payload field has no registered, current data element."""


class RegistryLookupError(OrderledgerError, LookupError):
    """A name or reference that the registry does not hold."""


class UnknownDataElement(RegistryLookupError):
    """No current data element carries the requested name."""


class UnknownField(InvalidInput):
    """A payload field path that the sub-state's schema does not declare."""


class RegistrationStatus(enum.IntEnum):
    """11179-3 registration states, ordered as in Aristotle (so they compare)."""

    NOT_PROGRESSED = 0
    INCOMPLETE = 1
    CANDIDATE = 2
    RECORDED = 3
    QUALIFIED = 4
    STANDARD = 5
    PREFERRED_STANDARD = 6
    SUPERSEDED = 7
    RETIRED = 8

    @property
    def label(self) -> str:
        """The standard's wording, e.g. `Preferred Standard`."""
        return self.name.replace("_", " ").title()

    @classmethod
    def from_label(cls, label: str) -> RegistrationStatus:
        """Parse `Preferred Standard` (case-insensitive); ValueError if not a status."""
        key = label.strip().upper().replace(" ", "_")
        try:
            return cls[key]
        except KeyError:
            labels = ", ".join(status.label for status in cls)
            raise ValueError(f"unknown registration status {label!r} (one of {labels})") from None

    @property
    def is_current(self) -> bool:
        """True unless the item was superseded or retired (HL7 SDC `retired` group)."""
        return self not in (RegistrationStatus.SUPERSEDED, RegistrationStatus.RETIRED)


class ItemType(enum.StrEnum):
    """Kinds of administered items, with the identifier prefix each must carry."""

    OBJECT_CLASS = "object_class"
    PROPERTY = "property"
    CONCEPTUAL_DOMAIN = "conceptual_domain"
    VALUE_DOMAIN = "value_domain"
    DATA_ELEMENT_CONCEPT = "data_element_concept"
    DATA_ELEMENT = "data_element"

    @property
    def id_prefix(self) -> str:
        return _ID_PREFIXES[self]


_ID_PREFIXES = {
    ItemType.OBJECT_CLASS: "OL-OC-",
    ItemType.PROPERTY: "OL-PR-",
    ItemType.CONCEPTUAL_DOMAIN: "OL-CD-",
    ItemType.VALUE_DOMAIN: "OL-VD-",
    ItemType.DATA_ELEMENT_CONCEPT: "OL-DEC-",
    ItemType.DATA_ELEMENT: "OL-DE-",
}
RA_ID_PREFIX = "OL-RA-"
ORGANISATION_ID_PREFIX = "OL-ORG-"

_REF_PATTERN = re.compile(r"^(?P<id>OL-[A-Z]+-\d{6})@(?P<version>\d+(?:\.\d+)*)\Z")


@dataclass(frozen=True, order=True)
class ItemRef:
    """Identifier plus version of one administered item."""

    id: str
    version: str

    def __str__(self) -> str:
        return f"{self.id}@{self.version}"

    @classmethod
    def parse(cls, text: str) -> ItemRef:
        """Parse `OL-VD-000004@1`; ValueError if the text is not of that form."""
        match = _REF_PATTERN.match(text)
        if match is None:
            raise ValueError(f"{text!r} is not a reference of the form OL-XX-000000@1")
        return cls(match["id"], match["version"])


@dataclass(frozen=True)
class Supersession:
    """The item that replaces a superseded one, and from when."""

    by: ItemRef
    on: date


@dataclass(frozen=True)
class RegistrationAuthority:
    id: str
    name: str
    definition: str


@dataclass(frozen=True)
class Organisation:
    """A steward or submitting organisation."""

    id: str
    name: str
    definition: str


@dataclass(frozen=True, kw_only=True)
class AdministeredItem:
    """Administration record common to every item type (11179-3 clause 8.1)."""

    id: str
    version: str
    name: str
    definition: str
    definition_zh: str | None = None
    registration_authority: str
    steward: str
    submitting_organisation: str
    status: RegistrationStatus
    effective_from: date
    effective_until: date | None = None
    change_description: str | None = None
    superseded_by: Supersession | None = None

    item_type: ItemType = ItemType.OBJECT_CLASS  # overridden by every subclass

    @property
    def ref(self) -> ItemRef:
        return ItemRef(self.id, self.version)


@dataclass(frozen=True, kw_only=True)
class ObjectClass(AdministeredItem):
    item_type: ItemType = ItemType.OBJECT_CLASS


@dataclass(frozen=True, kw_only=True)
class Property(AdministeredItem):
    item_type: ItemType = ItemType.PROPERTY


@dataclass(frozen=True)
class ValueMeaning:
    """One meaning of an enumerated conceptual domain, valid between two dates."""

    meaning: str
    definition: str
    begin_date: date
    end_date: date | None = None


@dataclass(frozen=True, kw_only=True)
class ConceptualDomain(AdministeredItem):
    value_meanings: tuple[ValueMeaning, ...] = ()
    item_type: ItemType = ItemType.CONCEPTUAL_DOMAIN


@dataclass(frozen=True)
class PermissibleValue:
    """A value of an enumerated value domain; `meaning` names a value meaning."""

    value: str
    meaning: str
    begin_date: date
    end_date: date | None = None

    def is_valid_on(self, day: date) -> bool:
        return self.begin_date <= day and (self.end_date is None or day < self.end_date)


@dataclass(frozen=True, kw_only=True)
class ValueDomain(AdministeredItem):
    conceptual_domain: ItemRef
    data_type: str
    format: str | None = None
    max_length: int | None = None
    unit_of_measure: str | None = None
    permissible_values: tuple[PermissibleValue, ...] = ()
    item_type: ItemType = ItemType.VALUE_DOMAIN

    @property
    def is_enumerated(self) -> bool:
        return bool(self.permissible_values)

    def values_on(self, day: date) -> frozenset[str]:
        """Permissible values in force on `day` (begin inclusive, end exclusive)."""
        return frozenset(pv.value for pv in self.permissible_values if pv.is_valid_on(day))


@dataclass(frozen=True, kw_only=True)
class DataElementConcept(AdministeredItem):
    object_class: ItemRef
    property: ItemRef
    conceptual_domain: ItemRef
    item_type: ItemType = ItemType.DATA_ELEMENT_CONCEPT


@dataclass(frozen=True, kw_only=True)
class DataElement(AdministeredItem):
    data_element_concept: ItemRef
    value_domain: ItemRef
    item_type: ItemType = ItemType.DATA_ELEMENT

    @property
    def representation_term(self) -> str:
        """Last part of `ObjectClass.Property.RepresentationTerm`."""
        return self.name.rsplit(".", 1)[-1]


@dataclass(frozen=True)
class Registry:
    """A whole registry. Equality compares content, in document order.

    Build one with `statemodel.registry.parse_registry` (which validates); the
    constructor itself checks nothing.
    """

    registration_authorities: tuple[RegistrationAuthority, ...]
    organisations: tuple[Organisation, ...]
    object_classes: tuple[ObjectClass, ...] = ()
    properties: tuple[Property, ...] = ()
    conceptual_domains: tuple[ConceptualDomain, ...] = ()
    value_domains: tuple[ValueDomain, ...] = ()
    data_element_concepts: tuple[DataElementConcept, ...] = ()
    data_elements: tuple[DataElement, ...] = ()

    def items(self) -> Iterator[AdministeredItem]:
        """Every administered item, grouped by type in registry order."""
        yield from self.object_classes
        yield from self.properties
        yield from self.conceptual_domains
        yield from self.value_domains
        yield from self.data_element_concepts
        yield from self.data_elements

    @cached_property
    def _by_ref(self) -> dict[ItemRef, AdministeredItem]:
        return {item.ref: item for item in self.items()}

    @cached_property
    def _current_elements_by_name(self) -> dict[str, DataElement]:
        return {de.name: de for de in self.data_elements if de.status.is_current}

    def item(self, ref: ItemRef | str) -> AdministeredItem:
        """The item with this identifier and version; RegistryLookupError if absent."""
        key = ItemRef.parse(ref) if isinstance(ref, str) else ref
        try:
            return self._by_ref[key]
        except KeyError:
            raise RegistryLookupError(f"no administered item {key}") from None

    def typed_item(self, ref: ItemRef, kind: type[_ItemT]) -> _ItemT:
        """Like `item`, but RegistryLookupError unless the item is a `kind`."""
        found = self.item(ref)
        if not isinstance(found, kind):
            raise RegistryLookupError(f"{ref} is a {found.item_type}, not a {kind.__name__}")
        return found

    def data_element(self, name: str) -> DataElement:
        """The current (neither superseded nor retired) data element called `name`.

        Raises UnknownDataElement if there is none.
        """
        try:
            return self._current_elements_by_name[name]
        except KeyError:
            raise UnknownDataElement(f"no current data element named {name!r}") from None

    def value_domain_of(self, element: DataElement) -> ValueDomain:
        return self.typed_item(element.value_domain, ValueDomain)

    def concept_of(self, element: DataElement) -> DataElementConcept:
        return self.typed_item(element.data_element_concept, DataElementConcept)

    def lookup_field(
        self, sub_state: str, field_path: str, catalogue: Mapping[str, Any] | None = None
    ) -> DataElement:
        """The data element of payload field `field_path` of `sub_state` in `catalogue`
        (a catalogue document; default the packaged one), common payload fields included.

        `field_path` is dotted (`missing_items.doc_type`); array steps may be written
        `missing_items[]`, `missing_items.0` or left out. Raises UnknownState for a
        sub-state the catalogue lacks, UnknownField for a path its schema lacks, and
        UnknownDataElement if the field names an unregistered element.
        """
        # Imported here: the catalogue loader is a sibling module with its own I/O.
        from statemodel.registry_catalogue import field_data_element_name

        return self.data_element(field_data_element_name(sub_state, field_path, catalogue))
