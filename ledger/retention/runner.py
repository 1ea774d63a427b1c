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

from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby, islice
from pathlib import Path
from typing import Any, Final

from ledger import merkle
from ledger.append import EventRequest
from ledger.errors import InvalidInput, StorageError
from ledger.keyring import published_key
from ledger.retention.archive import ArchiveEntry, ArchiveWriter
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
from ledger.store import CheckpointRow, OrderHead, StoredRecord, UnitOfWork
from ledger.store.retention_sql import RunEntry, RunItemEntry
from ledger.timefmt import format_time, parse_time
from regulations.errors import RegulationError

RETENTION_ACTOR: Final = Actor(ActorType.SYSTEM, "retention")
ARCHIVES_DIR: Final = "archives"
DEFAULT_ORDERS_PER_TRANSACTION: Final = 50
#: Orders whose chains are read in one query while planning.
PLAN_ORDERS_PER_PAGE: Final = 200
#: Orders whose items are archived per page (one chain read, one leaf read and one
#: Merkle node read each): about a thousand records with a chain of twenty.
ARCHIVE_ORDERS_PER_PAGE: Final = 100
#: Run items stored per INSERT when the run starts.
ITEMS_PER_INSERT: Final = 5_000


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
class PlannedOrder:
    """What the real run keeps of one order's candidates: ids and classes, no records."""

    tenant: str
    order: str
    record_ids: array[int]
    record_classes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RunPlan:
    """The plan of a real run, lean: memory grows by ~16 bytes per record to erase, not
    by the records (the dry run's `Plan` holds those)."""

    reference_time: datetime
    orders: tuple[PlannedOrder, ...]
    held: tuple[HeldOrder, ...]

    def holds_summary(self) -> dict[str, Any]:
        return _holds_summary(self.held)


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
        return _holds_summary(self.held)


def _holds_summary(held: Sequence[HeldOrder]) -> dict[str, Any]:
    return {
        "orders_held": len(held),
        "records_held": sum(h.records for h in held),
        "hold_ids": sorted({i for h in held for i in h.hold_ids}),
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
            unfinished = tuple(r.id for r in uow.list_retention_runs(unfinished_only=True))
            for head, found, hold_ids in _survey(uow, reference, unjudged):
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
        plan = self._plan_run(reference)
        outcomes.append(self._finish(self._start(plan)))
        return outcomes

    def resume(self) -> list[RunOutcome]:
        """Finish every run a crash left unfinished, oldest first."""
        with self.ledger.recorder.unit_of_work(read_only=True) as uow:
            unfinished = [r.id for r in uow.list_retention_runs(unfinished_only=True)]
        return [self._finish(run_id) for run_id in unfinished]

    def _plan_run(self, reference: datetime) -> RunPlan:
        """`plan`, keeping of each candidate only what its run item needs."""
        orders: list[PlannedOrder] = []
        held: list[HeldOrder] = []
        with self.ledger.recorder.unit_of_work(read_only=True) as uow:
            for head, found, hold_ids in _survey(uow, reference, []):
                if hold_ids:
                    held.append(HeldOrder(head.tenant, head.order, tuple(hold_ids), len(found)))
                    continue
                orders.append(PlannedOrder(
                    head.tenant, head.order, array("q", (_id(c.record) for c in found)),
                    tuple(c.retention.record_class.value for c in found),
                ))
        return RunPlan(reference, tuple(orders), tuple(held))

    def _start(self, plan: RunPlan) -> int:
        """Store the run and its items, in one transaction (a run is planned whole)."""
        with self.ledger.recorder.unit_of_work() as uow:
            run_id = uow.insert_retention_run(
                reference_time=format_time(plan.reference_time),
                started_at=format_time(self.ledger.clock.now()),
                state="planned",
                report={"holds": plan.holds_summary()},
            )
            items = (
                # seq and recorded_at are not stored with the item (they are the record's).
                RunItemEntry(run_id=run_id, record_id=record_id, tenant=o.tenant,
                             order=o.order, seq=0, recorded_at="", record_class=klass)
                for o in plan.orders
                for record_id, klass in zip(o.record_ids, o.record_classes, strict=True)
            )
            while batch := list(islice(items, ITEMS_PER_INSERT)):
                uow.add_run_items(batch)
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

    def _item_pages(
        self, run_id: int, *, orders: int, pending_only: bool = False
    ) -> Iterator[list[RunItemEntry]]:
        """The run's items, `orders` orders a page, each page read in its own short
        read-only transaction (no snapshot is held while the caller works on a page)."""
        after: tuple[str, str] | None = None
        while True:
            with self.ledger.recorder.unit_of_work(read_only=True) as uow:
                page = uow.run_items_page(run_id, after=after, orders=orders,
                                          pending_only=pending_only)
            if not page:
                return
            yield page
            after = (page[-1].tenant, page[-1].order)

    # --- archive ---------------------------------------------------------------------

    def _archive(self, run: RunEntry) -> None:
        """Write the archive of the run's items and record it (state `archived`).

        Streams: a page of orders at a time, its records, leaf indices and inclusion
        proofs are read in a few queries and written to the archive before the next
        page is read, so memory does not grow with the number of records."""
        plan = dict(run.report or {})
        sequencer_for(self.ledger).integrate_all()  # every planned record is a leaf
        with self.ledger.recorder.unit_of_work(read_only=True) as uow:
            checkpoint = uow.latest_checkpoint()
            keys = {row.key_id: published_key(row) for row in uow.list_keys()}
        relative = Path(ARCHIVES_DIR) / f"run-{run.id}"
        writer: ArchiveWriter | None = None
        try:
            for items in self._item_pages(run.id, orders=ARCHIVE_ORDERS_PER_PAGE):
                if checkpoint is None:
                    raise StorageError("no checkpoint is published: cannot archive with "
                                       "proofs")
                with self.ledger.recorder.unit_of_work(read_only=True) as uow:
                    entries = self._archive_entries(uow, items, checkpoint)
                for entry in entries:
                    if writer is None:
                        writer = ArchiveWriter(self.ledger.settings.data_dir / relative)
                    writer.add(entry)
            if writer is not None:
                assert checkpoint is not None  # a page was archived against it
                signer = self.ledger.keyring.record_key()
                used = sorted(writer.key_ids | {signer.key_id})
                written = writer.finish(
                    run_id=run.id, log=self.ledger.settings.log_origin,
                    reference_time=run.reference_time,
                    created_at=format_time(self.ledger.clock.now()),
                    checkpoint=checkpoint.note, log_key=self.ledger.keyring.log_vkey(),
                    keys=[keys[k] for k in used], signer=signer,
                )
                plan["archive"] = {"path": relative.as_posix(),
                                   "manifest_sha256": written.manifest_sha256}
        except BaseException:
            if writer is not None:
                writer.abort()
            raise
        with self.ledger.recorder.unit_of_work() as uow:
            uow.update_retention_run(
                run.id, state="archived", report=plan,
                archive_path=None if writer is None else plan["archive"]["path"],
            )

    @staticmethod
    def _archive_entries(
        uow: UnitOfWork, items: Sequence[RunItemEntry], checkpoint: CheckpointRow
    ) -> list[ArchiveEntry]:
        """The archive entries of one page of items (grouped by order): one chain read,
        one leaf read and batched node reads for all of them. Raises StorageError when a
        record is not under `checkpoint`."""
        chains = uow.chains_of(sorted({(i.tenant, i.order) for i in items}))
        wanted: list[tuple[StoredRecord, datetime | None]] = []
        for key, group in groupby(items, key=lambda i: (i.tenant, i.order)):
            chain = chains.get(key, [])
            closed_at = transaction_closed_at(r.statement for r in chain)
            by_id = {r.record_id: r for r in chain}
            for item in group:
                record = by_id.get(item.record_id)
                if record is None or record.payload is None:
                    continue  # erased meanwhile (by a concurrent run): nothing to archive
                wanted.append((record, closed_at))
        leaves = uow.leaves_of([_id(r) for r, _ in wanted])
        for record, _ in wanted:
            index = leaves.get(_id(record))
            if index is None or index >= checkpoint.size:
                raise StorageError(f"record {record.record_id} is not under the latest "
                                   "checkpoint")
        proofs = merkle.inclusion_proofs(leaves.values(), checkpoint.size, uow)
        return [
            ArchiveEntry(record, leaves[_id(record)], proofs[leaves[_id(record)]],
                         eligibility(record.statement, closed_at))
            for record, closed_at in wanted
        ]

    # --- erasure ---------------------------------------------------------------------

    def _erase(self, run: RunEntry) -> int:
        """Erase the run's pending items, `orders_per_transaction` orders per
        transaction; returns how many payloads."""
        erased = 0
        size = max(1, self.orders_per_transaction)
        # The append service reads the active key in a transaction of its own when first
        # asked: that must not happen inside the erasing transaction (SQLite would wait
        # on itself).
        self.ledger.appender  # noqa: B018
        for items in self._item_pages(run.id, orders=size, pending_only=True):
            with self.ledger.recorder.unit_of_work() as uow:
                erased += self._erase_orders(uow, run, items)
        return erased

    def _erase_orders(self, uow: UnitOfWork, run: RunEntry, items: Sequence[RunItemEntry]
                      ) -> int:
        """Erase the planned payloads of the orders of `items` that are still due, with
        one purge record each, in the caller's transaction. Reads and writes a batch at a
        time: heads locked, chains read, payloads erased, purge records appended and
        items marked in one statement each."""
        planned = {
            key: {i.record_id for i in group}
            for key, group in groupby(items, key=lambda i: (i.tenant, i.order))
        }
        heads = uow.lock_heads(sorted(planned))
        holds = uow.list_holds() if heads else []
        chains = uow.chains_of(sorted(heads))
        reference = parse_time(run.reference_time)
        due_by_order: dict[tuple[str, str], list[Candidate]] = {}
        for key, record_ids in planned.items():
            chain = chains.get(key, [])
            if key not in heads or any(h.covers(*key) for h in holds) or holds_in_force(chain):
                continue
            # Judged again on the locked chain: the order may have reopened since planning.
            due = [c for c in erasable(chain, reference, []) if c.record.record_id in record_ids]
            if due:
                due_by_order[key] = due
        ids = [_id(c.record) for due in due_by_order.values() for c in due]
        if uow.erase_payloads(ids) != len(ids):
            raise StorageError(f"a payload to erase in {len(due_by_order)} orders from "
                               f"{'/'.join(next(iter(due_by_order)))} on was erased already")
        requests = [self._purge_request(run, key, due) for key, due in due_by_order.items()]
        appended_all = self.ledger.appender.append_in(uow, requests) if requests else []
        purge_seqs: dict[int, int] = {}
        for (tenant, order), due, appended in zip(
            due_by_order, due_by_order.values(), appended_all, strict=True
        ):
            if isinstance(appended, InvalidInput):
                raise StorageError(f"{tenant}/{order}: retention_purge record refused: "
                                   f"{appended}")
            purge_seqs |= dict.fromkeys((_id(c.record) for c in due),
                                        appended.record.statement.seq)
        uow.mark_items_erased_many(run.id, purge_seqs)
        if self.hooks.after_order is not None:
            for tenant, order in planned:
                self.hooks.after_order(tenant, order)
        return len(ids)

    def _purge_request(
        self, run: RunEntry, key: tuple[str, str], due: Sequence[Candidate]
    ) -> EventRequest:
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
        return EventRequest(
            tenant=key[0], order=key[1], event=Kind.RETENTION_PURGE.value, event_time=now,
            actor=RETENTION_ACTOR, payload=payload, kind=Kind.RETENTION_PURGE,
        )

    # --- the report ------------------------------------------------------------------

    def _seal(self, run: RunEntry) -> dict[str, Any]:
        finished_at = format_time(self.ledger.clock.now())
        items: Iterable[RunItemEntry] = (
            item
            for page in self._item_pages(run.id, orders=ARCHIVE_ORDERS_PER_PAGE)
            for item in page
        )
        report = build_report(run, items, log=self.ledger.settings.log_origin,
                              finished_at=finished_at, plan=run.report or {})
        key = self.ledger.keyring.record_key()
        with self.ledger.recorder.unit_of_work() as uow:
            uow.update_retention_run(
                run.id, state="finished", finished_at=finished_at, report=report,
                report_signature=sign_report(report, key), key_id=key.key_id,
            )
        return report


def _survey(
    uow: UnitOfWork, reference: datetime, unjudged: list[str]
) -> Iterator[tuple[OrderHead, list[Candidate], list[str]]]:
    """Each order with payloads erasable at `reference`: its head, its candidates and the
    ids of the holds that keep it (none: erase). Chains are read PLAN_ORDERS_PER_PAGE
    orders per query."""
    holds = uow.list_holds()
    heads = uow.iter_orders(batch=PLAN_ORDERS_PER_PAGE)
    while page := list(islice(heads, PLAN_ORDERS_PER_PAGE)):
        chains = uow.chains_of([(h.tenant, h.order) for h in page])
        for head in page:
            chain = chains.get((head.tenant, head.order), [])
            found = erasable(chain, reference, unjudged)
            if not found:
                continue
            hold_ids = [str(h.id) for h in holds if h.covers(head.tenant, head.order)]
            hold_ids += [str(i) for i in holds_in_force(chain) if str(i) not in hold_ids]
            yield head, found, hold_ids


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
