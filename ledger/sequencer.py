"""The sequencer: integrates new records into the global Merkle log and signs checkpoints.

Appends only enqueue their record ids (in the append transaction); the sequencer later
takes the queue in batches, assigns leaf indexes with no gaps, stores the new perfect
subtree nodes, and publishes a checkpoint for the new tree size — all in one transaction,
so a leaf, its nodes and the checkpoint that covers it appear together or not at all.
Leaf order is the order the sequencer took records in, never id allocation order, so a
record that committed late still gets a leaf (evidence-format §4).
"""

from __future__ import annotations

from dataclasses import dataclass

from ledger import merkle
from ledger.checkpoint import Checkpoint
from ledger.clock import Clock
from ledger.keys import LocalKey
from ledger.store import CheckpointRow, Recorder
from ledger.timefmt import format_time
from ledger.verify import leaf_hash

DEFAULT_BATCH = 5000


@dataclass(frozen=True, slots=True)
class Integration:
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
        self._recorder = recorder
        self._key = log_key
        self._origin = origin
        self._clock = clock
        self._batch = batch_size

    def integrate_once(self) -> Integration:
        """Integrate up to one batch of queued records and publish a checkpoint for the
        new size. With nothing queued, changes nothing and returns the current size."""
        with self._recorder.unit_of_work() as uow:
            queued = uow.take_unsequenced(self._batch)
            size = uow.log_size()
            if not queued:
                return Integration(0, size, merkle.root(size, uow), None)
            record_ids = [record_id for record_id, _ in queued]
            leaves = [leaf_hash(bytes.fromhex(h)) for _, h in queued]
            nodes, new_size, new_root = merkle.append_leaves(size, leaves, uow)
            uow.store_leaves(size, record_ids, leaves)
            uow.store_nodes(nodes)
            uow.delete_from_queue(record_ids)
            now = format_time(self._clock.now())
            note = Checkpoint(
                origin=self._origin, size=new_size, root=new_root, extensions=(f"timestamp {now}",)
            ).sign(self._key)
            uow.insert_checkpoint(
                CheckpointRow(size=new_size, root=new_root, note=note, created_at=now)
            )
            return Integration(len(queued), new_size, new_root, note)

    def integrate_all(self) -> Integration:
        """Integrate until the queue is empty (as of the last batch); returns the last
        integration, or the current state when there was nothing to do."""
        last = self.integrate_once()
        total = last.integrated
        while last.integrated == self._batch:
            last = self.integrate_once()
            total += last.integrated
        return Integration(total, last.size, last.root, last.checkpoint)
