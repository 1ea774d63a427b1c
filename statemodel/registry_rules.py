"""Consistency rules of a registry: identity, references, supersession, status, naming.

`registry_problems` returns every breach as one readable line that starts with the
item (`data_elements OL-DE-000003@1 StatusEvent.Due.DateTime: ...`); an empty list
means the registry is valid.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import date
from types import MappingProxyType

from statemodel.registry_model import (
    ORGANISATION_ID_PREFIX,
    RA_ID_PREFIX,
    AdministeredItem,
    ConceptualDomain,
    DataElement,
    DataElementConcept,
    ItemRef,
    ObjectClass,
    Property,
    RegistrationStatus,
    Registry,
    ValueDomain,
)

# ISO/IEC 11179-5 representation terms we admit, with the value-domain data types
# each one may be represented by (the "term consistent with its value domain" rule).
REPRESENTATION_TERMS = MappingProxyType({
    "Code": frozenset({"code"}),
    "Identifier": frozenset({"identifier", "uuid"}),
    "DateTime": frozenset({"date-time"}),
    "Date": frozenset({"date"}),
    "Amount": frozenset({"decimal"}),
    "Quantity": frozenset({"integer", "decimal"}),
    "Number": frozenset({"integer", "decimal"}),
    "Measure": frozenset({"integer", "decimal"}),
    "Percent": frozenset({"decimal"}),
    "Text": frozenset({"string"}),
    "Name": frozenset({"string"}),
    "Indicator": frozenset({"boolean"}),
    "Hash": frozenset({"hash"}),
    "Reference": frozenset({"reference", "identifier", "uri"}),
})
# An amount is meaningless without its currency, a measure without its unit.
TERMS_NEEDING_UNIT = frozenset({"Amount", "Measure"})
DATA_TYPES = frozenset().union(*REPRESENTATION_TERMS.values())

_ID_DIGITS = re.compile(r"^OL-[A-Z]+-\d{6}\Z")
_UPPER_CAMEL = re.compile(r"^[A-Z][a-z0-9]*(?:[A-Z][a-z0-9]*)*\Z")
_VERSION = re.compile(r"^\d+(?:\.\d+)*\Z")
_SECTION_OF = {
    ObjectClass: "object_classes",
    Property: "properties",
    ConceptualDomain: "conceptual_domains",
    ValueDomain: "value_domains",
    DataElementConcept: "data_element_concepts",
    DataElement: "data_elements",
}


def where(item: AdministeredItem) -> str:
    return f"{_SECTION_OF[type(item)]} {item.ref} {item.name}"


def registry_problems(registry: Registry) -> list[str]:
    """Every rule the registry breaks, as readable lines (empty when valid)."""
    problems = list(_record_problems(registry))
    by_ref: dict[ItemRef, AdministeredItem] = {}
    for item in registry.items():
        if item.ref in by_ref:
            problems.append(f"{where(item)}: duplicate identifier and version {item.ref}")
        by_ref[item.ref] = item
    for item in registry.items():
        problems.extend(f"{where(item)}: {p}" for p in _item_problems(registry, item, by_ref))
    problems.extend(_name_uniqueness_problems(registry))
    return problems


def _record_problems(registry: Registry) -> Iterator[str]:
    for label, prefix, records in (
        ("registration_authorities", RA_ID_PREFIX, registry.registration_authorities),
        ("organisations", ORGANISATION_ID_PREFIX, registry.organisations),
    ):
        for record_id, count in Counter(r.id for r in records).items():
            if count > 1:
                yield f"{label} {record_id}: duplicate identifier"
        for record in records:
            if not (record.id.startswith(prefix) and _ID_DIGITS.match(record.id)):
                yield f"{label} {record.id}: identifier must look like {prefix}000001"
    if not registry.registration_authorities:
        yield "registration_authorities: at least one registration authority is required"


def _item_problems(
    registry: Registry, item: AdministeredItem, by_ref: dict[ItemRef, AdministeredItem]
) -> Iterator[str]:
    prefix = item.item_type.id_prefix
    if not (item.id.startswith(prefix) and _ID_DIGITS.match(item.id)):
        yield f"identifier must look like {prefix}000001"
    if not _VERSION.match(item.version):
        yield f"version {item.version!r} must be dotted digits such as 1 or 2.1"
    if item.registration_authority not in {ra.id for ra in registry.registration_authorities}:
        yield f"registration authority {item.registration_authority} is not registered"
    org_ids = {org.id for org in registry.organisations}
    for role, org in (("steward", item.steward), ("submitting organisation",
                                                   item.submitting_organisation)):
        if org not in org_ids:
            yield f"{role} {org} is not a registered organisation"
    if item.effective_until is not None and item.effective_until <= item.effective_from:
        yield (f"effective_until {item.effective_until} must be after "
               f"effective_from {item.effective_from}")
    yield from _supersession_problems(item, by_ref)
    yield from _reference_problems(item, by_ref)
    if isinstance(item, ObjectClass | Property) and not _UPPER_CAMEL.match(item.name):
        yield f"name {item.name!r} must be UpperCamelCase (ISO/IEC 11179-5 syntactic rule)"
    if isinstance(item, ConceptualDomain):
        yield from _dated_uniqueness(
            "value meaning", ((vm.meaning, vm.begin_date, vm.end_date)
                              for vm in item.value_meanings))
    if isinstance(item, ValueDomain):
        yield from _value_domain_problems(item, by_ref)
    if isinstance(item, DataElementConcept | DataElement):
        yield from _naming_problems(item, by_ref)


def _supersession_problems(
    item: AdministeredItem, by_ref: dict[ItemRef, AdministeredItem]
) -> Iterator[str]:
    link = item.superseded_by
    superseded = item.status is RegistrationStatus.SUPERSEDED
    if superseded and link is None:
        yield "status Superseded requires a superseded_by link"
    if not superseded and link is not None:
        yield f"has a superseded_by link but status {item.status.label}, not Superseded"
    if item.status is RegistrationStatus.RETIRED and item.effective_until is None:
        yield "status Retired requires effective_until"
    if link is None:
        return
    if link.by == item.ref:
        yield "cannot supersede itself"
        return
    if item.effective_until != link.on:
        yield f"effective_until must equal the supersession date {link.on}"
    if link.on < item.effective_from:
        yield f"superseded on {link.on}, before its effective_from {item.effective_from}"
    successor = by_ref.get(link.by)
    if successor is None:
        yield f"superseded_by {link.by} does not resolve"
    elif successor.item_type is not item.item_type:
        yield f"superseded_by {link.by} is a {successor.item_type}, not a {item.item_type}"
    elif successor.effective_from > link.on:
        yield f"superseded_by {link.by} only takes effect on {successor.effective_from}"
    elif _supersession_loops(item, by_ref):
        yield "supersession chain loops back to this item"


def _supersession_loops(item: AdministeredItem, by_ref: dict[ItemRef, AdministeredItem]) -> bool:
    seen = {item.ref}
    current: AdministeredItem | None = item
    while current is not None and current.superseded_by is not None:
        nxt = current.superseded_by.by
        if nxt in seen:
            return True
        seen.add(nxt)
        current = by_ref.get(nxt)
    return False


def _references(item: AdministeredItem) -> Iterator[tuple[str, ItemRef, type[AdministeredItem]]]:
    if isinstance(item, ValueDomain):
        yield "conceptual_domain", item.conceptual_domain, ConceptualDomain
    if isinstance(item, DataElementConcept):
        yield "object_class", item.object_class, ObjectClass
        yield "property", item.property, Property
        yield "conceptual_domain", item.conceptual_domain, ConceptualDomain
    if isinstance(item, DataElement):
        yield "data_element_concept", item.data_element_concept, DataElementConcept
        yield "value_domain", item.value_domain, ValueDomain


def _reference_problems(
    item: AdministeredItem, by_ref: dict[ItemRef, AdministeredItem]
) -> Iterator[str]:
    for field, ref, kind in _references(item):
        target = by_ref.get(ref)
        if target is None:
            yield f"{field} {ref} does not resolve"
        elif not isinstance(target, kind):
            yield f"{field} {ref} is a {target.item_type}, not a {kind.__name__}"
        elif item.status.is_current and not target.status.is_current:
            yield f"{field} {ref} is {target.status.label}; a current item may not use it"
        elif item.status.is_current and target.status < item.status:
            # Registration builds on its parts: a Standard element on a Candidate value
            # domain would claim more than the registry has agreed.
            yield (f"status {item.status.label} is above the status "
                   f"{target.status.label} of its {field} {ref}")


def _dated_uniqueness(
    label: str, rows: Iterable[tuple[str, date, date | None]]
) -> Iterator[str]:
    seen: dict[str, list[tuple[date, date | None]]] = {}
    for key, begin, end in rows:
        if end is not None and end <= begin:
            yield f"{label} {key!r}: end_date {end} must be after begin_date {begin}"
        for other_begin, other_end in seen.get(key, []):
            if (other_end is None or begin < other_end) and (end is None or other_begin < end):
                yield f"{label} {key!r} appears twice in overlapping periods"
        seen.setdefault(key, []).append((begin, end))


def _value_domain_problems(
    domain: ValueDomain, by_ref: dict[ItemRef, AdministeredItem]
) -> Iterator[str]:
    if domain.data_type not in DATA_TYPES:
        yield f"data_type {domain.data_type!r} is not one of {', '.join(sorted(DATA_TYPES))}"
    if domain.permissible_values and domain.data_type != "code":
        yield f"permissible values need data_type 'code', not {domain.data_type!r}"
    yield from _dated_uniqueness(
        "permissible value", ((pv.value, pv.begin_date, pv.end_date)
                              for pv in domain.permissible_values))
    if domain.max_length is not None:
        for pv in domain.permissible_values:
            if len(pv.value) > domain.max_length:
                yield (f"permissible value {pv.value!r} is longer than "
                       f"max_length {domain.max_length}")
    concept = by_ref.get(domain.conceptual_domain)
    if domain.permissible_values and isinstance(concept, ConceptualDomain):
        meanings = {vm.meaning for vm in concept.value_meanings}
        for pv in domain.permissible_values:
            if pv.meaning not in meanings:
                yield (f"permissible value {pv.value!r} means {pv.meaning!r}, which is not a "
                       f"value meaning of {domain.conceptual_domain}")


def _naming_problems(
    item: DataElementConcept | DataElement, by_ref: dict[ItemRef, AdministeredItem]
) -> Iterator[str]:
    """ISO/IEC 11179-5: `ObjectClass.Property[.RepresentationTerm]` from registered parts."""
    if isinstance(item, DataElement):
        concept = by_ref.get(item.data_element_concept)
        domain = by_ref.get(item.value_domain)
        if not isinstance(concept, DataElementConcept) or not isinstance(domain, ValueDomain):
            return  # reported as an unresolved reference
        stem, _, term = item.name.rpartition(".")
        if stem != concept.name:
            yield (f"name must be its concept's name {concept.name!r} plus a representation "
                   f"term, got {item.name!r}")
        allowed = REPRESENTATION_TERMS.get(term)
        if allowed is None:
            yield (f"representation term {term!r} is not one of "
                   f"{', '.join(REPRESENTATION_TERMS)}")
        elif domain.data_type not in allowed:
            yield (f"representation term {term!r} needs a value domain of type "
                   f"{' or '.join(sorted(allowed))}, but {domain.ref} is {domain.data_type!r}")
        elif term in TERMS_NEEDING_UNIT and domain.unit_of_measure is None:
            yield f"representation term {term!r} needs a unit of measure on {domain.ref}"
        if domain.conceptual_domain != concept.conceptual_domain:
            yield (f"value domain {domain.ref} represents {domain.conceptual_domain}, but "
                   f"its concept {concept.ref} has conceptual domain {concept.conceptual_domain}")
        return
    object_class = by_ref.get(item.object_class)
    prop = by_ref.get(item.property)
    if object_class is not None and prop is not None:
        expected = f"{object_class.name}.{prop.name}"
        if item.name != expected:
            yield f"name must be {expected!r} (object class . property), got {item.name!r}"


def _name_uniqueness_problems(registry: Registry) -> Iterator[str]:
    """Among current items of one type a name means one thing (11179-5 uniqueness)."""
    for section, items in (
        ("object_classes", registry.object_classes),
        ("properties", registry.properties),
        ("conceptual_domains", registry.conceptual_domains),
        ("value_domains", registry.value_domains),
        ("data_element_concepts", registry.data_element_concepts),
        ("data_elements", registry.data_elements),
    ):
        counts = Counter(item.name for item in items if item.status.is_current)
        for name, count in sorted(counts.items()):
            if count > 1:
                yield f"{section}: {count} current items are named {name!r}"
