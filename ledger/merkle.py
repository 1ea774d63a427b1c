"""Merkle log proofs generated from stored perfect-subtree hashes (RFC 9162 §2.1).

Only hashes of PERFECT subtrees are stored: node `(level, index)` is the hash of leaves
`[index * 2**level, (index + 1) * 2**level)`; level 0 holds the leaf hashes. Every tree
head, inclusion proof and consistency proof of RFC 9162 is a hash of subtrees that are
either perfect or sit on the right edge of the tree; a right-edge subtree is the
right-to-left fold of the O(log n) perfect subtrees that tile it. So each answer needs
one batched read of O(log n) nodes and never recomputes from all leaves.

Planning (which node ids, pure arithmetic) is kept apart from hashing, so a store can
fetch everything a proof needs in one query. Verification lives in `ledger.verify`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from ledger.errors import InvalidInput, StorageError
from ledger.verify import EMPTY_ROOT, node_hash

NodeId = tuple[int, int]
"""(level, index): the perfect subtree over leaves [index * 2**level, (index+1) * 2**level)."""

Span = tuple[int, int]
"""[start, end) leaf range of a subtree as RFC 9162 splits the tree."""


class NodeReader(Protocol):
    def get_nodes(self, ids: Sequence[NodeId]) -> dict[NodeId, bytes]:
        """The stored hashes of these nodes (one batched read); missing ids are left out."""
        ...


# --- planning: pure arithmetic on sizes and indices ------------------------------------

def _largest_power_of_two_below(n: int) -> int:
    """The k of RFC 9162: the largest power of two strictly smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def span_nodes(span: Span) -> list[NodeId]:
    """The perfect subtrees tiling a subtree span, left to right (largest first).

    Spans produced by RFC 9162's recursive split start at a multiple of a power of two
    at least as large as their length, so the binary digits of the length tile them.
    """
    start, end = span
    nodes = []
    offset = start
    for level in range((end - start).bit_length() - 1, -1, -1):
        if (end - start) >> level & 1:
            nodes.append((level, offset >> level))
            offset += 1 << level
    return nodes


def root_plan(size: int) -> list[NodeId]:
    """Node ids whose fold is the tree head of `size` leaves (empty for size 0)."""
    return span_nodes((0, size))


def inclusion_plan(index: int, size: int) -> list[Span]:
    """The subtree spans whose hashes form PATH(index, D[size]), leaf side first.
    Raises InvalidInput unless 0 <= index < size."""
    if not 0 <= index < size:
        raise InvalidInput(f"leaf index {index} is not in a tree of size {size}",
                           field="leaf_index")
    spans: list[Span] = []
    start, end = 0, size
    while end - start > 1:
        k = _largest_power_of_two_below(end - start)
        if index < start + k:
            spans.append((start + k, end))
            end = start + k
        else:
            spans.append((start, start + k))
            start += k
    spans.reverse()
    return spans


def consistency_plan(old_size: int, new_size: int) -> list[Span]:
    """The subtree spans whose hashes form PROOF(old_size, D[new_size]) (RFC 9162
    §2.1.4.1). Empty when the sizes are equal. Raises InvalidInput unless
    0 < old_size <= new_size (a proof from the empty tree proves nothing)."""
    if not 0 < old_size <= new_size:
        raise InvalidInput(f"no consistency proof from size {old_size} to size {new_size}",
                           field="old_size")
    spans: list[Span] = []
    start, end, m, whole_old_tree = 0, new_size, old_size, True
    while m != end - start:
        k = _largest_power_of_two_below(end - start)
        if m <= k:
            spans.append((start + k, end))
            end = start + k
        else:
            spans.append((start, start + k))
            start, m, whole_old_tree = start + k, m - k, False
    if not whole_old_tree:  # SUBPROOF(m, D[m], false) = {MTH(D[m])}
        spans.append((start, end))
    spans.reverse()
    return spans


def _nodes_of(spans: Iterable[Span]) -> list[NodeId]:
    seen: dict[NodeId, None] = {}
    for span in spans:
        for node in span_nodes(span):
            seen.setdefault(node, None)
    return list(seen)


# --- hashing from stored nodes ----------------------------------------------------------

def fold(hashes: Sequence[bytes]) -> bytes:
    """Hash of a subtree from its left-to-right perfect tiles: right-to-left fold."""
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = node_hash(left, result)
    return result


def _read(reader: NodeReader, ids: Sequence[NodeId]) -> dict[NodeId, bytes]:
    if not ids:
        return {}
    found = reader.get_nodes(ids)
    missing = [i for i in ids if i not in found]
    if missing:
        raise StorageError(f"Merkle nodes missing from storage: {missing[:5]}")
    return found


def _span_hashes(spans: Sequence[Span], nodes: dict[NodeId, bytes]) -> list[bytes]:
    return [fold([nodes[n] for n in span_nodes(span)]) for span in spans]


def root(size: int, reader: NodeReader) -> bytes:
    """The tree head of the first `size` leaves (H("") for 0). Raises StorageError when
    a node it needs is not stored."""
    if size == 0:
        return EMPTY_ROOT
    plan = root_plan(size)
    nodes = _read(reader, plan)
    return fold([nodes[n] for n in plan])


def inclusion_proof(index: int, size: int, reader: NodeReader) -> list[bytes]:
    """PATH(index, D[size]) from one batched read of O(log size) nodes. Raises
    InvalidInput for an index outside the tree, StorageError for a missing node."""
    spans = inclusion_plan(index, size)
    return _span_hashes(spans, _read(reader, _nodes_of(spans)))


#: Most node ids one batched proof read asks for (SQLite binds at most 32,766 values).
MAX_NODES_PER_READ = 10_000


def inclusion_proofs(
    indices: Iterable[int], size: int, reader: NodeReader
) -> dict[int, list[bytes]]:
    """PATH(index, D[size]) for many leaves at once, keyed by leaf index: each proof is
    exactly `inclusion_proof(index, size, reader)`, but the nodes of all of them (shared
    ones once) come from as few batched reads as MAX_NODES_PER_READ allows. Raises
    InvalidInput for an index outside the tree, StorageError for a missing node."""
    plans = {index: inclusion_plan(index, size) for index in dict.fromkeys(indices)}
    needed = _nodes_of(span for spans in plans.values() for span in spans)
    nodes: dict[NodeId, bytes] = {}
    for start in range(0, len(needed), MAX_NODES_PER_READ):
        nodes.update(_read(reader, needed[start:start + MAX_NODES_PER_READ]))
    return {index: _span_hashes(spans, nodes) for index, spans in plans.items()}


def consistency_proof(old_size: int, new_size: int, reader: NodeReader) -> list[bytes]:
    """PROOF(old_size, D[new_size]) from one batched read of O(log new_size) nodes.
    Raises InvalidInput unless 0 < old_size <= new_size, StorageError for a missing node."""
    spans = consistency_plan(old_size, new_size)
    return _span_hashes(spans, _read(reader, _nodes_of(spans)))


def append_leaves(
    size: int, leaf_hashes: Sequence[bytes], reader: NodeReader
) -> tuple[dict[NodeId, bytes], int, bytes]:
    """Append leaf hashes to a tree of `size` leaves.

    Returns (every perfect node the batch creates, to be stored; the new size; the new
    root). Reads only the stored right-edge perfect nodes of the old tree (one batched
    read of at most log2(size) + 1 nodes): they are the only old nodes a new perfect
    node can have as its left child. Raises StorageError when one is missing.
    """
    edge = _read(reader, root_plan(size))
    new: dict[NodeId, bytes] = {}

    def stored(node: NodeId) -> bytes:
        return new[node] if node in new else edge[node]

    for offset, leaf in enumerate(leaf_hashes):
        level, index = 0, size + offset
        new[(level, index)] = leaf
        while index & 1:  # a right child completes its parent
            parent = node_hash(stored((level, index - 1)), new[(level, index)])
            level, index = level + 1, index >> 1
            new[(level, index)] = parent
    new_size = size + len(leaf_hashes)
    if new_size == 0:
        return new, 0, EMPTY_ROOT
    return new, new_size, fold([stored(n) for n in root_plan(new_size)])


class InMemoryNodeStore:
    """A NodeReader over a dict, for tests and the benchmark; counts reads."""

    def __init__(self) -> None:
        self.nodes: dict[NodeId, bytes] = {}
        self.size = 0
        self.read_calls = 0
        self.nodes_read = 0

    def get_nodes(self, ids: Sequence[NodeId]) -> dict[NodeId, bytes]:
        self.read_calls += 1
        self.nodes_read += len(ids)
        return {i: self.nodes[i] for i in ids if i in self.nodes}

    def append(self, leaf_hashes: Sequence[bytes]) -> bytes:
        """Append leaf hashes, store the new nodes, return the new root."""
        new, self.size, head = append_leaves(self.size, leaf_hashes, self)
        self.nodes.update(new)
        return head
