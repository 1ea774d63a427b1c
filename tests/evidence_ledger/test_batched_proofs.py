"""`merkle.inclusion_proofs` gives exactly the bytes of `merkle.inclusion_proof`, for
every leaf of many tree sizes, in fewer reads."""

from __future__ import annotations

import pytest

from ledger import merkle
from ledger.errors import InvalidInput
from ledger.verify import leaf_hash

SIZES = [1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 31, 33, 64, 100, 255, 257]


def tree(size: int) -> merkle.InMemoryNodeStore:
    store = merkle.InMemoryNodeStore()
    store.append([leaf_hash(i.to_bytes(4, "big")) for i in range(size)])
    return store


@pytest.mark.parametrize("size", SIZES)
def test_batched_proofs_equal_single_proofs_for_every_leaf(size: int) -> None:
    store = tree(size)
    indices = list(range(size))[::-1]  # any order; the answer is keyed by index
    store.read_calls = 0

    batched = merkle.inclusion_proofs(indices, size, store)

    assert store.read_calls == (1 if size > 1 else 0)
    assert batched == {i: merkle.inclusion_proof(i, size, store) for i in range(size)}


@pytest.mark.parametrize(("size", "indices"), [
    (257, [0, 256, 128, 128, 3]),
    (100, [99]),
    (1000, list(range(0, 1000, 37))),
])
def test_batched_proofs_of_some_leaves_of_a_larger_tree(size: int, indices: list[int]) -> None:
    store = tree(1024)  # proofs against an older, smaller tree head
    assert merkle.inclusion_proofs(indices, size, store) == {
        i: merkle.inclusion_proof(i, size, store) for i in indices
    }


def test_batched_proofs_read_in_chunks_of_at_most_the_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = tree(300)
    expected = {i: merkle.inclusion_proof(i, 300, store) for i in range(300)}
    monkeypatch.setattr(merkle, "MAX_NODES_PER_READ", 50)
    store.read_calls = store.nodes_read = 0

    assert merkle.inclusion_proofs(range(300), 300, store) == expected
    assert store.read_calls == -(-store.nodes_read // 50) > 1


@pytest.mark.parametrize(("indices", "size"), [([0, 5], 5), ([-1], 3), ([0], 0)])
def test_an_index_outside_the_tree_is_refused(indices: list[int], size: int) -> None:
    with pytest.raises(InvalidInput) as refused:
        merkle.inclusion_proofs(indices, size, tree(8))
    assert refused.value.field == "leaf_index"


def test_no_indices_need_no_read() -> None:
    store = tree(8)
    store.read_calls = 0
    assert merkle.inclusion_proofs([], 8, store) == {}
    assert store.read_calls == 0
