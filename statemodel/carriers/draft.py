"""From a CarrierEvent to what to append: the catalogue event and a payload fragment.

The fragment holds only what the carrier message itself tells (source evidence, waybill,
carrier, time, place, and the constants the mapping implies such as scan_type), and only
fields that the target sub-state's schema declares and accepts. Required actionable
fields the carrier cannot know (e.g. a pickup code hash) are listed in
`missing_required`: the caller supplies them or the append fails with PayloadInvalid.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jsonschema import Draft202012Validator

from statemodel.carriers.event import CarrierEvent
from statemodel.carriers.mapping import Mapped, MappingBook, Unmappable
from statemodel.ecma_regex import EcmaDraft202012Validator
from statemodel.formats import make_format_checker
from statemodel.machine import get_machine

# Where the carrier's time, place name and place code go, by the name the target
# sub-state uses for them (each sub-state declares at most one of each kind).
TIME_FIELDS = (
    "scanned_at", "picked_up_at", "arrived_at", "deposited_at", "attempted_at", "signed_at",
    "rerouted_at", "declared_at", "released_at", "detected_at", "declared_lost_at",
    "dispatched_at", "received_at", "failed_at", "cancelled_at", "pick_started_at",
)
PLACE_NAME_FIELDS = (
    "hub_name", "origin_site_name", "station_name", "current_node_name", "facility_name",
    "detected_node_name", "last_known_node_name", "affected_node_name", "point_name",
    "node_name",
)
PLACE_CODE_FIELDS = (
    "hub_admin_code", "origin_admin_code", "station_admin_code", "current_node_admin_code",
    "facility_admin_code", "affected_admin_code", "point_admin_code",
)
# Scan direction from the raw text, used only when the mapping does not fix scan_type.
_ARRIVAL_WORDS = ("到达", "到件", "抵达", "已到", "arrived", "arrival")
_DEPARTURE_WORDS = ("发出", "发往", "离开", "已发", "departed", "departure")
_RAW_TEXT_MAX = 2000


@dataclass(frozen=True)
class AppendDraft:
    """The catalogue event to push and the payload fields the carrier message gives.

    `sub_state` is the sub-state whose schema was used: the event's one target, or the
    target from the current state; None when the event can lead to several sub-states
    and no current state was given (then only fields valid in every target are kept).
    """

    event: str
    payload: dict[str, Any]
    sub_state: str | None
    mapping: Mapped
    missing_required: tuple[str, ...]


def to_append(
    event: CarrierEvent,
    book: MappingBook,
    *,
    current_state: str | None = None,
    mapping_version: str | None = None,
    received_at: datetime | None = None,
) -> AppendDraft | Unmappable:
    """Map `event` with `book` (current table unless `mapping_version`) and derive a payload.

    Returns Unmappable when the table says so, or with `known=False` when no code of the
    event is in the table. With `current_state`, the target is where the machine says the
    event leads from there: raises UnknownState or IllegalTransition like
    `OrderMachine.target`. Raises UnknownMappingSource for an unknown source or version.
    """
    table = book.table(event.source, mapping_version)
    entry = book.resolve(event.source, event.codes, table.mapping_version)
    if entry is None:
        return Unmappable(
            source=event.source,
            mapping_version=table.mapping_version,
            raw_code=event.raw_code,
            reason=f"raw code(s) {', '.join(event.codes)} unknown to mapping table "
            f"{event.source}@{table.mapping_version}",
            known=False,
        )
    if isinstance(entry, Unmappable):
        return entry
    if current_state is not None:
        targets: tuple[str, ...] = (get_machine(book.catalogue).target(current_state, entry.event),)
    else:
        targets = book.targets(entry.event)
    validators = [_property_validators(book, code) for code in targets]
    payload = {}
    for name, value in _candidates(event, entry, received_at, validators).items():
        if not all(name in v for v in validators):
            continue
        fitted = _prune(value, [v[name] for v in validators])
        if all(v[name].is_valid(fitted) for v in validators):
            payload[name] = fitted
    sub_state = targets[0] if len(targets) == 1 else None
    missing: tuple[str, ...] = ()
    if sub_state is not None:
        required = book.catalogue.sub_states[sub_state].required_fields
        missing = tuple(name for name in required if name not in payload)
    return AppendDraft(entry.event, payload, sub_state, entry, missing)


def _candidates(
    event: CarrierEvent,
    entry: Mapped,
    received_at: datetime | None,
    validators: list[dict[str, Draft202012Validator]],
) -> dict[str, Any]:
    """Every field the message could fill; the caller keeps those the schema accepts."""
    declared = set.intersection(*(set(v) for v in validators)) if validators else set()
    values: dict[str, Any] = {"source": _source_object(event, entry, received_at)}
    if entry.reason_code:
        values["reason_code"] = entry.reason_code
    if entry.responsible_party:
        values["responsible_party"] = entry.responsible_party
    values["waybill_no"] = event.waybill_no.strip().upper()
    if event.carrier_code:
        values["carrier_code"] = event.carrier_code
    when = event.occurred_at.isoformat()
    values.update({name: when for name in TIME_FIELDS if name in declared})
    if event.location_name:
        name = event.location_name.strip()[:80]
        values.update({field: name for field in PLACE_NAME_FIELDS if field in declared})
    if event.location_admin_code:
        specific = [field for field in PLACE_CODE_FIELDS if field in declared]
        for field in specific or ["location_admin_code"]:
            values[field] = event.location_admin_code
    if "scan_type" in declared:
        inferred = infer_scan_type(event.raw_text)
        if inferred is not None:
            values["scan_type"] = inferred
    values.update(entry.fields)  # the table's constants beat any inference
    return values


def _source_object(
    event: CarrierEvent, entry: Mapped, received_at: datetime | None
) -> dict[str, Any]:
    source: dict[str, Any] = {
        "system": event.source,
        "raw_code": entry.raw_code,
        "raw_text": event.raw_text[:_RAW_TEXT_MAX],
        "mapping_version": entry.mapping_version,
    }
    reference = event.event_id or event.notification_id
    if reference:
        source["event_id"] = reference
    if received_at is not None:
        source["received_at"] = received_at.isoformat()
    return source


def _prune(value: Any, validators: list[Draft202012Validator]) -> Any:
    """An object without the keys its schemas reject (e.g. an event id outside the
    catalogue's pattern), so that one odd member does not cost the whole `source`."""
    if not isinstance(value, dict):
        return value
    kept = dict(value)
    for validator in validators:
        schema = validator.schema
        members = schema.get("properties", {}) if isinstance(schema, Mapping) else {}
        for key in list(kept):
            if key in members and not validator.evolve(schema=members[key]).is_valid(kept[key]):
                del kept[key]
    return kept


def infer_scan_type(raw_text: str) -> str | None:
    """`arrival` or `departure` when the text says exactly one of them, else None."""
    lowered = raw_text.lower()
    arrival = any(word in lowered for word in _ARRIVAL_WORDS)
    departure = any(word in lowered for word in _DEPARTURE_WORDS)
    if arrival == departure:
        return None
    return "arrival" if arrival else "departure"


_validator_cache: dict[tuple[str, str], dict[str, Draft202012Validator]] = {}


def _property_validators(book: MappingBook, sub_state: str) -> dict[str, Draft202012Validator]:
    """One validator per payload property of `sub_state` (common payload included), cached."""
    key = (book.catalogue.digest, sub_state)
    cached = _validator_cache.get(key)
    if cached is None:
        checker = make_format_checker()
        properties: Mapping[str, Any] = book.catalogue.payload_schema(sub_state)["properties"]
        cached = {name: EcmaDraft202012Validator(schema, format_checker=checker)
                  for name, schema in properties.items()}
        _validator_cache[key] = cached
    return cached
