"""Carrier events → records: the service behind the carrier webhooks.

For each parsed CarrierEvent of a delivery, in order (oldest first), `FeedIngest.ingest`
decides ONE outcome and stores it in `carrier_feed_events`:

1. duplicate: the tenant has a final row for the event's dedupe key, or the ledger has
   the idempotency key `carrier-feed:<dedupe key>` (a record was made and the row was
   lost): answered 200 with the original record or problem, nothing new stored;
2. unmappable: the mapping table knows no code of the event, or marks it unmappable
   (or the source has no table): a finding, 422 `unmappable-code`;
3. unrouted: the tenant registered no order for the waybill: a finding, 404
   `unknown-waybill`; NOT final: once the waybill is registered a redelivery goes on;
4. refused: the machine refuses the event in the order's current sub-state, the carrier
   could not fill the target's actionable fields, or any other append refusal: a
   finding, with the append's own problem (409 illegal-transition, 422
   missing-actionable-field, ...);
5. recorded: a signed record, 201.

The append carries `expected_seq` (the head the draft was made against: the target
sub-state and so the payload depend on it) and the idempotency key above, so two
concurrent deliveries of one event make one record. `source.received_at` is left out
of the payload on purpose: a redelivery must build the same request to be recognised
as a replay; the statement's `recorded_at` says when the ledger accepted it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

from api.carrier_feeds import Kuaidi100Push
from api.problems import ProblemType, problem_body, problem_for
from ledger.append import Appended, EventRequest
from ledger.errors import ConcurrencyConflict, UnknownOrder
from ledger.service import Ledger
from ledger.statement import Actor, ActorType
from ledger.store import StoredRecord
from ledger.store.feed_sql import FeedEventRow, FeedStore, WaybillRoute
from ledger.timefmt import format_time
from statemodel.canonical import canonical_json, sha256_hex
from statemodel.carriers.draft import AppendDraft, to_append
from statemodel.carriers.event import CarrierEvent
from statemodel.carriers.mapping import Mapped, MappingBook, UnknownMappingSource, Unmappable
from statemodel.errors import IllegalTransition, InvalidInput, UnknownState

UNMAPPABLE_CODE: Final = ProblemType(
    "unmappable-code", 422, "The carrier code maps to no catalogue event"
)
UNKNOWN_WAYBILL: Final = ProblemType(
    "unknown-waybill", 404, "No order of this tenant is registered for the waybill"
)
IDEMPOTENCY_PREFIX: Final = "carrier-feed:"
#: The outcome of an event whose order kept moving under it: answered 409 and not
#: stored, so that the carrier's retry is ingested afresh.
CONFLICT: Final = "conflict"
_RESUBSCRIBE_TAG: Final = "orderledger.carrier-feed.resubscribe.v1"
#: Appends retried when the chain moved between reading the head and appending.
_ATTEMPTS: Final = 3
_RAW_TEXT_MAX: Final = 2000


@dataclass(frozen=True, slots=True)
class EventOutcome:
    """What became of one carrier event of a delivery (see the module docstring)."""

    index: int
    event: CarrierEvent
    outcome: str  # recorded | refused | unmappable | unrouted | resubscribe | conflict
    status: int
    duplicate: bool = False
    order: str | None = None
    catalogue_event: str | None = None
    record: StoredRecord | None = None
    problem: dict[str, Any] | None = None
    ignored_fields: tuple[str, ...] = ()


def register_waybill(
    ledger: Ledger, store: FeedStore, route: WaybillRoute
) -> tuple[WaybillRoute, bool]:
    """Route `route.waybill_no` to an existing order of the tenant; (stored route, new?).

    Raises UnknownOrder when the order does not exist, WaybillTaken when the waybill
    belongs to another order of the tenant.
    """
    with ledger.recorder.unit_of_work(read_only=True) as uow:
        known = uow.get_head(route.tenant, route.order) is not None
    if not known:
        raise UnknownOrder(
            f"no order {route.order!r} for tenant {route.tenant!r}", field="order"
        )
    return store.register_waybill(route)


class FeedIngest:
    """Turns a delivery's CarrierEvents into records or findings for one tenant.

    Holds no per-request state; one instance serves every request. Raises StorageError
    when the database fails (the delivery is then answered 503 and may be retried: what
    was decided before stays decided, and is recognised as a duplicate).
    """

    def __init__(self, ledger: Ledger, store: FeedStore, book: MappingBook) -> None:
        self._ledger = ledger
        self._store = store
        self._book = book

    def ingest(
        self, tenant: str, feed: str, events: Sequence[CarrierEvent], *,
        body_sha256: str, received_at: str,
    ) -> list[EventOutcome]:
        """Decide and store the outcome of each event, in order."""
        actor = Actor(ActorType.CARRIER, f"{feed}-feed")
        outcomes = []
        for index, event in enumerate(events):
            outcome = self._one(tenant, event, index, actor)
            outcomes.append(self._save(tenant, feed, outcome, body_sha256, received_at))
        return outcomes

    def resubscribe(
        self, tenant: str, push: Kuaidi100Push, *, body_sha256: str, received_at: str
    ) -> EventOutcome | None:
        """Record Kuaidi100's `abort` (tracking stopped: subscribe the waybill again) as a
        finding of the waybill's order; None when the push is no abort."""
        if push.resubscribe is None:
            return None
        route = self._store.route(tenant, push.waybill_no)
        key = sha256_hex(canonical_json([_RESUBSCRIBE_TAG, "kuaidi100", push.waybill_no,
                                         body_sha256]))
        marker = CarrierEvent(
            source="kuaidi100", raw_code="abort", raw_text=push.message or "abort",
            occurred_at=self._ledger.clock.now(), waybill_no=push.waybill_no,
            dedupe_key=key, carrier_code=push.carrier_code,
        )
        existing = self._store.find_event(tenant, key)
        if existing is not None:
            return EventOutcome(0, marker, existing.outcome, 200, duplicate=True,
                                order=existing.order)
        outcome = EventOutcome(0, marker, "resubscribe", 200,
                               order=None if route is None else route.order)
        return self._save(tenant, "kuaidi100", outcome, body_sha256, received_at)

    # -- one event -----------------------------------------------------------------

    def _one(self, tenant: str, event: CarrierEvent, index: int, actor: Actor) -> EventOutcome:
        earlier = self._earlier(tenant, event, index)
        if earlier is not None:
            return earlier
        route = self._store.route(tenant, event.waybill_no)
        order = None if route is None else route.order
        mapped = self._mapping(event)
        if isinstance(mapped, Unmappable):
            detail = mapped.reason
            return EventOutcome(index, event, "unmappable", UNMAPPABLE_CODE.status, order=order,
                                problem=problem_body(UNMAPPABLE_CODE, detail, field="raw_code"))
        if order is None:
            detail = (f"tenant {tenant!r} registered no order for waybill {event.waybill_no!r}: "
                      "PUT /v1/orders/{tenant}/{order}/waybills/{waybill} first")
            return EventOutcome(index, event, "unrouted", UNKNOWN_WAYBILL.status,
                                catalogue_event=mapped.event,
                                problem=problem_body(UNKNOWN_WAYBILL, detail, field="waybill_no"))
        return self._append(tenant, order, event, index, actor, mapped.event)

    def _earlier(self, tenant: str, event: CarrierEvent, index: int) -> EventOutcome | None:
        """The outcome a previous delivery of this event had, as a duplicate; else None."""
        row = self._store.find_event(tenant, event.dedupe_key)
        if row is not None and row.final:
            record = self._record(row.record_id)
            problem = None
            if row.problem_type is not None:
                problem = {"type": row.problem_type, "status": row.status, "detail": row.detail}
            return EventOutcome(index, event, row.outcome, 200, duplicate=True, order=row.order,
                                catalogue_event=row.event, record=record, problem=problem)
        with self._ledger.recorder.unit_of_work(read_only=True) as uow:
            entry = uow.get_idempotency(tenant, IDEMPOTENCY_PREFIX + event.dedupe_key)
            stored = None if entry is None else uow.find_record(entry.record_id)
        if stored is None:
            return None
        return EventOutcome(index, event, "recorded", 200, duplicate=True,
                            order=stored.statement.order, catalogue_event=stored.statement.event,
                            record=stored)

    def _mapping(self, event: CarrierEvent) -> Mapped | Unmappable:
        """What the current table says the event's codes mean (an Unmappable with
        `known=False` when it knows none of them, or has no table for the source)."""
        try:
            entry = self._book.resolve(event.source, event.codes)
            version = self._book.current_version(event.source)
        except UnknownMappingSource as exc:
            return Unmappable(source=event.source, mapping_version="-", raw_code=event.raw_code,
                              reason=str(exc), known=False)
        if entry is None:
            return Unmappable(
                source=event.source, mapping_version=version, raw_code=event.raw_code,
                reason=f"raw code(s) {', '.join(event.codes)} unknown to mapping table "
                f"{event.source}@{version}", known=False,
            )
        return entry

    def _append(
        self, tenant: str, order: str, event: CarrierEvent, index: int, actor: Actor,
        mapped_event: str,
    ) -> EventOutcome:
        refused: InvalidInput | None = None
        ignored: tuple[str, ...] = ()
        for _ in range(_ATTEMPTS):
            with self._ledger.recorder.unit_of_work(read_only=True) as uow:
                head = uow.get_head(tenant, order)
            if head is None:
                detail = f"waybill {event.waybill_no!r} routes to order {order!r}, which is gone"
                return EventOutcome(index, event, "unrouted", UNKNOWN_WAYBILL.status, order=order,
                                    problem=problem_body(UNKNOWN_WAYBILL, detail, field="order"))
            try:
                draft = to_append(event, self._book, current_state=head.sub_state)
                if isinstance(draft, Unmappable):  # resolved above; the table cannot change
                    raise InvalidInput(draft.reason, field="raw_code")
                payload, ignored = self._payload(draft, event)
                result = self._ledger.appender.append(EventRequest(
                    tenant=tenant, order=order, event=draft.event,
                    event_time=format_time(event.occurred_at), actor=actor, payload=payload,
                    expected_seq=head.head_seq,
                    idempotency_key=IDEMPOTENCY_PREFIX + event.dedupe_key,
                ))
            except ConcurrencyConflict as exc:
                refused = exc  # the chain moved: draft again against the new head
                continue
            except (IllegalTransition, UnknownState, InvalidInput) as exc:
                return self._refused(index, event, order, mapped_event, exc, ignored)
            return self._recorded(index, event, order, result, ignored)
        assert refused is not None
        problem = problem_for(refused)
        return EventOutcome(index, event, CONFLICT, problem["status"], order=order,
                            problem=problem)

    def _payload(
        self, draft: AppendDraft, event: CarrierEvent
    ) -> tuple[dict[str, Any], tuple[str, ...]]:
        """The draft's payload plus the actionable fields our generic feed sends in
        `fields` (those the target sub-state declares; the others are named back)."""
        extra = event.raw_message.get("fields") if event.raw_message else None
        if not isinstance(extra, Mapping) or draft.sub_state is None:
            return dict(draft.payload), ()
        declared = self._book.catalogue.payload_schema(draft.sub_state)["properties"]
        taken = {k: v for k, v in extra.items() if k in declared and k != "source"}
        ignored = tuple(sorted(k for k in extra if k not in taken))
        return {**draft.payload, **taken}, ignored

    @staticmethod
    def _refused(
        index: int, event: CarrierEvent, order: str, mapped_event: str,
        exc: InvalidInput, ignored: tuple[str, ...],
    ) -> EventOutcome:
        problem = problem_for(exc)
        return EventOutcome(index, event, "refused", problem["status"], order=order,
                            catalogue_event=mapped_event, problem=problem,
                            ignored_fields=ignored)

    @staticmethod
    def _recorded(
        index: int, event: CarrierEvent, order: str, result: Appended,
        ignored: tuple[str, ...],
    ) -> EventOutcome:
        return EventOutcome(index, event, "recorded", 200 if result.replayed else 201,
                            duplicate=result.replayed, order=order,
                            catalogue_event=result.record.statement.event,
                            record=result.record, ignored_fields=ignored)

    # -- storage -------------------------------------------------------------------

    def _record(self, record_id: int | None) -> StoredRecord | None:
        if record_id is None:
            return None
        with self._ledger.recorder.unit_of_work(read_only=True) as uow:
            return uow.find_record(record_id)

    def _save(
        self, tenant: str, feed: str, outcome: EventOutcome, body_sha256: str, received_at: str
    ) -> EventOutcome:
        """Store a fresh outcome; a duplicate is stored already. When a concurrent
        delivery decided the event first, its outcome is returned as a duplicate."""
        if outcome.outcome == CONFLICT or (outcome.duplicate and outcome.outcome != "recorded"):
            return outcome
        if outcome.duplicate and self._store.find_event(tenant, outcome.event.dedupe_key):
            return outcome
        event, problem = outcome.event, outcome.problem or {}
        record_id = None if outcome.record is None else outcome.record.record_id
        row = FeedEventRow(
            tenant=tenant, dedupe_key=event.dedupe_key, feed=feed, source=event.source,
            waybill_no=event.waybill_no, raw_code=event.raw_code,
            raw_text=event.raw_text[:_RAW_TEXT_MAX], occurred_at=format_time(event.occurred_at),
            outcome=outcome.outcome, status=outcome.status, body_sha256=body_sha256,
            received_at=received_at, updated_at=received_at, order=outcome.order,
            event=outcome.catalogue_event, mapping_version=_mapping_version(outcome),
            record_id=record_id, problem_type=problem.get("type"), detail=_detail(problem),
        )
        stored = self._store.save_event(row)
        if stored.outcome == row.outcome and stored.record_id == row.record_id:
            return outcome
        return replace(outcome, outcome=stored.outcome, status=200, duplicate=True,
                       record=self._record(stored.record_id), problem=None)


def _mapping_version(outcome: EventOutcome) -> str | None:
    if outcome.record is None or outcome.record.payload is None:
        return None
    source = outcome.record.payload.get("source")
    return source.get("mapping_version") if isinstance(source, dict) else None


def _detail(problem: Mapping[str, Any]) -> str | None:
    """The problem's detail, with its per-field errors when it lists them."""
    if not problem:
        return None
    detail = str(problem.get("detail", ""))
    errors = problem.get("errors")
    if errors:
        detail += " " + json.dumps(errors, ensure_ascii=False)
    return detail
