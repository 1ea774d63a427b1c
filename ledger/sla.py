"""The SLA sweep: fire due timers as chained `sla_breach` records, raise warnings.

A breach is a fact a court may ask about, so it is a signed record in the order's chain,
appended in the same transaction that moves its timer from `armed` to `fired`. The
order's head is locked before the timer is closed (the append path locks in the same
order: head, then timers), and closing is conditional on the timer still being armed,
so a timer fires exactly once — across restarts (a crashed sweep commits nothing) and
with several sweepers at once (the second finds it fired, or its sub-state left).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from ledger.append import AppendService, EventRequest
from ledger.clock import Clock
from ledger.errors import StorageError
from ledger.statement import Actor, ActorType, Kind
from ledger.store import AlertRow, Recorder, TimerRow, UnitOfWork
from ledger.timefmt import format_time, parse_time
from statemodel.errors import InvalidInput

SWEEPER_ACTOR = Actor(ActorType.SYSTEM, "sla-sweeper")
DEFAULT_BATCH = 500


@dataclass
class SweepResult:
    fired: list[TimerRow] = field(default_factory=list)
    warned: list[TimerRow] = field(default_factory=list)


def _breach_payload(timer: TimerRow, now: str) -> dict[str, object]:
    lateness = parse_time(now) - parse_time(timer.deadline)
    return {
        "timer": timer.name,
        "sub_state": timer.sub_state,
        "armed_by_seq": timer.armed_seq,
        "deadline": timer.deadline,
        "detected_at": now,
        "lateness_seconds": int(lateness.total_seconds()),
    }


class SlaSweeper:
    def __init__(
        self,
        recorder: Recorder,
        appender: AppendService,
        clock: Clock,
        *,
        batch_size: int = DEFAULT_BATCH,
    ) -> None:
        self._recorder = recorder
        self._appender = appender
        self._clock = clock
        self._batch = batch_size

    def sweep(self, now: datetime | None = None) -> SweepResult:
        """Fire every timer due at `now` (default: the clock) and raise due warnings, in
        batches of one transaction each. Returns what this sweep fired and warned."""
        moment = format_time(now or self._clock.now())
        result = SweepResult()
        while True:
            with self._recorder.unit_of_work() as uow:
                due = uow.due_timers(moment, self._batch)
                result.fired += self._fire(uow, due, moment)
            if len(due) < self._batch:
                break
        with self._recorder.unit_of_work() as uow:
            for timer in uow.due_warnings(moment, self._batch):
                self._warn(uow, timer, moment)
                result.warned.append(timer)
        return result

    def _fire(self, uow: UnitOfWork, due: list[TimerRow], now: str) -> list[TimerRow]:
        """Fire a batch: lock the heads (in one global order, so two sweepers cannot
        deadlock), close each timer that is still armed, append all breach records in one
        batch, queue their alerts. Returns the timers this call fired."""
        due = sorted(due, key=lambda t: (t.tenant, t.order, t.deadline, t.id or 0))
        next_seq: dict[tuple[str, str], int] = {}
        fired: list[tuple[TimerRow, int]] = []
        for timer in due:
            assert timer.id is not None
            key = (timer.tenant, timer.order)
            if key not in next_seq:
                head = uow.lock_head(timer.tenant, timer.order)
                if head is None:
                    raise StorageError(f"timer {timer.id} belongs to a missing order {key[1]!r}")
                next_seq[key] = head.head_seq + 1
            seq = next_seq[key]
            if uow.close_timer(timer.id, state="fired", at=now, by_seq=seq):
                fired.append((timer, seq))
                next_seq[key] = seq + 1
            # else: fired by another sweeper, or disarmed since we read it
        payloads = [_breach_payload(timer, now) for timer, _ in fired]
        results = self._appender.append_in(
            uow,
            [
                EventRequest(
                    tenant=timer.tenant,
                    order=timer.order,
                    event=Kind.SLA_BREACH.value,
                    event_time=now,
                    actor=SWEEPER_ACTOR,
                    payload=payload,
                    kind=Kind.SLA_BREACH,
                )
                for (timer, _), payload in zip(fired, payloads, strict=True)
            ],
        )
        alerts = []
        for (timer, seq), payload, appended in zip(fired, payloads, results, strict=True):
            if isinstance(appended, InvalidInput):
                # A system record the ledger itself composed was refused: a bug, not input.
                raise StorageError(f"breach record of timer {timer.id} refused: {appended}")
            if appended.record.statement.seq != seq:
                raise StorageError(
                    f"breach of timer {timer.id} got seq "
                    f"{appended.record.statement.seq}, expected {seq}"
                )
            alerts.append(
                AlertRow(
                    tenant=timer.tenant,
                    kind="sla_breach",
                    body={
                        "type": "sla_breach",
                        "tenant": timer.tenant,
                        "order": timer.order,
                        **payload,
                        "seq": seq,
                        "statement_hash": appended.record.statement_hash,
                    },
                    created_at=now,
                )
            )
        uow.add_alerts(alerts)
        return [timer for timer, _ in fired]

    @staticmethod
    def _warn(uow: UnitOfWork, timer: TimerRow, now: str) -> None:
        assert timer.id is not None
        assert timer.next_warn_at is not None
        later = [w for w in timer.warn_at if w > now]
        uow.advance_warning(timer.id, later[0] if later else None)
        uow.add_alerts(
            [
                AlertRow(
                    tenant=timer.tenant,
                    kind="sla_warning",
                    body={
                        "type": "sla_warning",
                        "tenant": timer.tenant,
                        "order": timer.order,
                        "timer": timer.name,
                        "sub_state": timer.sub_state,
                        "deadline": timer.deadline,
                        "warned_at": now,
                    },
                    created_at=now,
                )
            ]
        )
