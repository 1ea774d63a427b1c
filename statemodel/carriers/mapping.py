"""Carrier raw-code mapping tables: load, check against the catalogue, look up.

A mapping table is data (`statemodel/carriers/data/<source>.yaml`), keyed by
(source, raw_code, mapping_version) as DOMAIN.md §5 asks. Every raw code is either
mapped to a catalogue event (with optional reason code, responsible party and payload
constants) or explicitly unmappable with a reason. Loading validates each table against
`mapping.schema.json`, then against the state catalogue: events, parties, reason codes
and payload constants must exist there. Any failure raises MappingInvalid naming the
table and the entry.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from statemodel.catalogue import Catalogue, load_catalogue
from statemodel.ecma_regex import EcmaDraft202012Validator
from statemodel.errors import InvalidInput, OrderledgerError
from statemodel.formats import json_type_problem, load_yaml, make_format_checker

DATA_DIR = Path(__file__).parent / "data"
SCHEMA_PATH = DATA_DIR / "mapping.schema.json"
REASON_CODES_PATH = DATA_DIR / "_reason_codes.yaml"
MAPPING_FORMAT = "orderledger.carrier-mapping.v1"
# Payload keys a table sets through their own entry keys, never through `fields`.
_RESERVED_FIELDS = frozenset({"source", "reason_code", "responsible_party"})

FieldValue = str | bool | int


class MappingInvalid(OrderledgerError):
    """A mapping table fails its schema or disagrees with the state catalogue."""


class UnknownMappingSource(InvalidInput):
    """A source or mapping version that no loaded table declares."""


@dataclass(frozen=True)
class Mapped:
    """A raw code that maps to a catalogue event (valid in some states; the machine decides)."""

    source: str
    mapping_version: str
    raw_code: str
    event: str
    text_en: str
    citation: str
    text_zh: str | None = None
    reason_code: str | None = None
    responsible_party: str | None = None
    fields: Mapping[str, FieldValue] = field(default_factory=lambda: MappingProxyType({}))
    note: str | None = None


@dataclass(frozen=True)
class Unmappable:
    """A raw code with no catalogue event, and why. `known=False`: not in the table at all."""

    source: str
    mapping_version: str
    raw_code: str
    reason: str
    text_en: str | None = None
    citation: str | None = None
    text_zh: str | None = None
    note: str | None = None
    known: bool = True


@dataclass(frozen=True)
class MappingCounts:
    mapped: int
    unmappable: int

    @property
    def total(self) -> int:
        return self.mapped + self.unmappable

    def __add__(self, other: MappingCounts) -> MappingCounts:
        return MappingCounts(self.mapped + other.mapped, self.unmappable + other.unmappable)


@dataclass(frozen=True, eq=False)
class MappingTable:
    """One validated table: one source at one mapping version."""

    source: str
    mapping_version: str
    catalogue_version: str
    effective_from: str
    title: str
    code_convention: str
    citations: Mapping[str, str]
    entries: Mapping[str, Mapped | Unmappable]

    @property
    def counts(self) -> MappingCounts:
        mapped = sum(1 for entry in self.entries.values() if isinstance(entry, Mapped))
        return MappingCounts(mapped=mapped, unmappable=len(self.entries) - mapped)


class MappingBook:
    """Every loaded table, by source and version; read-only once built."""

    def __init__(
        self, tables: Iterable[MappingTable], catalogue: Catalogue, reason_codes: Iterable[str]
    ) -> None:
        self.catalogue = catalogue
        self.reason_codes = frozenset(reason_codes)
        by_source: dict[str, dict[str, MappingTable]] = {}
        for table in tables:
            versions = by_source.setdefault(table.source, {})
            if table.mapping_version in versions:
                raise MappingInvalid(
                    f"two mapping tables for {table.source}@{table.mapping_version}"
                )
            versions[table.mapping_version] = table
        self._tables = by_source

    def sources(self) -> tuple[str, ...]:
        return tuple(sorted(self._tables))

    def versions(self, source: str) -> tuple[str, ...]:
        """The source's mapping versions, oldest first. Raises UnknownMappingSource."""
        return tuple(sorted(self._versions_of(source), key=version_key))

    def current_version(self, source: str) -> str:
        """The newest mapping version of `source`: what new events are mapped with."""
        return self.versions(source)[-1]

    def table(self, source: str, mapping_version: str | None = None) -> MappingTable:
        """The table of `source` at `mapping_version` (None: the current one).

        Raises UnknownMappingSource for an unknown source or version.
        """
        versions = self._versions_of(source)
        version = mapping_version or self.current_version(source)
        if version not in versions:
            raise UnknownMappingSource(
                f"no mapping table {source}@{version}; "
                f"versions: {', '.join(self.versions(source))}",
                field="mapping_version",
            )
        return versions[version]

    def lookup(
        self, source: str, raw_code: str, mapping_version: str | None = None
    ) -> Mapped | Unmappable | None:
        """What `raw_code` means; None when the table does not know the code.

        Raises UnknownMappingSource for an unknown source or version.
        """
        return self.table(source, mapping_version).entries.get(raw_code)

    def resolve(
        self, source: str, raw_codes: Sequence[str], mapping_version: str | None = None
    ) -> Mapped | Unmappable | None:
        """The first code (most specific first) that maps; else the first known one; else None."""
        found = [self.lookup(source, code, mapping_version) for code in raw_codes]
        known = [entry for entry in found if entry is not None]
        mapped = [entry for entry in known if isinstance(entry, Mapped)]
        if mapped:
            return mapped[0]
        return known[0] if known else None

    def counts(self) -> dict[str, MappingCounts]:
        """Counts of each source's current table."""
        return {source: self.table(source).counts for source in self.sources()}

    def total(self) -> MappingCounts:
        return sum(self.counts().values(), MappingCounts(0, 0))

    def targets(self, event: str) -> tuple[str, ...]:
        """The sub-states `event` can lead to, sorted (one for almost every carrier event)."""
        return tuple(sorted({t.to for t in self.catalogue.transitions if t.event == event}))

    def _versions_of(self, source: str) -> dict[str, MappingTable]:
        versions = self._tables.get(source)
        if versions is None:
            raise UnknownMappingSource(
                f"no mapping tables for source {source!r}; sources: {', '.join(self.sources())}",
                field="source",
            )
        return versions


def version_key(version: str) -> tuple[int, ...]:
    """`2026.10` sorts after `2026.9`: compare the dotted numbers as integers."""
    return tuple(int(part) for part in version.split("."))


def load_mappings(data_dir: Path | None = None, catalogue: Catalogue | None = None) -> MappingBook:
    """Load and check every `<source>.yaml` in `data_dir` (the packaged tables by default).

    Files whose names start with `_` are not tables. The default book (packaged data,
    packaged catalogue) is built once and cached. Raises MappingInvalid for an unreadable
    file, invalid YAML, a schema violation or a disagreement with the catalogue.
    """
    if data_dir is None and catalogue is None:
        return _default_book()
    return _load(data_dir or DATA_DIR, catalogue or load_catalogue())


@functools.cache
def _default_book() -> MappingBook:
    return _load(DATA_DIR, load_catalogue())


def _load(data_dir: Path, catalogue: Catalogue) -> MappingBook:
    paths = sorted(p for p in data_dir.glob("*.yaml") if not p.name.startswith("_"))
    if not paths:
        raise MappingInvalid(f"no mapping tables in {data_dir}")
    reason_codes = load_reason_codes()
    return mapping_book_from_documents([_read(path) for path in paths], catalogue, reason_codes)


def _read(path: Path) -> Any:
    try:
        return load_yaml(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise MappingInvalid(f"cannot read mapping table {path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise MappingInvalid(f"mapping table {path} is not valid YAML: {exc}") from exc


@functools.cache
def load_reason_codes() -> frozenset[str]:
    """The controlled reason-code vocabulary (`data/_reason_codes.yaml`)."""
    document = _read(REASON_CODES_PATH)
    return frozenset(entry["code"] for entry in document["reason_codes"])


def mapping_book_from_documents(
    documents: Iterable[Any], catalogue: Catalogue, reason_codes: Iterable[str] | None = None
) -> MappingBook:
    """Check table documents (plain JSON values) and build a book; documents are not changed.

    Raises MappingInvalid naming the table and entry of the first problem.
    """
    vocabulary = frozenset(load_reason_codes() if reason_codes is None else reason_codes)
    checker = _CatalogueChecker(catalogue, vocabulary)
    tables = [checker.table(document) for document in documents]
    return MappingBook(tables, catalogue, vocabulary)


@functools.cache
def mapping_schema() -> Mapping[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return MappingProxyType(loaded)


@functools.cache
def _schema_validator() -> Draft202012Validator:
    return Draft202012Validator(dict(mapping_schema()), format_checker=make_format_checker())


def _json_path(parts: Iterable[Any]) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)


def _deepest(error: ValidationError) -> ValidationError:
    """For oneOf failures the most specific branch error says more."""
    while error.context:
        error = max(error.context, key=lambda sub: len(sub.absolute_path))
    return error


class _CatalogueChecker:
    """Checks table documents against the schema and one catalogue; builds MappingTables."""

    def __init__(self, catalogue: Catalogue, reason_codes: frozenset[str]) -> None:
        self.catalogue = catalogue
        self.reason_codes = reason_codes
        triggers = {t.event for t in catalogue.transitions}
        self.targets = {e: sorted({t.to for t in catalogue.transitions if t.event == e})
                        for e in triggers}
        self.reason_validator = EcmaDraft202012Validator(
            dict(catalogue.common_payload["reason_code"]))
        checker = make_format_checker()
        self.property_validators: dict[str, dict[str, Draft202012Validator]] = {
            code: {name: EcmaDraft202012Validator(schema, format_checker=checker)
                   for name, schema in catalogue.payload_schema(code)["properties"].items()}
            for code in catalogue.sub_states
        }

    def table(self, document: Any) -> MappingTable:
        problem = json_type_problem(document)
        if problem is not None:
            raise MappingInvalid(f"mapping table is not a plain JSON value: {problem}")
        errors = sorted(_schema_validator().iter_errors(document),
                        key=lambda e: (_json_path(e.absolute_path), e.message))
        if errors:
            first = _deepest(errors[0])
            name = document.get("source", "?") if isinstance(document, dict) else "?"
            raise MappingInvalid(f"mapping table {name} fails its schema at "
                                 f"{_json_path(first.absolute_path)}: {first.message}")
        label = f"{document['source']}@{document['mapping_version']}"
        if document["catalogue_version"] != self.catalogue.version:
            raise MappingInvalid(f"mapping table {label} targets catalogue "
                                 f"{document['catalogue_version']}, "
                                 f"loaded is {self.catalogue.version}")
        entries: dict[str, Mapped | Unmappable] = {}
        for index, raw in enumerate(document["codes"]):
            where = f"mapping table {label} codes[{index}] (code {raw['code']!r})"
            if raw["code"] in entries:
                raise MappingInvalid(f"{where}: duplicate raw code")
            if raw["cite"] not in document["citations"]:
                raise MappingInvalid(f"{where}: cites {raw['cite']!r}, not in citations")
            entries[raw["code"]] = self._entry(document, raw, where)
        return MappingTable(
            source=document["source"], mapping_version=document["mapping_version"],
            catalogue_version=document["catalogue_version"],
            effective_from=document["effective_from"], title=document["title"],
            code_convention=document["code_convention"],
            citations=MappingProxyType(dict(document["citations"])),
            entries=MappingProxyType(entries),
        )

    def _entry(self, document: Mapping[str, Any], raw: Mapping[str, Any], where: str
               ) -> Mapped | Unmappable:
        common = {"source": document["source"], "mapping_version": document["mapping_version"],
                  "raw_code": raw["code"], "text_en": raw["text_en"],
                  "text_zh": raw.get("text_zh"), "citation": document["citations"][raw["cite"]],
                  "note": raw.get("note")}
        if "unmappable" in raw:
            return Unmappable(reason=raw["unmappable"], **common)
        event = raw["event"]
        if event not in self.catalogue.events:
            raise MappingInvalid(f"{where}: event {event!r} is not a catalogue event")
        if event not in self.targets:
            raise MappingInvalid(f"{where}: event {event!r} triggers no catalogue transition")
        party = raw.get("responsible_party")
        if party is not None and party not in self.catalogue.responsible_parties:
            raise MappingInvalid(f"{where}: responsible_party {party!r} is not in the catalogue")
        reason = raw.get("reason_code")
        if reason is not None and (reason not in self.reason_codes
                                   or not self.reason_validator.is_valid(reason)):
            raise MappingInvalid(f"{where}: reason_code {reason!r} is not a known reason code")
        fields = dict(raw.get("fields", {}))
        for name, value in fields.items():
            self._check_field(event, name, value, where)
        return Mapped(event=event, reason_code=reason, responsible_party=party,
                      fields=MappingProxyType(fields), **common)

    def _check_field(self, event: str, name: str, value: FieldValue, where: str) -> None:
        if name in _RESERVED_FIELDS:
            raise MappingInvalid(f"{where}: field {name!r} is set by its own key, not `fields`")
        declaring = [code for code in self.targets[event] if name in self.property_validators[code]]
        if not declaring:
            raise MappingInvalid(f"{where}: field {name!r} is declared by no sub-state that "
                                 f"{event!r} leads to ({', '.join(self.targets[event])})")
        for code in declaring:
            if not self.property_validators[code][name].is_valid(value):
                raise MappingInvalid(f"{where}: field {name}={value!r} is not valid in {code}")
