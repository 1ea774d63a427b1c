"""One order's evidence as the console page and the PDF report show it.

`order_evidence` gathers everything in one place: the downloadable bundle and the
verifier's badges for each of its entries (`api.web.evidence`), the state names (zh/en)
of the catalogue each record names, the actionable fields labelled from the ISO/IEC
11179 registry, regulation findings and SLA timers by the seq that raised or closed
them, and the payloads erased under retention. The timeline is built from the bundle's
entries, so what is shown is exactly what was verified.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from api.web import queries
from api.web.evidence import (
    BundleDownload,
    EntryVerdict,
    Verification,
    download_bundle,
    verify_download,
)
from ledger.service import Ledger
from ledger.store import FindingEntry, TimerRow
from ledger.verify import PURGE_ERASED_SEQS_FIELD, statement_hash
from statemodel.catalogue import Catalogue, load_catalogue
from statemodel.errors import OrderledgerError
from statemodel.registry import load_registry


@dataclass(frozen=True, slots=True)
class StateLabel:
    """A sub-state with its names, and its main state's."""

    code: str
    zh: str
    en: str
    main: str
    main_zh: str
    main_en: str


def state_label(catalogue: Catalogue, code: str) -> StateLabel:
    """Names of `code` in `catalogue`; an unknown code (a tampered record) is labelled so."""
    sub = catalogue.sub_states.get(code)
    if sub is None:
        return StateLabel(code, "未知状态", "unknown sub-state", "?", "未知", "unknown")
    main = catalogue.main_states[sub.main]
    return StateLabel(code, sub.name_zh, sub.name_en, main.code, main.name_zh, main.name_en)


@dataclass(frozen=True, slots=True)
class FieldView:
    """One payload field, labelled with its data element when the registry knows it."""

    key: str
    value: str
    element: str | None
    definition: str | None
    definition_zh: str | None


@dataclass(frozen=True, slots=True)
class RecordView:
    seq: int
    kind: str
    event: str
    event_zh: str | None
    event_en: str | None
    event_time: str
    recorded_at: str
    source: StateLabel | None
    target: StateLabel
    actor_type: str
    actor_id: str
    statement_hash: str
    key_id: str
    fields: tuple[FieldView, ...]
    erased: bool
    erased_by: int | None
    findings: tuple[FindingEntry, ...]
    timers_armed: tuple[TimerRow, ...]
    timers_closed: tuple[TimerRow, ...]
    verdict: EntryVerdict


@dataclass(frozen=True, slots=True)
class OrderEvidence:
    tenant: str
    order: str
    current: StateLabel
    records: tuple[RecordView, ...]
    download: BundleDownload
    verification: Verification
    timers: tuple[TimerRow, ...]
    findings: tuple[FindingEntry, ...]
    catalogue: Catalogue

    @property
    def path(self) -> list[str]:
        """The sub-states the order went through, in order (repeats kept)."""
        if not self.records:
            return []
        codes = [self.records[0].target.code]
        codes += [r.target.code for r in self.records[1:] if r.kind == "transition"]
        return codes

    @property
    def breaches(self) -> int:
        return sum(1 for r in self.records if r.kind == "sla_breach")


def _value_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def label_fields(payload: dict[str, Any], sub_state: str,
                 catalogue_document: dict[str, Any]) -> tuple[FieldView, ...]:
    """The payload's top-level fields with their data element (name, definition in
    English and Chinese) from the registry; a field the registry cannot resolve for this
    sub-state (a breach record's own fields, say) keeps its key only."""
    registry = load_registry()
    views = []
    for key, value in payload.items():
        try:
            element = registry.lookup_field(sub_state, key, catalogue_document)
        except OrderledgerError:
            views.append(FieldView(key, _value_text(value), None, None, None))
            continue
        views.append(FieldView(key, _value_text(value), element.name, element.definition,
                               element.definition_zh))
    return tuple(views)


def _erasures(entries: list[dict[str, Any]]) -> dict[int, int]:
    """seq of an erased payload -> seq of the retention_purge record that names it."""
    named: dict[int, int] = {}
    for entry in entries:
        st, payload = entry["statement"], entry.get("payload")
        if st.get("kind") == "retention_purge" and isinstance(payload, dict):
            for seq in payload.get(PURGE_ERASED_SEQS_FIELD) or []:
                if isinstance(seq, int):
                    named.setdefault(seq, st["seq"])
    return named


class _Catalogues:
    """Catalogues by digest, from the ledger's model book; the packaged one stands in
    for a digest that names nothing stored (a tampered `model`)."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger
        self._found: dict[str, Catalogue] = {}

    def get(self, digest: str) -> Catalogue:
        if digest not in self._found:
            try:
                with self._ledger.recorder.unit_of_work(read_only=True) as uow:
                    self._found[digest] = self._ledger.models.get(uow, digest).catalogue
            except OrderledgerError:
                self._found[digest] = load_catalogue()
        return self._found[digest]


def _record_view(entry: dict[str, Any], verdict: EntryVerdict, catalogue: Catalogue,
                 erased_by: dict[int, int], findings: list[FindingEntry],
                 timers: list[TimerRow]) -> RecordView:
    st = entry["statement"]
    seq = st["seq"]
    payload = entry.get("payload")
    event = catalogue.events.get(st["event"])
    fields = (label_fields(payload, st["to"], catalogue.document)
              if isinstance(payload, dict) else ())
    return RecordView(
        seq=seq,
        kind=st["kind"],
        event=st["event"],
        event_zh=event.description_zh if event else None,
        event_en=event.description_en if event else None,
        event_time=st["event_time"],
        recorded_at=st["recorded_at"],
        source=None if st["from"] is None else state_label(catalogue, st["from"]),
        target=state_label(catalogue, st["to"]),
        actor_type=st["actor"]["type"],
        actor_id=st["actor"]["id"],
        statement_hash=statement_hash(st).hex(),
        key_id=st["key_id"],
        fields=fields,
        erased=payload is None,
        erased_by=erased_by.get(seq),
        findings=tuple(f for f in findings if f.seq == seq),
        timers_armed=tuple(t for t in timers if t.armed_seq == seq),
        timers_closed=tuple(t for t in timers if t.closed_by_seq == seq),
        verdict=verdict,
    )


def order_evidence(ledger: Ledger, tenant: str, order: str, *,
                   trust: dict[str, Any] | None) -> OrderEvidence:
    """Everything the order page and the report show about one order.

    Raises UnknownOrder, StorageError (as `export_bundle`), MalformedBundle when the
    stored data cannot even be read back as a bundle.
    """
    download = download_bundle(ledger, tenant, order)
    verification = verify_download(download, trust)
    findings = queries.order_findings(ledger, tenant, order)
    timers = queries.order_timers(ledger, tenant, order)
    entries: list[dict[str, Any]] = download.bundle["entries"]
    erased_by = _erasures(entries)
    catalogues = _Catalogues(ledger)
    records = tuple(
        _record_view(entry, verdict, catalogues.get(entry["statement"]["model"]), erased_by,
                     findings, timers)
        for entry, verdict in zip(entries, verification.entries, strict=True)
    )
    current = records[-1].target if records else state_label(load_catalogue(), "?")
    last_model = entries[-1]["statement"]["model"] if entries else ""
    return OrderEvidence(
        tenant=tenant, order=order, current=current, records=records, download=download,
        verification=verification, timers=tuple(timers), findings=tuple(findings),
        catalogue=catalogues.get(last_model) if entries else load_catalogue(),
    )


def trust_set(ledger: Ledger) -> dict[str, Any] | None:
    """The ledger's published trust set (evidence-format §7), or None before keys exist."""
    try:
        return ledger.keyring.trust_set()
    except OrderledgerError:
        return None
