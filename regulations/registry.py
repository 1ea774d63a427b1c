"""Which pack judges a record: packs by `name@version` and by effective date.

A new version applies from its effective date; a record keeps the version it was judged
by (the statement's `rules` field names it), so `get_pack` must keep answering for
every version ever used, while `pack_in_force` picks the one for a new record.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from functools import cache

from regulations import cn_2026
from regulations.errors import NoPackInForce, RegulationError, UnknownPack
from regulations.model import Pack
from regulations.proposal import require_aware


class PackRegistry:
    """An immutable set of packs.

    Raises RegulationError when two packs share a `name@version`, or when two versions
    of one pack name start on the same instant (the choice would be ambiguous).
    """

    def __init__(self, packs: Iterable[Pack]) -> None:
        ordered = sorted(packs, key=lambda pack: (pack.effective_from, str(pack)))
        if not ordered:
            raise RegulationError("a pack registry needs at least one pack")
        by_id: dict[str, Pack] = {}
        starts: set[tuple[str, datetime]] = set()
        for pack in ordered:
            if str(pack) in by_id:
                raise RegulationError(f"pack {pack} is registered twice")
            start = (pack.name, pack.effective_from)
            if start in starts:
                raise RegulationError(f"two versions of {pack.name} start at "
                                      f"{pack.effective_from.isoformat()}")
            starts.add(start)
            by_id[str(pack)] = pack
        self._packs = tuple(ordered)
        self._by_id = by_id
        #: (from, until or None, pack): the last answer of `pack_in_force` without a
        #: name, and the span of instants it holds for. Replaced whole, so threads may
        #: share it.
        self._last_span: tuple[datetime, datetime | None, Pack] | None = None

    def all_packs(self) -> tuple[Pack, ...]:
        """Every registered pack, oldest effective date first."""
        return self._packs

    def get_pack(self, pack_id: str) -> Pack:
        """The pack named `name@version`. Raises UnknownPack (field `rules`) otherwise."""
        try:
            return self._by_id[pack_id]
        except KeyError:
            known = ", ".join(self._by_id)
            raise UnknownPack(f"unknown regulation pack {pack_id!r}; known: {known}") from None

    def pack_in_force(self, at: datetime, *, name: str | None = None) -> Pack:
        """The pack in force at `at`: of those whose [effective_from, effective_until)
        holds `at` (optionally only versions of `name`), the one that started last.

        Raises InvalidInput for a naive `at` and NoPackInForce when none applies:
        a record must never be judged by no rules at all.
        """
        require_aware(at, field="at")
        if name is None:
            span = self._last_span  # every record asks; the answer changes at few instants
            if span is not None and span[0] <= at and (span[1] is None or at < span[1]):
                return span[2]
        candidates = [
            pack for pack in self._packs
            if pack.in_force(at) and (name is None or pack.name == name)
        ]
        if not candidates:
            raise NoPackInForce(f"no regulation pack is in force at {at.isoformat()}")
        if name is None:
            self._last_span = (*self._span_around(at), candidates[-1])
        return candidates[-1]

    def _span_around(self, at: datetime) -> tuple[datetime, datetime | None]:
        """The instants, among every pack's start and end, nearest before (or at) and
        after `at`: between them the pack in force cannot change."""
        edges = {p.effective_from for p in self._packs} | {
            p.effective_until for p in self._packs if p.effective_until is not None}
        before = max(e for e in edges if e <= at)  # some pack is in force: one started
        after = [e for e in edges if e > at]
        return before, min(after) if after else None


@cache
def default_registry() -> PackRegistry:
    """The packs this build ships, built once on first use."""
    return PackRegistry([cn_2026.build_pack()])


def pack_in_force(at: datetime) -> Pack:
    """The shipped pack in force at `at` (see PackRegistry.pack_in_force)."""
    return default_registry().pack_in_force(at)


def get_pack(pack_id: str) -> Pack:
    """The shipped pack named `name@version`. Raises UnknownPack."""
    return default_registry().get_pack(pack_id)


def all_packs() -> tuple[Pack, ...]:
    """Every shipped pack, oldest first."""
    return default_registry().all_packs()
