"""Proofs on demand: inclusion of a record (or a leaf) under a stored checkpoint, and
consistency between two tree sizes (evidence-format §4, §7 rule 8).

Everything here only reads, inside the caller's unit of work; records still queued for the
log are not leaves yet (run the sequencer first, as the CLI does). Arguments that name
nothing in the log raise `InvalidInput` (or `UnknownOrder`) with the offending field, so
the API and the CLI can answer precisely.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ledger import merkle
from ledger.errors import InvalidInput, StorageError, UnknownOrder
from ledger.log_reads import LogReads
from ledger.store import CheckpointRow, UnitOfWork
from ledger.verify import leaf_hash


@dataclass(frozen=True, slots=True)
class RecordRef:
    """The record a leaf commits to: its place in its order's chain and its hash (hex)."""

    tenant: str
    order: str
    seq: int
    statement_hash: str


@dataclass(frozen=True, slots=True)
class InclusionProof:
    """PATH(leaf_index, D[tree_size]) with the signed checkpoint of `tree_size`.

    To check it: verify `checkpoint` under the log key, then
    `ledger.verify.verify_inclusion(leaf_index, tree_size, leaf_hash, proof, root)` with
    the checkpoint's root, and (for a record) `leaf_hash == H(0x00 || statement hash)`.
    """

    leaf_index: int
    tree_size: int
    leaf_hash: bytes
    proof: tuple[bytes, ...]
    checkpoint: str
    record: RecordRef | None = None

    def to_json(self) -> dict[str, Any]:
        """Hashes in hex; the record fields are null for a proof asked by leaf index."""
        ref = self.record
        return {
            "tenant": None if ref is None else ref.tenant,
            "order": None if ref is None else ref.order,
            "seq": None if ref is None else ref.seq,
            "statement_hash": None if ref is None else ref.statement_hash,
            "leaf_index": self.leaf_index,
            "tree_size": self.tree_size,
            "leaf_hash": self.leaf_hash.hex(),
            "inclusion_proof": [h.hex() for h in self.proof],
            "checkpoint": self.checkpoint,
        }


@dataclass(frozen=True, slots=True)
class ConsistencyProof:
    """PROOF(old_size, D[new_size]): the tree of `new_size` extends that of `old_size`."""

    old_size: int
    new_size: int
    proof: tuple[bytes, ...]

    def to_json(self) -> dict[str, Any]:
        """Exactly the file that `orderledger verify --consistency-proof` reads (§7 rule 8)."""
        return {
            "old_size": self.old_size,
            "new_size": self.new_size,
            "proof": [h.hex() for h in self.proof],
        }


def checkpoint_at(uow: UnitOfWork, size: int | None = None) -> CheckpointRow:
    """The newest checkpoint, or the stored checkpoint of exactly `size` leaves.

    Raises InvalidInput (field "size") when no checkpoint of that size is stored, or when
    none is stored at all.
    """
    if size is None:
        latest = uow.latest_checkpoint()
        if latest is None:
            raise InvalidInput("no checkpoint has been published yet", field="size")
        return latest
    if size < 1:
        raise InvalidInput(f"tree size must be at least 1, not {size}", field="size")
    found = LogReads(uow).checkpoint_of_size(size)
    if found is None:
        raise InvalidInput(f"no checkpoint of tree size {size} is stored", field="size")
    return found


def record_inclusion(
    uow: UnitOfWork, tenant: str, order: str, seq: int, *, size: int | None = None
) -> InclusionProof:
    """Inclusion of record `seq` of one order under the checkpoint of `size` (default:
    the newest).

    Raises UnknownOrder (field "order") for an order that does not exist; InvalidInput
    with field "seq" for a seq outside 0..head or a record not yet integrated, and with
    field "size" when the record's leaf is not in the tree of that checkpoint or no
    checkpoint of that size is stored.
    """
    head = uow.get_head(tenant, order)
    if head is None:
        raise UnknownOrder(f"no order {order!r} for tenant {tenant!r}", field="order")
    if not 0 <= seq <= head.head_seq:
        raise InvalidInput(
            f"order {order!r} has records seq 0..{head.head_seq}, not {seq}", field="seq"
        )
    checkpoint = checkpoint_at(uow, size)
    # get_chain reads the whole order; chains are short (tens of records), and the
    # recorder has no read of one record by (tenant, order, seq).
    record = next((r for r in uow.get_chain(tenant, order) if r.statement.seq == seq), None)
    if record is None or record.record_id is None:
        raise InvalidInput(f"record seq {seq} of order {order!r} is not stored", field="seq")
    index = uow.leaf_of(record.record_id)
    if index is None:
        raise InvalidInput(
            f"record seq {seq} of order {order!r} is not integrated into the log yet",
            field="seq",
        )
    if index >= checkpoint.size:
        raise InvalidInput(
            f"record seq {seq} is leaf {index}, outside the tree of size {checkpoint.size}",
            field="size",
        )
    ref = RecordRef(tenant, order, seq, record.statement_hash)
    return InclusionProof(
        leaf_index=index,
        tree_size=checkpoint.size,
        leaf_hash=leaf_hash(bytes.fromhex(record.statement_hash)),
        proof=tuple(merkle.inclusion_proof(index, checkpoint.size, uow)),
        checkpoint=checkpoint.note,
        record=ref,
    )


def leaf_inclusion(uow: UnitOfWork, leaf_index: int, *, size: int | None = None
                   ) -> InclusionProof:
    """Inclusion of leaf `leaf_index` under the checkpoint of `size` (default: the newest).

    Raises InvalidInput with field "leaf_index" for an index outside that tree, and with
    field "size" when no checkpoint of that size is stored.
    """
    checkpoint = checkpoint_at(uow, size)
    if not 0 <= leaf_index < checkpoint.size:
        raise InvalidInput(
            f"leaf index {leaf_index} is not in the tree of size {checkpoint.size}",
            field="leaf_index",
        )
    # Level 0 of the stored perfect subtrees is the leaf hashes themselves.
    stored = uow.get_nodes([(0, leaf_index)]).get((0, leaf_index))
    if stored is None:
        raise StorageError(f"leaf {leaf_index} is missing from the stored Merkle nodes")
    return InclusionProof(
        leaf_index=leaf_index,
        tree_size=checkpoint.size,
        leaf_hash=stored,
        proof=tuple(merkle.inclusion_proof(leaf_index, checkpoint.size, uow)),
        checkpoint=checkpoint.note,
    )


def consistency(uow: UnitOfWork, old_size: int, new_size: int | None = None
                ) -> ConsistencyProof:
    """PROOF(old_size, D[new_size]) from stored nodes; `new_size` defaults to the size of
    the newest checkpoint.

    Raises InvalidInput with field "old_size" unless 0 < old_size <= new_size, and with
    field "new_size" for a size beyond the log (or when no checkpoint exists to default to).
    """
    if new_size is None:
        latest = uow.latest_checkpoint()
        if latest is None:
            raise InvalidInput("no checkpoint has been published yet", field="new_size")
        new_size = latest.size
    if old_size < 1:
        raise InvalidInput(
            f"old size must be at least 1 (the empty tree proves nothing), not {old_size}",
            field="old_size",
        )
    if old_size > new_size:
        raise InvalidInput(
            f"old size {old_size} is larger than new size {new_size}", field="old_size"
        )
    log_size = uow.log_size()
    if new_size > log_size:
        raise InvalidInput(
            f"new size {new_size} is beyond the log's {log_size} leaves", field="new_size"
        )
    return ConsistencyProof(
        old_size, new_size, tuple(merkle.consistency_proof(old_size, new_size, uow))
    )

