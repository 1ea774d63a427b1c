"""The append service: validate → chain → sign → store, in one database transaction.

Everything that makes a record (the machine's verdict, the payload schema, the chain
link, the signature, the idempotency entry, the head advance) happens inside one unit of
work, so a record is acknowledged only when all of it is durable (DESIGN invariant 1) and
a rejected request leaves no trace (invariant 5).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ledger.canonical import digest_of_canonical, new_salt, statement_hash
from ledger.clock import Clock
from ledger.errors import (
    ConcurrencyConflict,
    IdempotencyConflict,
    InvalidInput,
    OrderExists,
    UnknownOrder,
)
from ledger.group_commit import GroupCommit
from ledger.keys import LocalKey
from ledger.models import Model, ModelBook
from ledger.statement import GENESIS_PREV, Actor, Kind, Statement
from ledger.store import (
    AppendWrites,
    FindingEntry,
    IdempotencyEntry,
    OrderHead,
    Recorder,
    StoredRecord,
    TimerRow,
    UnitOfWork,
)
from ledger.timefmt import format_time, parse_time
from regulations.facts import OrderFacts
from regulations.model import Finding, Pack
from regulations.proposal import Proposal
from regulations.registry import pack_in_force
from statemodel.canonical import canonical_json, sha256_hex
from statemodel.sla import ArmedTimer, TimerPlan, plan_timers

#: Most concurrent single appends one group commit carries.
MAX_GROUP = 100

#: An event time further in the future than this is refused: it cannot be a real scan.
DEFAULT_FUTURE_TOLERANCE = timedelta(minutes=5)

MAX_ID_LENGTH = 128


@dataclass(frozen=True, slots=True)
class EventRequest:
    """A proposed record: create an order (`event` is a creation event) or move it.

    `expected_seq` is the head seq the client last saw; when given, the append is refused
    with ConcurrencyConflict if the chain has moved since.
    """

    tenant: str
    order: str
    event: str
    event_time: str
    actor: Actor
    payload: Mapping[str, Any] = field(default_factory=dict)
    expected_seq: int | None = None
    idempotency_key: str | None = None
    create: bool = False
    #: `transition` moves the order along the catalogue; the other kinds (SLA breach,
    #: legal hold, retention purge) are system records that keep the state.
    kind: Kind = Kind.TRANSITION

    def fingerprint(self) -> str:
        """Hash of everything that defines the request, for idempotent replays."""
        return sha256_hex(
            canonical_json(
                {
                    "tenant": self.tenant,
                    "order": self.order,
                    "event": self.event,
                    "event_time": self.event_time,
                    "actor": self.actor.to_json(),
                    "payload": dict(self.payload),
                    "expected_seq": self.expected_seq,
                    "create": self.create,
                    "kind": self.kind.value,
                }
            )
        )


@dataclass(frozen=True, slots=True)
class Appended:
    """The stored record an append produced (or, on replay, had produced before), with
    the findings (severity `flag`) the regulation pack raised on it."""

    record: StoredRecord
    replayed: bool = False
    findings: tuple[Finding, ...] = ()
    #: The SLA timers this record disarmed and armed (None for replays).
    timers: TimerPlan | None = None


@dataclass(frozen=True, slots=True)
class _Reading:
    """The ledger's clock, read once for the records of a unit of work after their heads
    are locked (so no record of a chain is recorded before the one it follows), with
    what depends on that reading alone."""

    now: datetime
    #: `now` as the statements' recorded_at.
    text: str
    #: The latest event_time accepted (now + the future tolerance).
    latest_event: datetime
    pack: Pack


class AppendService:
    """Appends records to order chains.

    One instance serves many threads: it holds no per-request state. The signing key and
    the catalogues are shared; the recorder hands out one unit of work per call.
    """

    def __init__(
        self,
        recorder: Recorder,
        *,
        models: ModelBook,
        signer: LocalKey,
        log_origin: str,
        clock: Clock,
        future_tolerance: timedelta = DEFAULT_FUTURE_TOLERANCE,
        packs: Callable[[datetime], Pack] = pack_in_force,
        group_commit: bool = True,
    ) -> None:
        self._recorder = recorder
        self._models = models
        self._signer = signer
        self._key_id = signer.key_id  # hashed once, not per record
        self._packs = packs
        self._log = log_origin
        self._clock = clock
        self._future_tolerance = future_tolerance
        self._facts_cache = _FactsCache()
        self._group: GroupCommit[EventRequest, Appended | InvalidInput] | None = (
            GroupCommit(self._append_group, max_group=MAX_GROUP) if group_commit else None)

    @property
    def group_commit(self) -> GroupCommit[EventRequest, Appended | InvalidInput] | None:
        """The group commit `append` goes through (None when built without)."""
        return self._group

    def append(self, request: EventRequest) -> Appended:
        """Append one record. Raises an InvalidInput subclass (nothing stored) when the
        request is refused: UnknownOrder, OrderExists, UnknownEvent, IllegalTransition,
        PayloadInvalid, RuleViolation (a blocking regulation rule), ConcurrencyConflict,
        IdempotencyConflict.

        With group commit (the default), appends that threads make at the same time share
        one unit of work (ledger/group_commit.py): judged in arrival order, as if one after
        the other, each answered only after the shared COMMIT. Do not call this while
        holding a transaction of your own: the group may wait for its locks.
        """
        result = (self._group.submit(request) if self._group is not None
                  else self.append_many([request])[0])
        if isinstance(result, InvalidInput):
            raise result
        return result

    def _append_group(
        self, requests: Sequence[EventRequest]
    ) -> list[Appended | InvalidInput | BaseException]:
        """One group of concurrent `append` calls: one unit of work for all.

        If the group's writes are refused as a whole (an order or an idempotency key that
        another process took meanwhile: an InvalidInput raised before COMMIT, so nothing
        was stored), each request runs again alone, so that only the request at fault is
        refused. Any other failure (the database gone, perhaps during COMMIT, when nobody
        knows whether the group was stored) reaches every caller as it is: retrying then
        could store a request twice."""
        try:
            return list(self.append_many(requests))
        except InvalidInput:
            if len(requests) == 1:
                raise
        outcomes: list[Appended | InvalidInput | BaseException] = []
        for request in requests:
            try:
                outcomes.append(self.append_many([request])[0])
            except Exception as exc:  # this request's own failure, its unit of work alone
                outcomes.append(exc)
        return outcomes

    def append_many(self, requests: Sequence[EventRequest]) -> list[Appended | InvalidInput]:
        """Append a batch in ONE transaction; each item gets its record or its error.

        Items are judged in order, and a later item sees the chain heads that earlier items
        of the batch produced. Refused items change nothing; the good ones commit together,
        with one `recorded_at`: the clock is read once, after the batch's heads are locked.
        """
        with self._recorder.unit_of_work() as uow:
            return self.append_in(uow, requests)

    def append_in(
        self, uow: UnitOfWork, requests: Sequence[EventRequest]
    ) -> list[Appended | InvalidInput]:
        """`append_many` inside the caller's unit of work (the SLA sweeper appends breach
        records in the transaction that marks their timers fired)."""
        results: list[Appended | InvalidInput] = []
        pending: dict[tuple[str, str], _Pending] = {}
        # A batch locks all its heads up front: one round trip, and a fixed lock order.
        locked = (
            uow.lock_heads(sorted({(r.tenant, r.order) for r in requests}))
            if len(requests) > 1
            else None
        )
        reading = None if locked is None else self._read_clock()
        # Idempotency keys first used inside this batch are not in the database yet.
        batch_keys: dict[tuple[str, str], tuple[str, Appended]] = {}
        for request in requests:
            try:
                result = _replay_within(batch_keys, request) or self._judge(
                    uow, request, pending, locked, reading
                )
            except InvalidInput as exc:
                results.append(exc)
                continue
            results.append(result)
            if request.idempotency_key is not None:
                batch_keys.setdefault(
                    (request.tenant, request.idempotency_key), (request.fingerprint(), result)
                )
        ids = self._store(uow, requests, results, pending)
        return [
            Appended(r.record.with_id(ids[r.record.statement_hash]), r.replayed, r.findings,
                     r.timers)
            if isinstance(r, Appended) and r.record.record_id is None
            else r
            for r in results
        ]

    # -- the steps -----------------------------------------------------------------

    def _read_clock(self) -> _Reading:
        now = self._clock.now()
        return _Reading(now, format_time(now), now + self._future_tolerance, self._packs(now))

    def _judge(
        self,
        uow: UnitOfWork,
        request: EventRequest,
        pending: dict[tuple[str, str], _Pending],
        locked: Mapping[tuple[str, str], OrderHead] | None = None,
        reading: _Reading | None = None,
    ) -> Appended:
        """Decide and build one record (signed) without writing anything yet.

        `pending` holds the heads this unit of work has advanced but not yet written, so a
        batch can carry several records of one order.
        """
        _check_ids(request)
        if request.idempotency_key is not None:
            replay = self._replay(uow, request)
            if replay is not None:
                return replay
        key = (request.tenant, request.order)
        staged = pending.get(key)
        if staged is not None:
            head: OrderHead | None = staged.head
        elif locked is not None:
            head = locked.get(key)
        else:
            head = uow.lock_head(request.tenant, request.order)
        if request.create:
            if head is not None:
                raise OrderExists(
                    f"order {request.order!r} of tenant {request.tenant!r} exists already",
                    field="order",
                )
        elif head is None:
            raise UnknownOrder(
                f"no order {request.order!r} for tenant {request.tenant!r}", field="order"
            )
        stale = head is not None and request.expected_seq not in (None, head.head_seq)
        if stale and head is not None:
            raise ConcurrencyConflict(
                f"expected_seq {request.expected_seq} is stale: the chain head is at "
                f"seq {head.head_seq}",
                expected_seq=request.expected_seq,
                actual_seq=head.head_seq,
            )

        model = self._models.current if head is None else self._models.get(uow, head.model)
        machine = model.machine
        from_state = None if head is None else head.sub_state
        transition = request.kind is Kind.TRANSITION
        payload = dict(request.payload)
        if transition:
            to_state = machine.target(from_state, request.event)
            machine.validate_payload(to_state, payload)
        elif from_state is None or request.create:
            raise InvalidInput(
                f"a {request.kind.value} record needs an existing order", field="kind"
            )
        else:
            to_state = from_state

        if reading is None:  # one record: its head was locked just now
            reading = self._read_clock()
        now = reading.now
        event_moment = parse_time(request.event_time, field="event_time")
        if event_moment > reading.latest_event:
            raise InvalidInput(
                f"event_time {request.event_time} lies in the future (now {reading.text}, "
                f"tolerance {self._future_tolerance})",
                field="event_time",
            )
        # the precision that is signed: whole milliseconds (parse_time gave UTC)
        sub_millisecond = event_moment.microsecond % 1000
        if sub_millisecond:  # feeds send whole seconds or milliseconds: seldom needed
            event_moment -= timedelta(microseconds=sub_millisecond)
        event_text = format_time(event_moment)
        pack = reading.pack
        proposal = Proposal(
            kind=request.kind.value,
            event=request.event,
            from_state=from_state,
            to_state=to_state,
            event_time=event_moment,
            now=now,
            catalogue=model.catalogue,
            payload=payload,
            actor_type=request.actor.type.value,
            actor_id=request.actor.id,
        )
        facts = staged.facts if staged is not None else self._facts_of(head)
        verdict = pack.evaluate(proposal, facts)
        verdict.raise_for_blocks()
        timers = self._plan_timers(model, from_state, to_state, request, event_moment, payload)
        salt = new_salt()
        canonical_payload = canonical_json(payload)  # hashed here, stored as is later
        statement = Statement(
            log=self._log,
            kind=request.kind,
            tenant=request.tenant,
            order=request.order,
            seq=0 if head is None else head.head_seq + 1,
            prev=GENESIS_PREV if head is None else head.head_hash,
            from_state=from_state,
            to_state=to_state,
            event=request.event,
            event_time=event_text,
            recorded_at=reading.text,
            actor=request.actor,
            payload_digest=digest_of_canonical(salt, canonical_payload),
            model=model.digest,
            rules=str(pack),
            key_id=self._key_id,
        )
        digest = statement_hash(statement)
        record = StoredRecord(
            statement=statement,
            statement_hash=digest.hex(),
            signature=self._signer.sign_record(digest),
            record_id=None,
            payload=payload,
            salt=salt,
            payload_text=canonical_payload.decode("utf-8"),
        )
        new_head = OrderHead(
            tenant=request.tenant,
            order=request.order,
            sub_state=to_state,
            main_state=machine.main_of(to_state),
            head_seq=statement.seq,
            head_hash=record.statement_hash,
            model=model.digest,
            created_at=statement.recorded_at if head is None else head.created_at,
            updated_at=statement.recorded_at,
        )  # its facts are serialised once per order, when written (_Pending.written)
        new_facts = facts.advance(proposal)
        self._facts_cache.put(record.statement_hash, new_facts)
        locked_seq = staged.locked_seq if staged is not None else (
            None if head is None else head.head_seq)
        pending[key] = _Pending(new_head, locked_seq, new_facts)
        return Appended(record, findings=tuple(verdict.flags), timers=timers)

    def _facts_of(self, head: OrderHead | None) -> OrderFacts:
        """The facts after `head` (initial for a new order)."""
        if head is None or head.facts is None:
            return OrderFacts.initial()
        cached = self._facts_cache.get(head.head_hash)
        return cached if cached is not None else OrderFacts.from_json(head.facts)

    @staticmethod
    def _plan_timers(
        model: Model,
        from_state: str | None,
        to_state: str,
        request: EventRequest,
        event_moment: datetime,
        payload: Mapping[str, Any],
    ) -> TimerPlan | None:
        """Which SLA timers this record disarms and arms (transitions only)."""
        if request.kind is not Kind.TRANSITION:
            return None
        subs = model.catalogue.sub_states
        try:
            return plan_timers(
                from_state=from_state,
                from_timers=() if from_state is None else subs[from_state].timers,
                to_state=to_state,
                to_timers=subs[to_state].timers,
                event=request.event,
                event_time=event_moment,
                payload=payload,
            )
        except ValueError as exc:
            raise InvalidInput(
                f"payload: cannot compute an SLA deadline: {exc}", field="payload"
            ) from exc

    def _replay(self, uow: UnitOfWork, request: EventRequest) -> Appended | None:
        assert request.idempotency_key is not None
        entry = uow.get_idempotency(request.tenant, request.idempotency_key)
        if entry is None:
            return None
        if entry.request_hash != request.fingerprint():
            raise IdempotencyConflict(
                f"Idempotency-Key {request.idempotency_key!r} was used before with a "
                "different request"
            )
        original = uow.get_record(entry.record_id)
        return Appended(original, replayed=True)

    @staticmethod
    def _timer_writes(
        results: Sequence[Appended],
    ) -> tuple[list[tuple[str, str, str, str, int]], list[TimerRow]]:
        """The batch's net effect on timers: disarms of timers armed before the batch, and
        the rows to insert.

        Records are applied in order: a disarm hits a timer an earlier record of this
        batch armed (then that row is inserted already disarmed, by the later record's
        seq) or else a timer armed before the batch (the disarms run before the inserts,
        so they can only touch pre-batch rows)."""
        # Rows are built once, in their final state, when the batch is through.
        arms: list[tuple[Statement, ArmedTimer]] = []  # (the record that armed it, timer)
        closed: dict[int, tuple[str, int]] = {}  # index in arms -> (closed_at, by seq)
        armed_here: dict[tuple[str, str, str], int] = {}  # -> index in arms, still armed
        from_before: list[tuple[str, str, str, str, int]] = []
        for result in results:
            plan = result.timers
            if plan is None:
                continue
            st = result.record.statement
            for name in plan.disarm:
                index = armed_here.pop((st.tenant, st.order, name), None)
                if index is None:
                    from_before.append((st.tenant, st.order, name, st.recorded_at, st.seq))
                else:
                    closed[index] = (st.recorded_at, st.seq)
            for armed in plan.arm:
                armed_here[(st.tenant, st.order, armed.name)] = len(arms)
                arms.append((st, armed))
        return from_before, [_timer_row(st, armed, closed.get(index))
                             for index, (st, armed) in enumerate(arms)]

    def _store(
        self,
        uow: UnitOfWork,
        requests: Sequence[EventRequest],
        results: Sequence[Appended | InvalidInput],
        pending: Mapping[tuple[str, str], _Pending],
    ) -> dict[str, int]:
        """Write the new records, their heads, timers, idempotency entries and findings
        (`UnitOfWork.write_appends`: one round trip on PostgreSQL).

        Returns the database id of each new record by statement hash. Each order's head is
        written once (its last pending state), version-checked against the seq it had when
        this unit of work locked it.
        """
        new = [
            (q, r)
            for q, r in zip(requests, results, strict=True)
            if isinstance(r, Appended) and not r.replayed
        ]
        if not new:
            return {}
        records = [r.record for _, r in new]
        disarms, timers = self._timer_writes([result for _, result in new])
        ids = uow.write_appends(AppendWrites(
            records=records,
            new_orders=[e.written() for e in pending.values() if e.locked_seq is None],
            head_moves=[(e.locked_seq, e.written()) for e in pending.values()
                        if e.locked_seq is not None],
            timer_disarms=disarms,
            timers=timers,
            idempotency=[
                (result.record.statement_hash, IdempotencyEntry(
                    tenant=request.tenant,
                    key=request.idempotency_key,
                    request_hash=request.fingerprint(),
                    record_id=0,  # named by statement hash (AppendWrites)
                    created_at=result.record.statement.recorded_at,
                ))
                for request, result in new
                if request.idempotency_key is not None
            ],
            findings=[
                (result.record.statement_hash, FindingEntry(
                    record_id=0,  # named by statement hash (AppendWrites)
                    tenant=result.record.statement.tenant,
                    order=result.record.statement.order,
                    seq=result.record.statement.seq,
                    sub_state=result.record.statement.to_state,
                    recorded_at=result.record.statement.recorded_at,
                    pack=result.record.statement.rules,
                    rule_id=finding.rule_id,
                    severity=finding.severity.value,
                    citation=finding.citation,
                    message=finding.message,
                    field=finding.field,
                ))
                for _, result in new
                for finding in result.findings
            ],
        ))
        return dict(zip((r.statement_hash for r in records), ids, strict=True))


def _timer_row(st: Statement, armed: ArmedTimer, closed: tuple[str, int] | None) -> TimerRow:
    """The row of a timer that record `st` armed: still armed, or disarmed (`closed`: at
    that time, by the record at that seq) by a later record of the same unit of work."""
    warn_at = tuple(map(format_time, armed.warn_at))
    closed_at, closed_by_seq = closed if closed is not None else (None, None)
    return TimerRow(
        tenant=st.tenant,
        order=st.order,
        name=armed.name,
        sub_state=st.to_state,
        armed_seq=st.seq,
        deadline=format_time(armed.deadline),
        warn_at=warn_at,
        next_warn_at=None if closed is not None or not warn_at else warn_at[0],
        state="armed" if closed is None else "disarmed",
        created_at=st.recorded_at,
        closed_at=closed_at,
        closed_by_seq=closed_by_seq,
    )


@dataclass(frozen=True, slots=True)
class _Pending:
    """An order head as this unit of work will leave it (its facts apart, kept as
    `facts`); `locked_seq` is the seq it had in the database when locked (None for an
    order this unit of work creates)."""

    head: OrderHead
    locked_seq: int | None
    facts: OrderFacts

    def written(self) -> OrderHead:
        """The head as stored, facts included (with their text: see OrderHead)."""
        h, facts = self.head, self.facts
        return OrderHead(tenant=h.tenant, order=h.order, sub_state=h.sub_state,
                         main_state=h.main_state, head_seq=h.head_seq, head_hash=h.head_hash,
                         model=h.model, created_at=h.created_at, updated_at=h.updated_at,
                         facts=facts.to_json(), facts_text=facts.canonical_text())


class _FactsCache:
    """Order facts this service computed, by the statement hash of the record they
    follow: the next append to that order (the usual case for a busy order) skips parsing
    them back from the stored head. A hash names one record for good, so an entry can
    only be unused, never wrong. Bounded; a full cache starts over."""

    def __init__(self, size: int = 4096) -> None:
        self._size = size
        self._entries: dict[str, OrderFacts] = {}

    def get(self, head_hash: str) -> OrderFacts | None:
        return self._entries.get(head_hash)

    def put(self, head_hash: str, facts: OrderFacts) -> None:
        if len(self._entries) >= self._size:
            self._entries = {}  # replaced, not cleared: a concurrent get sees either
        self._entries[head_hash] = facts


def _replay_within(
    batch_keys: Mapping[tuple[str, str], tuple[str, Appended]], request: EventRequest
) -> Appended | None:
    """A replay of an idempotency key that an earlier item of the same batch used."""
    if request.idempotency_key is None:
        return None
    seen = batch_keys.get((request.tenant, request.idempotency_key))
    if seen is None:
        return None
    fingerprint, original = seen
    if fingerprint != request.fingerprint():
        raise IdempotencyConflict(
            f"Idempotency-Key {request.idempotency_key!r} was used earlier in this batch "
            "with a different request"
        )
    return Appended(original.record, replayed=True)


def _check_ids(request: EventRequest) -> None:
    for name, value in (("tenant", request.tenant), ("order", request.order)):
        if not value or len(value) > MAX_ID_LENGTH or not value.isprintable():
            raise InvalidInput(
                f"{name}: must be 1–{MAX_ID_LENGTH} printable characters", field=name
            )
    if request.idempotency_key is not None and not (
        0 < len(request.idempotency_key) <= 255 and request.idempotency_key.isprintable()
    ):
        raise InvalidInput(
            "Idempotency-Key must be 1–255 printable characters", field="Idempotency-Key"
        )
