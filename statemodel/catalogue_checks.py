"""Consistency rules a catalogue document must meet beyond its meta-schema.

Each rule raises CatalogueInvalid with a message that names the JSON path (and the
sub-state code) it concerns. The document given here has already passed the
meta-schema, so its shape is known; these rules check meaning across entries.
"""

from __future__ import annotations

import functools
import json
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from statemodel.errors import CatalogueInvalid
from statemodel.formats import CHECKED_FORMATS, DATA_ELEMENT_KEYWORD, parse_data_element_name
from statemodel.sla import DeadlineRule, parse_duration

ANY_NON_FINAL = "*"
_COMBINATORS = ("allOf", "anyOf", "oneOf")
# Keywords that annotate and do not restrict: ignored when comparing two uses of one
# data element (their value domains must be the same, their wording may differ).
_ANNOTATIONS = frozenset({"description", "title", "examples", "$comment"})


def json_path(parts: Iterable[str | int]) -> str:
    """`$.sub_states[3].payload` style path of a document location."""
    text = "$"
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def expand_from(source: str | Sequence[str], non_final: Sequence[str]) -> list[str]:
    """A transition's `from`: the list itself, or every non-final code for `"*"`."""
    return list(non_final) if source == ANY_NON_FINAL else list(source)


def check_consistency(document: Mapping[str, Any]) -> None:
    """Run every rule in order; the first breach raises CatalogueInvalid."""
    _check_unique_codes(document)
    _check_references(document)
    _check_creations(document)
    _check_transitions(document)
    _check_payloads(document)
    _check_data_elements(document)
    _check_timers(document)


def _subs(document: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """(path prefix naming the code, sub-state entry) pairs."""
    return [
        (f"$.sub_states[{index}] ({entry['code']})", entry)
        for index, entry in enumerate(document["sub_states"])
    ]


def _duplicates(values: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    repeated: set[str] = set()
    for value in values:
        (repeated if value in seen else seen).add(value)
    return sorted(repeated)


def _check_unique_codes(document: Mapping[str, Any]) -> None:
    lists = {
        "responsible_parties": [p["code"] for p in document["responsible_parties"]],
        "main_states": [m["code"] for m in document["main_states"]],
        "sub_states": [s["code"] for s in document["sub_states"]],
        "events": [e["name"] for e in document["events"]],
    }
    for where, values in lists.items():
        duplicated = _duplicates(values)
        if duplicated:
            raise CatalogueInvalid(f"$.{where}: duplicate code(s) {', '.join(duplicated)}")
    for prefix, sub in _subs(document):
        duplicated = _duplicates(timer["name"] for timer in sub["timers"])
        if duplicated:
            raise CatalogueInvalid(f"{prefix}.timers: duplicate timer name(s) {duplicated}")


def _check_references(document: Mapping[str, Any]) -> None:
    mains = {m["code"] for m in document["main_states"]}
    parties = {p["code"] for p in document["responsible_parties"]}
    used_mains: set[str] = set()
    for prefix, sub in _subs(document):
        if sub["main"] not in mains:
            raise CatalogueInvalid(f"{prefix}.main: unknown main state {sub['main']!r}")
        if not sub["code"].startswith(sub["main"] + "."):
            raise CatalogueInvalid(
                f"{prefix}.code: {sub['code']!r} does not belong to main state {sub['main']!r}"
            )
        used_mains.add(sub["main"])
        for party in sub["responsible"]:
            if party not in parties:
                raise CatalogueInvalid(f"{prefix}.responsible: unknown party {party!r}")
    empty = sorted(mains - used_mains)
    if empty:
        raise CatalogueInvalid(f"$.main_states: main state(s) without sub-states: {empty}")


def _check_creations(document: Mapping[str, Any]) -> None:
    subs = {s["code"]: s for s in document["sub_states"]}
    events = {e["name"] for e in document["events"]}
    targets: dict[str, str] = {}
    for index, creation in enumerate(document["creations"]):
        where = f"$.creations[{index}]"
        if creation["event"] not in events:
            raise CatalogueInvalid(f"{where}.event: unknown event {creation['event']!r}")
        if creation["to"] not in subs:
            raise CatalogueInvalid(f"{where}.to: unknown sub-state {creation['to']!r}")
        if not subs[creation["to"]]["initial"]:
            raise CatalogueInvalid(f"{where}.to: {creation['to']} is not an initial sub-state")
        if creation["event"] in targets:
            raise CatalogueInvalid(
                f"{where}: creation event {creation['event']!r} already leads to "
                f"{targets[creation['event']]}"
            )
        targets[creation["event"]] = creation["to"]
    created = set(targets.values())
    for prefix, sub in _subs(document):
        if sub["initial"] and sub["code"] not in created:
            raise CatalogueInvalid(f"{prefix}: initial sub-state has no creation")


def _check_transitions(document: Mapping[str, Any]) -> None:
    subs = {s["code"]: s for s in document["sub_states"]}
    non_final = [code for code, sub in subs.items() if not sub["final"]]
    events = {e["name"] for e in document["events"]}
    edges: dict[tuple[str, str], str] = {}
    for index, transition in enumerate(document["transitions"]):
        where = f"$.transitions[{index}]"
        event = transition["event"]
        if event not in events:
            raise CatalogueInvalid(f"{where}.event: unknown event {event!r}")
        if transition["to"] not in subs:
            raise CatalogueInvalid(f"{where}.to: unknown sub-state {transition['to']!r}")
        for source in expand_from(transition["from"], non_final):
            if source not in subs:
                raise CatalogueInvalid(f"{where}.from: unknown sub-state {source!r}")
            if subs[source]["final"]:
                raise CatalogueInvalid(f"{where}.from: {source} is final and cannot be left")
            if (event, source) in edges:
                raise CatalogueInvalid(
                    f"{where}: event {event!r} from {source} is ambiguous: it already "
                    f"leads to {edges[(event, source)]}"
                )
            edges[(event, source)] = transition["to"]
    used = {event for event, _ in edges} | {c["event"] for c in document["creations"]}
    unused = sorted(events - used)
    if unused:
        raise CatalogueInvalid(f"$.events: declared but never used: {', '.join(unused)}")
    leaving = {source for _, source in edges}
    for prefix, sub in _subs(document):
        if not sub["final"] and sub["code"] not in leaving:
            raise CatalogueInvalid(f"{prefix}: non-final sub-state has no outgoing transition")
    _check_reachable(document, edges)


def _check_reachable(document: Mapping[str, Any], edges: Mapping[tuple[str, str], str]) -> None:
    successors: dict[str, set[str]] = {}
    for (_, source), target in edges.items():
        successors.setdefault(source, set()).add(target)
    reached = {s["code"] for s in document["sub_states"] if s["initial"]}
    queue = deque(reached)
    while queue:
        for target in successors.get(queue.popleft(), ()):
            if target not in reached:
                reached.add(target)
                queue.append(target)
    for prefix, sub in _subs(document):
        if sub["code"] not in reached:
            raise CatalogueInvalid(f"{prefix}: not reachable from any initial sub-state")


def _check_payloads(document: Mapping[str, Any]) -> None:
    common = document["common_payload"]
    for name, schema in common.items():
        _check_schema(schema, f"$.common_payload.{name}")
    for prefix, sub in _subs(document):
        payload = sub["payload"]
        properties = payload["properties"]
        missing = [name for name in payload["required"] if name not in properties]
        if missing:
            raise CatalogueInvalid(
                f"{prefix}.payload.required: {missing} not declared in its properties"
            )
        clash = sorted(set(properties) & set(common))
        if clash:
            raise CatalogueInvalid(
                f"{prefix}.payload.properties: {clash} already declared in common_payload"
            )
        _check_schema(payload, f"{prefix}.payload")


@functools.lru_cache(maxsize=1024)
def _check_schema_text(canonical_text: str) -> None:
    """check_schema, remembered per schema: catalogue versions share most payloads."""
    Draft202012Validator.check_schema(json.loads(canonical_text))


def _check_schema(schema: Any, where: str) -> None:
    try:
        _check_schema_text(json.dumps(schema, sort_keys=True, ensure_ascii=False))
    except SchemaError as exc:
        inner = json_path(exc.absolute_path).removeprefix("$")
        raise CatalogueInvalid(
            f"{where}{inner}: not a valid draft 2020-12 schema: {exc.message}"
        ) from exc
    for path, key, value in _keywords(schema, where):
        if key == "format" and isinstance(value, str) and value not in CHECKED_FORMATS:
            raise CatalogueInvalid(
                f"{path}: format {value!r} is not checked by orderledger "
                f"(use {', '.join(sorted(CHECKED_FORMATS))} or a pattern)"
            )
        if key in ("$ref", "$dynamicRef"):
            raise CatalogueInvalid(f"{path}: payload schemas must be self-contained ({key})")


def _keywords(node: Any, path: str) -> Iterator[tuple[str, str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield path, key, value
            yield from _keywords(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _keywords(item, f"{path}[{index}]")


def declared_properties(
    schema: Mapping[str, Any], path: str
) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every property a payload schema declares, nested ones included, with its path.

    Walks `properties`, array `items` and allOf/anyOf/oneOf branches (not `if`/`then`:
    those only constrain properties declared elsewhere).
    """
    properties = schema.get("properties")
    if isinstance(properties, Mapping):
        for name, sub in properties.items():
            if not isinstance(sub, Mapping):
                continue
            sub_path = f"{path}.{name}"
            yield sub_path, sub
            yield from declared_properties(sub, sub_path)
            items, item_path = sub.get("items"), sub_path
            while isinstance(items, Mapping):
                item_path += "[]"
                yield from declared_properties(items, item_path)
                items = items.get("items")
    for key in _COMBINATORS:
        for branch in schema.get(key) or []:
            if isinstance(branch, Mapping):
                yield from declared_properties(branch, path)


def _value_domain(schema: Any) -> Any:
    """The schema with annotations removed: what two uses of one element must share."""
    if isinstance(schema, dict):
        return {k: _value_domain(v) for k, v in schema.items() if k not in _ANNOTATIONS}
    if isinstance(schema, list):
        return [_value_domain(item) for item in schema]
    return schema


def _check_data_elements(document: Mapping[str, Any]) -> None:
    schemas = [("$.common_payload", {"properties": document["common_payload"]})]
    schemas += [(f"{prefix}.payload", sub["payload"]) for prefix, sub in _subs(document)]
    first_use: dict[str, tuple[str, Any]] = {}
    for where, schema in schemas:
        for path, prop in declared_properties(schema, where):
            name = prop.get(DATA_ELEMENT_KEYWORD)
            if not isinstance(name, str):
                raise CatalogueInvalid(f"{path}: property has no {DATA_ELEMENT_KEYWORD}")
            try:
                parse_data_element_name(name)
            except ValueError as exc:
                raise CatalogueInvalid(f"{path}.{DATA_ELEMENT_KEYWORD}: {exc}") from exc
            domain = _value_domain(prop)
            if name not in first_use:
                first_use[name] = (path, domain)
            elif first_use[name][1] != domain:
                raise CatalogueInvalid(
                    f"{path}: data element {name} is used with a different value domain "
                    f"than at {first_use[name][0]} (one element, one schema)"
                )


def _check_timers(document: Mapping[str, Any]) -> None:
    events = {e["name"] for e in document["events"]}
    self_loops = _self_loops(document)
    for prefix, sub in _subs(document):
        properties = sub["payload"]["properties"]
        for index, timer in enumerate(sub["timers"]):
            where = f"{prefix}.timers[{index}]"
            try:
                rule = DeadlineRule.parse(timer["deadline"])
                for before in timer.get("warn_before", ()):
                    parse_duration(before)
            except ValueError as exc:
                raise CatalogueInvalid(f"{where}: {exc}") from exc
            field = rule.payload_field
            if field is not None:
                if field not in properties:
                    raise CatalogueInvalid(
                        f"{where}.deadline: payload.{field} is not a field of {sub['code']}"
                    )
                if properties[field].get("format") != "date-time":
                    raise CatalogueInvalid(
                        f"{where}.deadline: payload.{field} is not a date-time field"
                    )
            for event in timer.get("disarm_on", ()):
                if event not in events:
                    raise CatalogueInvalid(f"{where}.disarm_on: unknown event {event!r}")
                if event not in self_loops.get(sub["code"], set()):
                    raise CatalogueInvalid(
                        f"{where}.disarm_on: {event!r} does not lead from {sub['code']} back "
                        "to itself, and leaving a sub-state disarms its timers anyway"
                    )


def _self_loops(document: Mapping[str, Any]) -> dict[str, set[str]]:
    non_final = [s["code"] for s in document["sub_states"] if not s["final"]]
    loops: dict[str, set[str]] = {}
    for transition in document["transitions"]:
        for source in expand_from(transition["from"], non_final):
            if source == transition["to"]:
                loops.setdefault(source, set()).add(transition["event"])
    return loops
