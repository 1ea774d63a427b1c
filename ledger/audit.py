"""Full-database audit: every chain, hash, signature, payload digest, transition and head.

Audit trusts nothing it reads: it recomputes every statement hash from the stored
columns, so a change made directly in the database to any of them, a deleted or reordered
row, or a head that no longer matches its chain is reported with tenant, order and seq
(DESIGN invariant 4). It never writes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from ledger import verify
from ledger.errors import StorageError
from ledger.keyring import published_key
from ledger.keys import PublishedKey
from ledger.retention.policy import ErasureJudge
from ledger.statement import GENESIS_PREV, Kind, Statement
from ledger.store import OrderHead, Recorder, StoredRecord, UnitOfWork
from statemodel.catalogue import catalogue_from_document
from statemodel.errors import InvalidInput
from statemodel.machine import OrderMachine, get_machine


@dataclass(frozen=True, slots=True)
class Problem:
    tenant: str
    order: str
    seq: int | None
    check: str
    message: str

    def __str__(self) -> str:
        where = f"{self.tenant}/{self.order}" + (f" seq {self.seq}" if self.seq is not None else "")
        return f"{where}: {self.check}: {self.message}"


@dataclass
class AuditReport:
    orders: int = 0
    records: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


Progress = Callable[[int, int], None]


def audit_ledger(recorder: Recorder, *, progress: Progress | None = None) -> AuditReport:
    """Check every order of the database; `progress(orders_done, records_done)` is called
    every few hundred orders. Raises StorageError only when the database cannot be read."""
    report = AuditReport()
    with recorder.unit_of_work() as uow:
        keys = {row.key_id: published_key(row) for row in uow.list_keys()}
        unreadable_chains = False
        machines = _Machines(uow)
        total_records = uow.count_records()
        for head in uow.iter_orders():
            report.orders += 1
            try:
                chain = uow.get_chain(head.tenant, head.order)
            except (StorageError, ValueError) as exc:
                if not _unreadable_row(exc):
                    raise
                # One corrupt row must not hide every other problem of the database.
                report.problems.append(
                    Problem(
                        head.tenant,
                        head.order,
                        None,
                        "unreadable",
                        f"a record cannot be read: {exc}",
                    )
                )
                unreadable_chains = True
                continue
            report.records += len(chain)
            report.problems.extend(check_chain(head, chain, keys, machines))
            if progress is not None and report.orders % 500 == 0:
                progress(report.orders, report.records)
        if total_records != report.records:
            report.problems.extend(_orphans(uow, report.records, total_records, unreadable_chains))
        report.problems.extend(_dangling(uow))
    if progress is not None:
        progress(report.orders, report.records)
    # The Merkle log: leaves, nodes, checkpoints (imported here: it imports Problem).
    from ledger.audit_log import audit_log

    report.problems.extend(audit_log(recorder))
    return report


def check_chain(
    head: OrderHead,
    chain: Sequence[StoredRecord],
    keys: dict[str, PublishedKey],
    machines: Callable[[str], OrderMachine | None],
) -> Iterator[Problem]:
    """Every problem of one order's chain against its head row."""

    def problem(seq: int | None, check: str, message: str) -> Problem:
        return Problem(head.tenant, head.order, seq, check, message)

    if not chain:
        yield problem(None, "chain", "the order has no records")
        return
    previous_hash: str | None = None
    previous_state: str | None = None
    expected_seq = 0
    erasures = ErasureJudge(chain)
    for index, record in enumerate(chain):
        st = record.statement
        seq = st.seq
        if seq != expected_seq:
            # Reported once per gap, naming the first missing seq: the records after a
            # gap are not themselves out of place.
            yield problem(min(seq, expected_seq), "sequence", _gap_message(expected_seq, seq))
        # A seq below the due one (only a negative first seq can be, the rows being in seq
        # order) is out of place; the ones after it are judged against the due seq still.
        expected_seq = max(expected_seq, seq + 1)
        if (st.tenant, st.order) != (head.tenant, head.order):
            yield problem(seq, "owner", f"record names {st.tenant}/{st.order}")
        recomputed = _recomputed_hash(st)
        if recomputed is None:
            yield problem(seq, "statement-hash", "the statement's columns cannot be hashed")
        elif recomputed != record.statement_hash:
            yield problem(
                seq,
                "statement-hash",
                "stored hash does not match the statement's columns (row changed)",
            )
        expected_prev = GENESIS_PREV if index == 0 else previous_hash
        if st.prev != expected_prev:
            yield problem(seq, "chain-link", "prev does not link to the previous record's hash")
        if index > 0 and st.from_state != previous_state:
            yield problem(
                seq,
                "state-continuity",
                f"from {st.from_state!r} but the previous record went to {previous_state!r}",
            )
        yield from (
            problem(seq, c, m)
            for c, m in _signature_problems(record, recomputed or record.statement_hash, keys)
        )
        yield from (problem(seq, c, m) for c, m in _payload_problems(record, erasures))
        yield from (problem(seq, c, m) for c, m in _transition_problems(record, index, machines))
        # A row that cannot be hashed is judged above; link its successor to its stored hash.
        previous_hash = recomputed or record.statement_hash
        previous_state = st.to_state
    last = chain[-1]
    if head.head_seq >= expected_seq:
        # The tail was cut off: name the first record that is gone.
        yield problem(
            expected_seq,
            "sequence",
            _gap_message(expected_seq, head.head_seq + 1) + " (the head is past the chain)",
        )
    if head.head_seq != last.statement.seq or head.head_hash != previous_hash:
        yield problem(
            None,
            "head",
            f"head says seq {head.head_seq} {head.head_hash[:12]}…, "
            f"chain ends at seq {last.statement.seq} {(previous_hash or '')[:12]}…",
        )
    if head.sub_state != last.statement.to_state:
        yield problem(
            None,
            "head",
            f"head state {head.sub_state!r} but the chain ends in {last.statement.to_state!r}",
        )


def _gap_message(expected: int, found: int) -> str:
    if found < expected:
        return f"seq {found} where seq {expected} was due"
    missing = f"seq {expected}" if found == expected + 1 else f"seq {expected}..{found - 1}"
    return f"{missing} missing"


def _recomputed_hash(statement: Statement) -> str | None:
    """The statement's hash from its columns; None when they hold values JCS cannot
    encode (an integer beyond 2**53, as a direct edit can leave)."""
    try:
        return verify.statement_hash(statement.to_json()).hex()
    except ValueError:
        return None


def _unreadable_row(exc: Exception) -> bool:
    """True when `exc` says a stored row holds values the ledger cannot read (a direct
    edit), False for a failing database, which must stop the audit."""
    if isinstance(exc, StorageError):
        return isinstance(exc.__cause__, ValueError)
    return True


def _signature_problems(
    record: StoredRecord, recomputed_hash: str, keys: dict[str, PublishedKey]
) -> Iterator[tuple[str, str]]:
    st = record.statement
    key = keys.get(st.key_id)
    if key is None:
        yield "signature", f"signed by unknown key {st.key_id}"
        return
    if not verify.verify_record_signature(
        key.public_key, bytes.fromhex(recomputed_hash), record.signature
    ):
        yield "signature", f"signature does not verify under key {st.key_id}"
    if not key.may_sign_at(st.recorded_at):
        yield (
            "key-interval",
            (
                f"recorded_at {st.recorded_at} is outside key {st.key_id}'s "
                f"interval [{key.not_before}, {key.not_after or '…'})"
            ),
        )


def _payload_problems(record: StoredRecord, erasures: ErasureJudge) -> Iterator[tuple[str, str]]:
    if record.payload is None or record.salt is None:
        if record.payload is not None or record.salt is not None:
            yield "payload", "payload and salt must be erased together"
            return
        # Lawful only when a later retention_purge record names it, after its minimum
        # and outside any legal hold (ledger.retention.policy); anything else is tampering.
        unlawful = erasures.problem(record)
        if unlawful is not None:
            yield "payload", unlawful
        return
    try:
        digest = verify.payload_digest(record.salt, record.payload)
    except ValueError:
        yield "payload-digest", "the stored payload is not canonical JSON"
        return
    if digest != record.statement.payload_digest:
        yield "payload-digest", "payload or salt does not match payload_digest"


def _transition_problems(
    record: StoredRecord, index: int, machines: Callable[[str], OrderMachine | None]
) -> Iterator[tuple[str, str]]:
    st = record.statement
    machine = machines(st.model)
    if machine is None:
        yield "catalogue", f"catalogue {st.model} is not stored"
        return
    if st.kind is not Kind.TRANSITION:
        if st.to_state != st.from_state:
            yield "transition", f"a {st.kind.value} record must keep the state"
        return
    if index == 0 and st.from_state is not None:
        yield "transition", "seq 0 must have from = null"
        return
    try:
        target = machine.target(st.from_state, st.event)
    except InvalidInput as exc:
        yield "transition", str(exc)
        return
    if target != st.to_state:
        yield "transition", f"{st.event} from {st.from_state} leads to {target}, not {st.to_state}"


class _Machines:
    """Catalogue machines by digest, read from the database once each."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow
        self._cache: dict[str, OrderMachine | None] = {}

    def __call__(self, digest: str) -> OrderMachine | None:
        if digest not in self._cache:
            document = self._uow.get_catalogue(digest)
            self._cache[digest] = (
                None if document is None else get_machine(catalogue_from_document(document))
            )
        return self._cache[digest]


#: Dangling rows reported one by one, up to this many (then one line for the rest).
DANGLING_SHOWN = 100


def _dangling(uow: UnitOfWork) -> Iterator[Problem]:
    """Payload and sequencing-queue rows for a record that does not exist: inserted
    straight into the database (those tables have no foreign key, migration 0010)."""
    rows = uow.dangling_rows(DANGLING_SHOWN + 1)
    for table, record_id in rows[:DANGLING_SHOWN]:
        yield Problem("*", "*", None, "dangling",
                      f"a {table} row names record id {record_id}, which does not exist")
    if len(rows) > DANGLING_SHOWN:
        yield Problem("*", "*", None, "dangling",
                      f"more dangling rows than the {DANGLING_SHOWN} shown")


def _orphans(uow: UnitOfWork, seen: int, total: int, unreadable_chains: bool) -> Iterator[Problem]:
    """Records that belong to no order row (the order row was deleted or renamed).

    When some chain could not be read, its records are among the unseen ones and the
    scan stops at the same unreadable row: that is reported once, per order, already."""
    heads = {(h.tenant, h.order) for h in uow.iter_orders()}
    after = 0
    reported: set[tuple[str, str]] = set()
    while True:
        try:
            batch = uow.iter_records(after, 5000)
        except (StorageError, ValueError) as exc:
            if not _unreadable_row(exc):
                raise
            if not unreadable_chains:
                yield Problem(
                    "*",
                    "*",
                    None,
                    "unreadable",
                    f"the scan of records after id {after} failed: {exc}",
                )
            return
        if not batch:
            break
        for record in batch:
            key = (record.statement.tenant, record.statement.order)
            if key not in heads and key not in reported:
                reported.add(key)
                yield Problem(
                    key[0],
                    key[1],
                    None,
                    "orphan",
                    "records exist for an order that has no order row",
                )
        after = batch[-1].record_id or after
    if not reported and not unreadable_chains:
        yield Problem(
            "*",
            "*",
            None,
            "record-count",
            f"{total} records stored but {seen} belong to order chains",
        )
