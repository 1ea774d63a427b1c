"""Audit of the global Merkle log (evidence-format §4): leaves, nodes and checkpoints.

Trusts nothing it reads. It checks that
- leaf indexes run 0..size-1 without gaps, every leaf's hash is H(0x00 || statement hash)
  recomputed from its record's columns, and level 0 of the stored nodes equals it;
- every record is a leaf exactly once, or still queued for the log (never both);
- every stored perfect-subtree node hashes from its two stored children, and no node lies
  beyond the tree;
- every checkpoint's note verifies under a published log key and names the stored size
  and root, its root is the fold of the stored nodes, and each checkpoint is consistent
  with the one before (a consistency proof generated and verified);
- the newest checkpoint covers the whole log.

It reads one snapshot (one read-only transaction, REPEATABLE READ on PostgreSQL) in pages,
so memory stays bounded however large the log is, and never writes. Problems about the log
as a whole name tenant and order "*"; a problem about one record names it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from ledger import merkle, verify
from ledger.audit import Problem
from ledger.errors import StorageError
from ledger.log_reads import LogReads
from ledger.store import CheckpointRow, KeyRow, Recorder, StoredRecord

#: Leaves, nodes and checkpoints read per query.
DEFAULT_BATCH = 4096
#: Problems reported per check before the rest are only counted.
MAX_PER_CHECK = 20


@dataclass
class _Problems:
    """Problems of the log, at most MAX_PER_CHECK per check (then a count of the rest)."""

    limit: int = MAX_PER_CHECK
    found: list[Problem] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, check: str, message: str, record: StoredRecord | None = None) -> None:
        self.counts[check] = self.counts.get(check, 0) + 1
        if self.counts[check] > self.limit:
            return
        if record is None:
            self.found.append(Problem("*", "*", None, check, message))
        else:
            st = record.statement
            self.found.append(Problem(st.tenant, st.order, st.seq, check, message))

    def result(self) -> list[Problem]:
        more = [
            Problem("*", "*", None, check, f"... and {count - self.limit} more like these")
            for check, count in sorted(self.counts.items())
            if count > self.limit
        ]
        return self.found + more


def audit_log(recorder: Recorder, *, batch: int = DEFAULT_BATCH) -> list[Problem]:
    """Every problem of the Merkle log, leaves, nodes and checkpoints (see the module
    docstring). Raises StorageError only when the database cannot be read."""
    if batch < 2:
        raise ValueError("batch must be at least 2")
    problems = _Problems()
    with recorder.unit_of_work(read_only=True) as uow:
        reads = LogReads(uow)
        reads.repeatable_read()
        size = uow.log_size()
        log_keys = [k for k in uow.list_keys() if k.purpose == "log"]
        _check_leaves(reads, size, batch, problems)
        _check_membership(reads, problems)
        _check_nodes(reads, size, batch, problems)
        _check_checkpoints(reads, size, log_keys, batch, problems)
    return problems.result()


# --- leaves -------------------------------------------------------------------------------

def _check_leaves(reads: LogReads, size: int, batch: int, problems: _Problems) -> None:
    expected = 0
    after = -1
    while page := reads.leaves_page(after, batch):
        after = page[-1].leaf_index
        records = reads.records_by_id([leaf.record_id for leaf in page])
        level0 = reads.nodes_range(0, page[0].leaf_index, after + 1)
        for leaf in page:
            if leaf.leaf_index != expected:
                gap = (f"leaf {expected} is" if leaf.leaf_index == expected + 1
                       else f"leaves {expected}..{leaf.leaf_index - 1} are")
                problems.add("log-leaf-gap", f"{gap} missing (deleted from the log)")
            expected = leaf.leaf_index + 1
            record = records.get(leaf.record_id)
            if record is None:
                problems.add("log-leaf-record", f"leaf {leaf.leaf_index} names record "
                             f"{leaf.record_id}, which is not stored")
            elif leaf.leaf_hash != _leaf_of(record):
                problems.add("log-leaf-hash", f"leaf {leaf.leaf_index} is not H(0x00 || "
                             "statement hash) of its record's columns", record)
            node = level0.get(leaf.leaf_index)
            if node != leaf.leaf_hash:
                state = "missing" if node is None else "different"
                problems.add("log-node", f"node (0, {leaf.leaf_index}) is {state} from leaf "
                             f"{leaf.leaf_index}'s hash")
    if expected != size:  # cannot differ while size is max index + 1; kept as a guard
        problems.add("log-leaf-gap", f"log size {size}, but leaves end at {expected}")


def _leaf_of(record: StoredRecord) -> bytes:
    return verify.leaf_hash(verify.statement_hash(record.statement.to_json()))


def _check_membership(reads: LogReads, problems: _Problems) -> None:
    limit = problems.limit + 1
    checks = (
        ("log-record-missing", reads.unlogged_records(limit),
         "record is neither a leaf of the log nor queued for it"),
        ("log-leaf-twice", reads.shared_leaf_records(limit), "record is more than one leaf"),
        ("log-queued-leaf", reads.queued_leaves(limit),
         "record is a leaf and queued again (it would be integrated twice)"),
    )
    for check, ids, message in checks:
        records = reads.records_by_id(ids)
        for record_id in ids:
            problems.add(check, f"record {record_id}: {message}", records.get(record_id))


# --- nodes --------------------------------------------------------------------------------

def _check_nodes(reads: LogReads, size: int, batch: int, problems: _Problems) -> None:
    """Each node (level >= 1) against its stored children, one level and range at a
    time; then nodes stored beyond the tree (level 0 is checked against the leaves)."""
    level = 1
    while size >> level:
        count = size >> level
        for start in range(0, count, batch):
            end = min(start + batch, count)
            parents = reads.nodes_range(level, start, end)
            children = reads.nodes_range(level - 1, 2 * start, 2 * end)
            for idx in range(start, end):
                _check_node(level, idx, parents.get(idx), children.get(2 * idx),
                            children.get(2 * idx + 1), problems)
        level += 1
    for node_level, stored in sorted(reads.node_counts().items()):
        inside = size >> node_level
        if stored > inside:
            extra = reads.nodes_from(node_level, inside, 3)
            problems.add("log-node", f"{stored - inside} node(s) at level {node_level} lie "
                         f"beyond the tree of size {size} (first at index {extra[:3]})")


def _check_node(level: int, idx: int, node: bytes | None, left: bytes | None,
                right: bytes | None, problems: _Problems) -> None:
    if node is None:
        problems.add("log-node", f"node ({level}, {idx}) is missing")
    elif left is None or right is None:
        return  # the missing child is reported on its own level
    elif node != verify.node_hash(left, right):
        problems.add("log-node", f"node ({level}, {idx}) does not hash from its children "
                     f"({level - 1}, {2 * idx}) and ({level - 1}, {2 * idx + 1})")


# --- checkpoints --------------------------------------------------------------------------

def _check_checkpoints(reads: LogReads, size: int, log_keys: Sequence[KeyRow], batch: int,
                       problems: _Problems) -> None:
    origin: str | None = None
    previous: tuple[int, bytes] | None = None
    newest = 0
    for row in _all_checkpoints(reads, batch):
        newest = row.size
        head = _checked_note(row, log_keys, problems)
        if head is not None:
            origin = origin or head.origin
            if head.origin != origin:
                problems.add("log-checkpoint", f"checkpoint {row.size} is for log "
                             f"{head.origin!r}, earlier ones for {origin!r}")
        if row.size > size:
            problems.add("log-checkpoint", f"checkpoint {row.size} is larger than the log "
                         f"({size} leaves)")
            continue
        _check_root(reads, row, problems)
        # A verified note is what was published; without one, the row is all there is.
        current = (row.size, head.root if head is not None else row.root)
        if previous is not None:
            _check_consistency(reads, previous, current, problems)
        previous = current
    if newest != size:
        problems.add("log-checkpoint", f"the log has {size} leaves but the newest checkpoint "
                     f"covers {newest}: leaves were added outside the sequencer")


def _all_checkpoints(reads: LogReads, batch: int) -> Iterator[CheckpointRow]:
    after = 0
    while True:
        page = reads.checkpoints_page(after, batch)
        yield from page
        if len(page) < batch:
            return
        after = page[-1].size


def _checked_note(row: CheckpointRow, log_keys: Sequence[KeyRow], problems: _Problems
                  ) -> verify.CheckpointBody | None:
    """The note's checkpoint when it verifies under a published log key and names the
    row's size and root; None (with the problem reported) otherwise."""
    try:
        body = verify.parse_checkpoint_body(verify.parse_note(row.note).body)
    except verify.VerificationError as exc:
        problems.add("log-checkpoint-signature", f"checkpoint {row.size}: unreadable note: {exc}")
        return None
    head = None
    for key in log_keys:
        verifier = verify.NoteVerifier(
            body.origin, verify.note_key_hash(body.origin, key.public_key), key.public_key
        )
        try:
            head = verify.verify_checkpoint(row.note, verifier)
            break
        except verify.VerificationError:
            continue
    if head is None:
        problems.add("log-checkpoint-signature", f"checkpoint {row.size}: the note is not "
                     "signed by a published log key")
        return None
    if (head.size, head.root) != (row.size, row.root):
        problems.add("log-checkpoint", f"checkpoint {row.size}: the stored size/root differ "
                     f"from the signed note's ({head.size}, {head.root.hex()[:16]}…)")
    return head


def _check_root(reads: LogReads, row: CheckpointRow, problems: _Problems) -> None:
    try:
        recomputed = merkle.root(row.size, reads)
    except StorageError as exc:
        problems.add("log-checkpoint-root", f"checkpoint {row.size}: {exc}")
        return
    if recomputed != row.root:
        problems.add("log-checkpoint-root", f"checkpoint {row.size}: the stored nodes hash to "
                     f"{recomputed.hex()[:16]}…, not the checkpoint's root")


def _check_consistency(reads: LogReads, old: tuple[int, bytes], new: tuple[int, bytes],
                       problems: _Problems) -> None:
    try:
        proof = merkle.consistency_proof(old[0], new[0], reads)
        verify.verify_consistency(old[0], new[0], old[1], new[1], proof)
    except (StorageError, verify.VerificationError) as exc:
        problems.add("log-consistency", f"checkpoint {new[0]} does not extend checkpoint "
                     f"{old[0]}: {exc}")
