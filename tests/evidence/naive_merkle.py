"""A naive RFC 9162 §2.1 Merkle tree, written straight from the definitions.

Used only to check `ledger.merkle`. Subtree hashes are memoised by leaf range, which
changes nothing about what is computed, only how often.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence


def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _k(n: int) -> int:
    """Largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


class NaiveTree:
    def __init__(self, leaf_inputs: Sequence[bytes]) -> None:
        self.inputs = list(leaf_inputs)
        self._memo: dict[tuple[int, int], bytes] = {}

    def mth(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]) (§2.1.1)."""
        if (start, end) in self._memo:
            return self._memo[(start, end)]
        n = end - start
        if n == 0:
            result = _h(b"")
        elif n == 1:
            result = _h(b"\x00" + self.inputs[start])
        else:
            k = _k(n)
            result = _h(b"\x01" + self.mth(start, start + k) + self.mth(start + k, end))
        self._memo[(start, end)] = result
        return result

    def root(self, size: int) -> bytes:
        return self.mth(0, size)

    def path(self, m: int, start: int, end: int) -> list[bytes]:
        """PATH(m, D[start:end]) (§2.1.3.1), m relative to start."""
        n = end - start
        if n == 1:
            return []
        k = _k(n)
        if m < k:
            return [*self.path(m, start, start + k), self.mth(start + k, end)]
        return [*self.path(m - k, start + k, end), self.mth(start, start + k)]

    def inclusion(self, index: int, size: int) -> list[bytes]:
        return self.path(index, 0, size)

    def subproof(self, m: int, start: int, end: int, whole: bool) -> list[bytes]:
        """SUBPROOF(m, D[start:end], b) (§2.1.4.1)."""
        n = end - start
        if m == n:
            return [] if whole else [self.mth(start, end)]
        k = _k(n)
        if m <= k:
            return [*self.subproof(m, start, start + k, whole), self.mth(start + k, end)]
        return [*self.subproof(m - k, start + k, end, False), self.mth(start, start + k)]

    def consistency(self, old: int, new: int) -> list[bytes]:
        return self.subproof(old, 0, new, True)
