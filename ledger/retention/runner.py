"""The retention run: archive, then erase payloads past their retention, then say so.

A run goes through three states, each reached by a committed transaction, so a run
killed anywhere resumes to the same end state (`resume` first, before a new run):

1. `planned` — the records to erase (`retention_run_items`) and what the plan skipped
   because of legal holds. Nothing is erased.
2. `archived` — `<data_dir>/archives/run-<id>/` holds the records with their payloads,
   a manifest with counts and the latest checkpoint, signed. Still nothing erased: an
   archive that a crash cut short is simply written again.
3. erasing, one order after another (`orders_per_transaction` orders per transaction):
   lock the order's head, look at its holds, judge each planned record again on the
   locked chain, erase the payloads, append the `retention_purge` record that names
   them, mark the items — all in ONE transaction. So audit never sees an erased payload
   without its purge record, and a resumed run skips the orders already done.
4. `finished` — the signed report (`ledger.retention.report`).

Erasure is judged against the run's reference time, which is never later than the
clock, so the purge record's `recorded_at` (when audit judges it) is never earlier.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby
from pathlib import Path
from typing import Any, Final

from ledger import merkle
from ledger.append import EventRequest
from ledger.errors import InvalidInput, StorageError
from ledger.keyring import published_key
from ledger.retention.archive import ArchiveEntry, write_archive
from ledger.retention.policy import (
    ERASED_SEQS_FIELD,
    KEPT_KINDS,
    Eligibility,
    eligibility,
    holds_in_force,
    transaction_closed_at,
)
from ledger.retention.report import build_report, sign_report
from ledger.sequencer import sequencer_for
from ledger.service import Ledger
from ledger.statement import Actor, ActorType, Kind
from ledger.store import StoredRecord, UnitOfWork
from ledger.store.retention_sql import RunEntry, RunItemEntry
from ledger.timefmt import format_time, parse_time
from regulations.errors import RegulationError

RETENTION_ACTOR: Final = Actor(ActorType.SYSTEM, "retention")
ARCHIVES_DIR: Final = "archives"
DEFAULT_ORDERS_PER_TRANSACTION: Final = 50


@dataclass(frozen=True, slots=True)
class Candidate:
    """A payload the plan would erase, and the rule that allows it."""

    record: StoredRecord
    retention: Eligibility

    def describe(self) -> str:
        st, r = self.record.statement, self.retention
        return (
            f"{st.tenant}/{st.order} seq {st.seq} ({st.kind.value} {st.to_state}, recorded "
            f"{st.recorded_at}): {r.record_class.value} record, kept {r.rule.minimum_months} "
            f"months from {r.rule.clock_start.value} ({r.rule.citation}, {r.pack}); "
            f"erasable since {format_time(r.erasable_from) if r.erasable_from else '-'}"
        )


@dataclass(frozen=True, slots=True)
class HeldOrder:
    """An order with erasable payloads that a legal hold keeps."""

    tenant: str
    order: str
    hold_ids: tuple[str, ...]
    records: int


@dataclass(frozen=True, slots=True)
class Plan:
    """What a run at `reference_time` would erase (the dry run prints this)."""

    reference_time: datetime
    candidates: tuple[Candidate, ...]
    held: tuple[HeldOrder, ...]
    #: Records that cannot be judged (their pack is unknown to this build): kept.
    unjudged: tuple[str, ...] = ()
    #: Runs that a real run would resume first.
    unfinished_runs: tuple[int, ...] = ()

    def lines(self) -> Iterator[str]:
        for run_id in self.unfinished_runs:
            yield f"resume run {run_id} (unfinished)"
        for candidate in self.candidates:
            yield f"erase {candidate.describe()}"
        for held in self.held:
            yield (f"keep  {held.tenant}/{held.order}: {held.records} erasable record(s) "
                   f"under legal hold {', '.join(held.hold_ids)}")
        for text in self.unjudged:
            yield f"keep  {text}"

    def holds_summary(self) -> dict[str, Any]:
        return {
            "orders_held": len(self.held),
            "records_held": sum(h.records for h in self.held),
            "hold_ids": sorted({i for h in self.held for i in h.hold_ids}),
        }


@dataclass(frozen=True, slots=True)
class RunOutcome:
    run_id: int
    erased: int
    report: dict[str, Any] | None


@dataclass
class RunHooks:
    """Test seams: `after_archive(run_id)` once the archive is recorded;
    `after_order(tenant, order)` after each order's erasure, INSIDE its transaction (an
    exception there rolls that transaction back, as a crash would)."""

    after_archive: Callable[[int], None] | None = None
    after_order: Callable[[str, str], None] | None = None


@dataclass
class RetentionRunner:
    ledger: Ledger
    orders_per_transaction: int = DEFAULT_ORDERS_PER_TRANSACTION
    hooks: RunHooks = field(default_factory=RunHooks)

    # --- planning (the dry run) --------------------------------------------------------

    def plan(self, now: datetime | None = None) -> Plan:
        """What a run at `now` (default: the clock) would erase and keep, and why.
        Reads only; any `now` is allowed here, even a future one."""
        reference = now or self.ledger.clock.now()
        candidates: list[Candidate] = []
        held: list[HeldOrder] = []
        unjudged: list[str] = []
        with self.ledger.recorder.unit_of_work(read_only=True) as uow:
            holds = uow.list_holds()
            unfinished = tuple(r.id for r in uow.list_retention_runs(unfinished_only=True))
            for head in uow.iter_orders():
                chain = uow.get_chain(head.tenant, head.order)
                found = erasable(chain, reference, unjudged)
                if not found:
                    continue
                hold_ids = [str(h.id) for h in holds if h.covers(head.tenant, head.order)]
                hold_ids += [str(i) for i in holds_in_force(chain) if str(i) not in hold_ids]
                if hold_ids:
                    held.append(HeldOrder(head.tenant, head.order, tuple(hold_ids), len(found)))
                else:
                    candidates += found
        return Plan(reference, tuple(candidates), tuple(held), tuple(unjudged), unfinished)

    # --- running ---------------------------------------------------------------------

    def run(self, now: datetime | None = None) -> list[RunOutcome]:
        """Finish every unfinished run, then run once at `now` (default: the clock).
        Returns the outcome of each run finished. Raises InvalidInput (field `now`) for
        a `now` later than the clock, StorageError / OSError when the database or the
        archive directory fails (run again to resume)."""
        clock_now = self.ledger.clock.now()
        reference = now or clock_now
        if reference > clock_now:
            raise InvalidInput(
                f"a retention run cannot be judged at {format_time(reference)}, after the "
                f"ledger's clock ({format_time(clock_now)}): its purge records would "
                "predate the erasures they allow",
                field="now",
            )
        outcomes = self.resume()
        plan = self.plan(reference)
        outcomes.append(self._finish(self._start(plan)))
        return outcomes

    def resume(self) -> list[RunOutcome]:
        """Finish every run a crash left unfinished, oldest first."""
        with self.ledger.recorder.unit_of_work(read_only=True) as uow:
            unfinished = [r.id for r in uow.list_retention_runs(unfinished_only=True)]
        return [self._finish(run_id) for run_id in unfinished]

    def _start(self, plan: Plan) -> int:
        with self.ledger.recorder.unit_of_work() as uow:
            run_id = uow.insert_retention_run(
                reference_time=format_time(plan.reference_time),
                started_at=format_time(self.ledger.clock.now()),
                state="planned",
                report={"holds": plan.holds_summary()},
            )
            uow.add_run_items([
                RunItemEntry(
                    run_id=run_id, record_id=_id(c.record), tenant=c.record.statement.tenant,
                    order=c.record.statement.order, seq=c.record.statement.seq,
                    recorded_at=c.record.statement.recorded_at,
                    record_class=c.retention.record_class.value,
                )
                for c in plan.candidates
            ])
        return run_id

    def _finish(self, run_id: int) -> RunOutcome:
        run = self._run(run_id)
        if run.state == "planned":
            self._archive(run)
            if self.hooks.after_archive is not None:
                self.hooks.after_archive(run_id)
            run = self._run(run_id)
        erased = self._erase(run)
        return RunOutcome(run_id, erased, self._seal(self._run(run_id)))

    def _run(self, run_id: int) -> RunEntry:
        with self.ledger.recorder.unit_of_work(read_only=True) as uow:
            run = uow.get_retention_run(run_id)
        if run is None:
            raise StorageError(f"retention run {run_id} is not stored")
        return run

    # --- archive ---------------------------------------------------------------------

    def _archive(self, run: RunEntry) -> None:
        """Write the archive of the run's items and record it (state `archived`)."""
        plan = dict(run.report or {})
        sequencer_for(self.ledger).integrate_all()  # every planned record is a leaf
        with self.ledger.recorder.unit_of_work(read_only=True) as uow:
            items = uow.run_items(run.id)
            entries = self._archive_entries(uow, items) if items else []
            checkpoint = uow.latest_checkpoint()
            keys = {row.key_id: published_key(row) for row in uow.list_keys()}
        if entries:
            assert checkpoint is not None  # _archive_entries found every leaf under it
            signer = self.ledger.keyring.record_key()
            used = sorted({e.record.statement.key_id for e in entries} | {signer.key_id})
            relative = Path(ARCHIVES_DIR) / f"run-{run.id}"
            written = write_archive(
                self.ledger.settings.data_dir / relative,
                run_id=run.id, log=self.ledger.settings.log_origin,
                reference_time=run.reference_time,
                created_at=format_time(self.ledger.clock.now()), entries=entries,
                checkpoint=checkpoint.note, log_key=self.ledger.keyring.log_vkey(),
                keys=[keys[k] for k in used], signer=signer,
            )
            plan["archive"] = {"path": relative.as_posix(),
                               "manifest_sha256": written.manifest_sha256}
        with self.ledger.recorder.unit_of_work() as uow:
            uow.update_retention_run(
                run.id, state="archived", report=plan,
                archive_path=None if not entries else plan["archive"]["path"],
            )

    @staticmethod
    def _archive_entries(uow: UnitOfWork, items: Sequence[RunItemEntry]) -> list[ArchiveEntry]:
        checkpoint = uow.latest_checkpoint()
        if checkpoint is None:
            raise StorageError("no checkpoint is published: cannot archive with proofs")
        entries: list[ArchiveEntry] = []
        for (tenant, order), group in groupby(items, key=lambda i: (i.tenant, i.order)):
            chain = uow.get_chain(tenant, order)
            closed_at = transaction_closed_at(r.statement for r in chain)
            by_id = {r.record_id: r for r in chain}
            for item in group:
                record = by_id.get(item.record_id)
                if record is None or record.payload is None:
                    continue  # erased meanwhile (by a concurrent run): nothing to archive
                index = uow.leaf_of(item.record_id)
                if index is None or index >= checkpoint.size:
                    raise StorageError(f"record {item.record_id} is not under the latest "
                                       "checkpoint")
                proof = merkle.inclusion_proof(index, checkpoint.size, uow)
                entries.append(ArchiveEntry(record, index, proof,
                                            eligibility(record.statement, closed_at)))
        return entries

    # --- erasure ---------------------------------------------------------------------

    def _erase(self, run: RunEntry) -> int:
        """Erase the run's pending items order by order; returns how many payloads."""
        with self.ledger.recorder.unit_of_work(read_only=True) as uow:
            pending = uow.run_items(run.id, pending_only=True)
        orders = [
            (key, [i.record_id for i in group])
            for key, group in groupby(pending, key=lambda i: (i.tenant, i.order))
        ]
        erased = 0
        size = max(1, self.orders_per_transaction)
        for start in range(0, len(orders), size):
            with self.ledger.recorder.unit_of_work() as uow:
                for (tenant, order), record_ids in orders[start:start + size]:
                    erased += self._erase_order(uow, run, tenant, order, set(record_ids))
                    if self.hooks.after_order is not None:
                        self.hooks.after_order(tenant, order)
        return erased

    def _erase_order(
        self, uow: UnitOfWork, run: RunEntry, tenant: str, order: str, planned: set[int]
    ) -> int:
        if uow.lock_head(tenant, order) is None or uow.holds_on(tenant, order):
            return 0
        chain = uow.get_chain(tenant, order)
        if holds_in_force(chain):
            return 0
        # Judged again on the locked chain: the order may have reopened since planning.
        due = [
            c for c in erasable(chain, parse_time(run.reference_time), [])
            if c.record.record_id in planned
        ]
        if not due:
            return 0
        ids = [_id(c.record) for c in due]
        if uow.erase_payloads(ids) != len(ids):
            raise StorageError(f"{tenant}/{order}: a payload to erase was erased already")
        archive = (run.report or {}).get("archive") or {}
        payload = {
            "run_id": run.id,
            "reference_time": run.reference_time,
            ERASED_SEQS_FIELD: [c.record.statement.seq for c in due],
            "erased": [{"seq": c.record.statement.seq, **c.retention.to_json()} for c in due],
            "archive": archive.get("path"),
            "archive_manifest_sha256": archive.get("manifest_sha256"),
        }
        now = format_time(self.ledger.clock.now())
        request = EventRequest(
            tenant=tenant, order=order, event=Kind.RETENTION_PURGE.value, event_time=now,
            actor=RETENTION_ACTOR, payload=payload, kind=Kind.RETENTION_PURGE,
        )
        (appended,) = self.ledger.appender.append_in(uow, [request])
        if isinstance(appended, InvalidInput):
            raise StorageError(f"{tenant}/{order}: retention_purge record refused: {appended}")
        uow.mark_items_erased(run.id, ids, appended.record.statement.seq)
        return len(ids)

    # --- the report ------------------------------------------------------------------

    def _seal(self, run: RunEntry) -> dict[str, Any]:
        with self.ledger.recorder.unit_of_work(read_only=True) as uow:
            items = uow.run_items(run.id)
        finished_at = format_time(self.ledger.clock.now())
        report = build_report(run, items, log=self.ledger.settings.log_origin,
                              finished_at=finished_at, plan=run.report or {})
        key = self.ledger.keyring.record_key()
        with self.ledger.recorder.unit_of_work() as uow:
            uow.update_retention_run(
                run.id, state="finished", finished_at=finished_at, report=report,
                report_signature=sign_report(report, key), key_id=key.key_id,
            )
        return report


def erasable(
    chain: Sequence[StoredRecord], reference: datetime, unjudged: list[str]
) -> list[Candidate]:
    """The records of one order's chain whose payloads may be erased at `reference`
    (legal holds aside). Records whose pack is unknown are kept and named in `unjudged`."""
    closed_at = transaction_closed_at(r.statement for r in chain)
    found: list[Candidate] = []
    for record in chain:
        st = record.statement
        if record.payload is None or st.kind in KEPT_KINDS:
            continue
        try:
            judged = eligibility(st, closed_at)
        except RegulationError as exc:
            unjudged.append(f"{st.tenant}/{st.order} seq {st.seq}: {exc}")
            continue
        if judged.allows_at(reference):
            found.append(Candidate(record, judged))
    return found


def _id(record: StoredRecord) -> int:
    if record.record_id is None:
        raise StorageError("a stored record has no id")
    return record.record_id
