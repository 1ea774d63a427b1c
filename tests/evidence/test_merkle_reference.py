"""The stored-node Merkle implementation agrees with the naive RFC 9162 reference."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from functools import cache, partial

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger import merkle, verify
from ledger.errors import InvalidInput, StorageError
from tests.evidence.naive_merkle import NaiveTree

SMALL = 300
LARGE = 100_000


def leaf_inputs(n: int) -> list[bytes]:
    return [hashlib.sha256(i.to_bytes(8, "big")).digest() for i in range(n)]


@cache
def small_world() -> tuple[merkle.InMemoryNodeStore, NaiveTree]:
    inputs = leaf_inputs(SMALL)
    store = merkle.InMemoryNodeStore()
    store.append([verify.leaf_hash(d) for d in inputs])
    return store, NaiveTree(inputs)


@cache
def large_world() -> tuple[merkle.InMemoryNodeStore, NaiveTree]:
    """Built once per module: 100,000 leaves appended in uneven batches."""
    inputs = leaf_inputs(LARGE)
    store = merkle.InMemoryNodeStore()
    position = 0
    for batch in (1, 2, 3, 4093, 30_000, 65_901):
        store.append([verify.leaf_hash(d) for d in inputs[position : position + batch]])
        position += batch
    assert position == LARGE
    return store, NaiveTree(inputs)


def test_roots_agree_for_every_size_up_to_300() -> None:
    store, naive = small_world()
    for size in range(SMALL + 1):
        assert merkle.root(size, store) == naive.root(size), size


def test_inclusion_proofs_agree_for_every_index_and_size_up_to_300() -> None:
    store, naive = small_world()
    for size in range(1, SMALL + 1):
        head = naive.root(size)
        for index in range(size):
            proof = merkle.inclusion_proof(index, size, store)
            assert proof == naive.inclusion(index, size), (index, size)
            if size <= 64:  # and the verifier accepts them (all pairs would be slow)
                verify.verify_inclusion(index, size, store.nodes[(0, index)], proof, head)


def test_consistency_proofs_agree_for_every_pair_up_to_300() -> None:
    store, naive = small_world()
    for new in range(1, SMALL + 1):
        for old in range(1, new + 1):
            proof = merkle.consistency_proof(old, new, store)
            assert proof == naive.consistency(old, new), (old, new)
            if new <= 64:
                verify.verify_consistency(old, new, naive.root(old), naive.root(new), proof)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_large_trees_agree_with_reference(data: st.DataObject) -> None:
    store, naive = large_world()
    size = data.draw(st.integers(1, LARGE), label="size")
    index = data.draw(st.integers(0, size - 1), label="index")
    old = data.draw(st.integers(1, size), label="old")
    head = merkle.root(size, store)
    assert head == naive.root(size)
    proof = merkle.inclusion_proof(index, size, store)
    assert proof == naive.inclusion(index, size)
    verify.verify_inclusion(index, size, store.nodes[(0, index)], proof, head)
    consistency = merkle.consistency_proof(old, size, store)
    assert consistency == naive.consistency(old, size)
    verify.verify_consistency(old, size, naive.root(old), head, consistency)


def test_proofs_read_logarithmically_many_nodes_in_one_batch() -> None:
    store, _ = large_world()
    for size, index, old in [(LARGE, 12_345, 777), (LARGE - 1, LARGE - 2, LARGE - 3),
                             (65_537, 65_536, 1)]:
        bound = 2 * size.bit_length() + 2
        runs: list[Callable[[], object]] = [
            partial(merkle.root, size, store),
            partial(merkle.inclusion_proof, index, size, store),
            partial(merkle.consistency_proof, old, size, store),
        ]
        for run in runs:
            before_calls, before_nodes = store.read_calls, store.nodes_read
            run()
            assert store.read_calls - before_calls == 1
            assert store.nodes_read - before_nodes <= bound


def append_in_batches(inputs: Sequence[bytes], batches: Sequence[int]) -> merkle.InMemoryNodeStore:
    store = merkle.InMemoryNodeStore()
    position = 0
    for batch in batches:
        head = store.append([verify.leaf_hash(d) for d in inputs[position : position + batch]])
        position += batch
        assert head == merkle.root(store.size, store)
    return store


@settings(max_examples=40, deadline=None)
@given(batches=st.lists(st.integers(0, 70), min_size=1, max_size=25))
def test_appender_in_random_batches_equals_one_big_append(batches: list[int]) -> None:
    inputs = leaf_inputs(sum(batches))
    stepwise = append_in_batches(inputs, batches)
    at_once = append_in_batches(inputs, [len(inputs)])
    assert stepwise.nodes == at_once.nodes
    assert stepwise.size == at_once.size == len(inputs)
    naive = NaiveTree(inputs)
    assert merkle.root(len(inputs), stepwise) == naive.root(len(inputs))
    # every stored node is a perfect subtree hash, and every perfect subtree is stored
    for (level, index), value in stepwise.nodes.items():
        assert value == naive.mth(index << level, (index + 1) << level)
    expected = sum(len(inputs) >> level for level in range(len(inputs).bit_length()))
    assert len(stepwise.nodes) == expected


def test_appender_reads_only_the_right_edge() -> None:
    store = append_in_batches(leaf_inputs(1000), [1000])
    before = store.nodes_read
    store.append([verify.leaf_hash(b"x")] * 50)
    assert store.nodes_read - before == bin(1000).count("1")


def test_empty_append_and_empty_tree() -> None:
    store = merkle.InMemoryNodeStore()
    assert store.append([]) == verify.EMPTY_ROOT == merkle.root(0, store)
    assert store.nodes == {}


@pytest.mark.parametrize(
    ("name", "call"),
    [
        ("index equal to size", lambda s: merkle.inclusion_proof(5, 5, s)),
        ("negative index", lambda s: merkle.inclusion_proof(-1, 5, s)),
        ("old larger than new", lambda s: merkle.consistency_proof(6, 5, s)),
        ("from the empty tree", lambda s: merkle.consistency_proof(0, 5, s)),
    ],
)
def test_invalid_proof_requests(name: str, call: object) -> None:
    store = append_in_batches(leaf_inputs(8), [8])
    assert callable(call)
    with pytest.raises(InvalidInput):
        call(store)


def test_missing_node_is_a_storage_error() -> None:
    store = append_in_batches(leaf_inputs(8), [8])
    del store.nodes[(1, 1)]  # the sibling of leaves 0-1 in a tree of 8
    with pytest.raises(StorageError, match="missing"):
        merkle.inclusion_proof(0, 8, store)
