"""The sequencer: integrates new records into the global Merkle log and signs checkpoints.

Appends only enqueue their record ids (a trigger, in the append transaction); the
sequencer later takes the queue in batches, assigns leaf indexes with no gaps, stores the
new perfect subtree nodes, and publishes a checkpoint for the new tree size — all in one
transaction, so a leaf, its nodes and the checkpoint that covers it appear together or not
at all. Leaf order is the order the sequencer took records in, never id allocation order,
so a record that committed late still gets a leaf (evidence-format §4).

Sequencers never fork the log: `take_unsequenced` holds the sequencer lock until the
transaction ends (an advisory lock on PostgreSQL; SQLite admits one writer at a time), and
`store_leaves` refuses leaves that do not start at the log size. Each batch gets exactly
one checkpoint; an idle log gets none, so a job that runs every second does not pile up
checkpoints of an unchanged tree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ledger import merkle
from ledger.checkpoint import Checkpoint
from ledger.clock import Clock
from ledger.errors import StorageError
from ledger.keys import LocalKey
from ledger.store import CheckpointRow, Recorder, UnitOfWork
from ledger.timefmt import format_time
from ledger.verify import leaf_hash

if TYPE_CHECKING:  # only for annotations: the service wires the sequencer, not vice versa
    from ledger.service import Ledger

DEFAULT_BATCH = 5000


class LogCorrupted(StorageError):
    """The stored tree does not match the newest checkpoint, so the sequencer refuses to
    sign a checkpoint over it (it would vouch for rewritten history). `orderledger audit`
    says what changed."""


@dataclass(frozen=True, slots=True)
class Integration:
    """What one integration did: `integrated` records became leaves; the log now has
    `size` leaves under `root`; `checkpoint` is the note published (None: none was)."""

    integrated: int
    size: int
    root: bytes
    checkpoint: str | None


class Sequencer:
    def __init__(
        self,
        recorder: Recorder,
        *,
        log_key: LocalKey,
        origin: str,
        clock: Clock,
        batch_size: int = DEFAULT_BATCH,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self._recorder = recorder
        self._key = log_key
        self._origin = origin
        self._clock = clock
        self._batch = batch_size

    @property
    def batch_size(self) -> int:
        return self._batch

    def integrate_once(self) -> Integration:
        """Integrate up to one batch of queued records and publish one checkpoint for the
        new size, in one transaction. With nothing queued, changes nothing (publishes no
        checkpoint) and returns the current size and root.

        Raises LogCorrupted when the stored tree no longer matches the newest checkpoint,
        SequencerConflict when another writer moved the log under it (cannot happen while
        the sequencer lock works), StorageError when the database fails.
        """
        with self._recorder.unit_of_work() as uow:
            queued = uow.take_unsequenced(self._batch)  # holds the sequencer lock from here
            size = uow.log_size()
            if not queued:
                return Integration(0, size, merkle.root(size, uow), None)
            _check_head(uow, size)
            record_ids = [record_id for record_id, _ in queued]
            leaves = [leaf_hash(bytes.fromhex(h)) for _, h in queued]
            nodes, new_size, new_root = merkle.append_leaves(size, leaves, uow)
            uow.store_leaves(size, record_ids, leaves)
            uow.store_nodes(nodes)
            uow.delete_from_queue(record_ids)
            now = format_time(self._clock.now())
            note = Checkpoint.new(self._origin, new_size, new_root, timestamp=now).sign(self._key)
            if not uow.insert_checkpoint(
                CheckpointRow(size=new_size, root=new_root, note=note, created_at=now)
            ):
                # A checkpoint of a size the log only now reached: written outside the
                # sequencer. Rolling back keeps the log as it was.
                raise LogCorrupted(f"a checkpoint of size {new_size} exists already")
            return Integration(len(queued), new_size, new_root, note)

    def integrate_all(self) -> Integration:
        """Integrate batch after batch until a batch comes back short (the queue was
        empty as of it); one checkpoint per batch. Returns the total integrated and the
        last size, root and checkpoint (None when nothing was integrated). Raises as
        `integrate_once`."""
        last = self.integrate_once()
        total = last.integrated
        note = last.checkpoint
        while last.integrated == self._batch:
            last = self.integrate_once()
            total += last.integrated
            note = last.checkpoint or note
        return Integration(total, last.size, last.root, note)


def _check_head(uow: UnitOfWork, size: int) -> None:
    """Refuse to extend a tree whose size or root differ from the newest checkpoint."""
    latest = uow.latest_checkpoint()
    if latest is None:
        if size:
            raise LogCorrupted(f"the log has {size} leaves but no checkpoint")
        return
    if latest.size != size:
        raise LogCorrupted(f"the log has {size} leaves, the newest checkpoint {latest.size}")
    if merkle.root(size, uow) != latest.root:
        raise LogCorrupted(f"the stored tree of size {size} does not hash to the checkpoint root")


def sequencer_for(ledger: Ledger, *, batch_size: int = DEFAULT_BATCH) -> Sequencer:
    """The sequencer of an open ledger: its recorder, log key, origin and clock. Raises
    KeyStoreError when the log key's private half cannot be read."""
    return Sequencer(
        ledger.recorder,
        log_key=ledger.keyring.log_key(),
        origin=ledger.settings.log_origin,
        clock=ledger.clock,
        batch_size=batch_size,
    )
