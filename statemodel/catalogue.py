"""The state catalogue: load a catalogue document, validate it, and give a typed view.

The document is data (`statemodel/data/catalogue.yaml`); what is hashed and named by
every ledger record is the plain JSON value it loads to (`Catalogue.document`, digest
`Catalogue.digest`, evidence-format §5). Loading validates the document against the
meta-schema `statemodel/data/catalogue.schema.json` and then against the consistency
rules of `statemodel.catalogue_checks`; any failure raises CatalogueInvalid naming
where in the document it is.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from statemodel.canonical import document_digest
from statemodel.catalogue_checks import check_consistency, expand_from, json_path
from statemodel.errors import CatalogueInvalid
from statemodel.formats import json_type_problem, load_yaml, make_format_checker
from statemodel.sla import TimerSpec

DATA_DIR = Path(__file__).parent / "data"
DEFAULT_CATALOGUE_PATH = DATA_DIR / "catalogue.yaml"
META_SCHEMA_PATH = DATA_DIR / "catalogue.schema.json"
CATALOGUE_FORMAT = "orderledger.catalogue.v1"
ANY_NON_FINAL = "*"


@dataclass(frozen=True)
class ResponsibleParty:
    code: str
    name_zh: str
    name_en: str


@dataclass(frozen=True)
class MainState:
    code: str
    name_zh: str
    name_en: str
    definition_zh: str
    definition_en: str


@dataclass(frozen=True)
class Action:
    code: str
    description_zh: str
    description_en: str


@dataclass(frozen=True, eq=False)
class SubState:
    """One sub-state. `payload_schema` is its own schema (without `common_payload`)."""

    code: str
    main: str
    initial: bool
    final: bool
    name_zh: str
    name_en: str
    definition_zh: str
    definition_en: str
    action: Action
    responsible: tuple[str, ...]
    payload_schema: Mapping[str, Any]
    timers: tuple[TimerSpec, ...]
    sources: tuple[str, ...]

    @property
    def required_fields(self) -> tuple[str, ...]:
        """The actionable fields every payload entering this sub-state must carry."""
        return tuple(self.payload_schema["required"])


@dataclass(frozen=True)
class EventSpec:
    name: str
    description_zh: str
    description_en: str


@dataclass(frozen=True)
class Creation:
    """How seq 0 of an order starts: `event` creates the order in sub-state `to`."""

    event: str
    to: str


@dataclass(frozen=True)
class Transition:
    """A declared edge set. `from_states` is expanded; `from_any` records a `"*"`."""

    event: str
    from_states: tuple[str, ...]
    to: str
    from_any: bool


@dataclass(frozen=True, eq=False)
class Catalogue:
    """Typed, read-only view of a validated catalogue document.

    Treat every mapping here as read-only; `document` returns a fresh copy so that no
    caller can change what `digest` was computed over.
    """

    id: str
    version: str
    effective_from: str
    title: str
    digest: str
    responsible_parties: Mapping[str, ResponsibleParty]
    main_states: Mapping[str, MainState]
    sub_states: Mapping[str, SubState]
    events: Mapping[str, EventSpec]
    common_payload: Mapping[str, Any]
    creations: tuple[Creation, ...]
    transitions: tuple[Transition, ...]
    _document: dict[str, Any] = field(repr=False)

    @property
    def document(self) -> dict[str, Any]:
        """A deep copy of the plain JSON document this catalogue was built from."""
        return copy.deepcopy(self._document)

    def edges(self) -> Iterator[tuple[str, str, str]]:
        """Every declared (event, from sub-state, to sub-state), `"*"` expanded."""
        for transition in self.transitions:
            for source in transition.from_states:
                yield transition.event, source, transition.to

    def payload_schema(self, sub_state: str) -> dict[str, Any]:
        """The sub-state's payload schema merged with `common_payload` (a fresh dict).

        Raises KeyError for an unknown code.
        """
        own = copy.deepcopy(dict(self.sub_states[sub_state].payload_schema))
        own["properties"] = {**copy.deepcopy(dict(self.common_payload)), **own["properties"]}
        return own


def load_catalogue(path: Path | None = None) -> Catalogue:
    """Load and validate a catalogue file (YAML or JSON); the packaged one by default.

    The default catalogue is loaded once and cached. Raises CatalogueInvalid when the
    file cannot be read or parsed, or the document fails validation.
    """
    if path is None:
        return _default_catalogue()
    return _load_path(path)


@functools.cache
def _default_catalogue() -> Catalogue:
    return _load_path(DEFAULT_CATALOGUE_PATH)


def _load_path(path: Path) -> Catalogue:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogueInvalid(f"cannot read catalogue {path}: {exc}") from exc
    try:
        document = load_yaml(text)
    except yaml.YAMLError as exc:
        raise CatalogueInvalid(f"catalogue {path} is not valid YAML: {exc}") from exc
    return catalogue_from_document(document)


def catalogue_from_document(document: Any) -> Catalogue:
    """Validate a catalogue document (e.g. from a database or a bundle) and view it typed.

    The document is copied, never changed. Raises CatalogueInvalid naming the JSON path
    of the first problem: not plain JSON, meta-schema violation, or a consistency rule.
    """
    problem = json_type_problem(document)
    if problem is not None:
        raise CatalogueInvalid(f"catalogue is not a plain JSON value: {problem}")
    document = copy.deepcopy(document)
    _check_meta_schema(document)
    check_consistency(document)
    try:
        digest = document_digest(document)
    except ValueError as exc:
        raise CatalogueInvalid(f"catalogue cannot be canonicalized: {exc}") from exc
    return _build(document, digest)


@functools.cache
def meta_schema() -> Mapping[str, Any]:
    """The catalogue meta-schema (draft 2020-12), read once."""
    loaded: dict[str, Any] = json.loads(META_SCHEMA_PATH.read_text(encoding="utf-8"))
    return MappingProxyType(loaded)


@functools.cache
def _meta_validator() -> Draft202012Validator:
    return Draft202012Validator(dict(meta_schema()), format_checker=make_format_checker())


def _check_meta_schema(document: Any) -> None:
    errors = sorted(
        _meta_validator().iter_errors(document),
        key=lambda error: (json_path(error.absolute_path), error.message),
    )
    if errors:
        first = _deepest(errors[0])
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise CatalogueInvalid(
            f"catalogue fails its meta-schema at {json_path(first.absolute_path)}: "
            f"{first.message}{more}"
        )


def _deepest(error: ValidationError) -> ValidationError:
    """For oneOf/anyOf failures the most specific branch error says more."""
    while error.context:
        error = max(error.context, key=lambda sub: len(sub.absolute_path))
    return error


def _build(document: dict[str, Any], digest: str) -> Catalogue:
    non_final = [s["code"] for s in document["sub_states"] if not s["final"]]
    return Catalogue(
        id=document["id"],
        version=document["version"],
        effective_from=document["effective_from"],
        title=document["title"],
        digest=digest,
        responsible_parties=MappingProxyType(
            {p["code"]: ResponsibleParty(**p) for p in document["responsible_parties"]}
        ),
        main_states=MappingProxyType({m["code"]: MainState(**m) for m in document["main_states"]}),
        sub_states=MappingProxyType({s["code"]: _sub_state(s) for s in document["sub_states"]}),
        events=MappingProxyType({e["name"]: EventSpec(**e) for e in document["events"]}),
        common_payload=MappingProxyType(copy.deepcopy(document["common_payload"])),
        creations=tuple(Creation(event=c["event"], to=c["to"]) for c in document["creations"]),
        transitions=tuple(
            Transition(
                event=t["event"],
                from_states=tuple(expand_from(t["from"], non_final)),
                to=t["to"],
                from_any=t["from"] == ANY_NON_FINAL,
            )
            for t in document["transitions"]
        ),
        _document=document,
    )


def _sub_state(entry: Mapping[str, Any]) -> SubState:
    return SubState(
        code=entry["code"],
        main=entry["main"],
        initial=entry["initial"],
        final=entry["final"],
        name_zh=entry["name_zh"],
        name_en=entry["name_en"],
        definition_zh=entry["definition_zh"],
        definition_en=entry["definition_en"],
        action=Action(**entry["action"]),
        responsible=tuple(entry["responsible"]),
        payload_schema=MappingProxyType(copy.deepcopy(entry["payload"])),
        timers=tuple(TimerSpec.from_document(timer) for timer in entry["timers"]),
        sources=tuple(entry["sources"]),
    )
