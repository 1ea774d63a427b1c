"""The proposed record a regulation pack judges, before it is chained and signed.

A `Proposal` carries exactly what a rule may look at: the record's kind, event and
states, its event time, the ledger's clock reading (`now`), the payload, the actor and
the catalogue in force. Times are passed in, never read from a clock (STYLE.md §7).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, Final, TypeVar

from regulations.values import Leaf, leaves_of, parse_instant
from statemodel.catalogue import Catalogue
from statemodel.errors import InvalidInput

#: The record kind that moves an order along an edge of the catalogue (evidence-format §1).
TRANSITION: Final = "transition"

T = TypeVar("T")


def require_aware(moment: datetime, *, field: str) -> datetime:
    """Return `moment` unchanged if it carries a UTC offset.

    Raises InvalidInput naming `field` for a naive datetime: without an offset the
    instant is ambiguous, and every rule about time would be guessing.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidInput(f"{field}: a timezone-aware datetime is required", field=field)
    return moment


@dataclass(frozen=True, slots=True)
class Proposal:
    """One record as proposed to the ledger.

    `from_state` is None only for the record that creates an order (seq 0). For every
    kind but `transition`, `to_state` equals `from_state`. `payload` is frozen on
    construction (a read-only view over a shallow copy) so a rule cannot alter what
    the next rule sees.

    Every rule and the facts fold read the same few values of one proposal; `instant`
    and `derived` compute each of them once per proposal and remember it (rules run on
    every append). Being frozen, a proposal cannot change under its memo.

    Raises InvalidInput when `event_time` or `now` is naive.
    """

    kind: str
    event: str
    from_state: str | None
    to_state: str
    event_time: datetime
    now: datetime
    catalogue: Catalogue
    payload: Mapping[str, Any] = field(default_factory=dict)
    actor_type: str = "system"
    actor_id: str = ""
    #: Every scalar of the payload as `regulations.values.walk` yields it, walked once
    #: here for all the rules that scan the payload (they run on every append).
    leaves: tuple[Leaf, ...] = field(init=False, repr=False, compare=False)
    #: What `instant` parsed, by payload key.
    _instants: dict[str, datetime | None] = field(init=False, repr=False, compare=False)
    #: What `derived` computed, by the function that computed it.
    _derived: dict[Callable[[Proposal], Any], Any] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        require_aware(self.event_time, field="event_time")
        require_aware(self.now, field="now")
        payload = MappingProxyType(dict(self.payload))
        object.__setattr__(self, "payload", payload)
        object.__setattr__(self, "leaves", leaves_of(payload))
        object.__setattr__(self, "_instants", {})
        object.__setattr__(self, "_derived", {})

    def instant(self, key: str) -> datetime | None:
        """`parse_instant(self.payload.get(key))`, parsed at most once per proposal.

        Raises what `parse_instant` raises (nothing is remembered then, so every caller
        sees the same error).
        """
        value = self.payload.get(key)
        if value is None:  # parse_instant(None) is None: nothing to parse or remember
            return None
        instants = self._instants
        if key in instants:
            return instants[key]
        moment = instants[key] = parse_instant(value)
        return moment

    def derived(self, compute: Callable[[Proposal], T]) -> T:
        """`compute(self)`, computed at most once per proposal and `compute` function.

        `compute` must be a pure function of the proposal (a module-level function, so
        that every caller names the same key). An exception is not remembered: the next
        call computes again and raises the same way.
        """
        memo = self._derived
        if compute in memo:
            return memo[compute]  # type: ignore[no-any-return]
        found = memo[compute] = compute(self)
        return found

    @property
    def is_transition(self) -> bool:
        """True when the record moves the order (or creates it)."""
        return self.kind == TRANSITION

    @property
    def is_creation(self) -> bool:
        """True for the record at seq 0, which has no previous state."""
        return self.from_state is None

    @property
    def changes_state(self) -> bool:
        """True when the record leaves one sub-state for another."""
        return self.is_transition and self.to_state != self.from_state
