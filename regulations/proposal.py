"""The proposed record a regulation pack judges, before it is chained and signed.

A `Proposal` carries exactly what a rule may look at: the record's kind, event and
states, its event time, the ledger's clock reading (`now`), the payload, the actor and
the catalogue in force. Times are passed in, never read from a clock (STYLE.md §7).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
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
    zone = moment.tzinfo
    # UTC first: the ledger's clock and parsed times carry it (the usual case).
    if zone is not UTC and (zone is None or moment.utcoffset() is None):
        raise InvalidInput(f"{field}: a timezone-aware datetime is required", field=field)
    return moment


#: `payload`'s default: no payload (copied like any other on construction).
_NO_PAYLOAD: Final[Mapping[str, Any]] = MappingProxyType({})


# `__init__` is written out (init=False) and the class is not slotted: it stores all its
# attributes with one instance-dict assignment, where the generated one made thirteen
# object.__setattr__ calls, which cost more than the rest of the construction.
@dataclass(frozen=True, init=False)
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
    #: What `instant` parsed, by payload key (a str), and what `derived` computed, by
    #: the function that computed it (never equal to a str): one dict for both.
    _memo: dict[object, Any] = field(init=False, repr=False, compare=False)

    def __init__(
        self,
        kind: str,
        event: str,
        from_state: str | None,
        to_state: str,
        event_time: datetime,
        now: datetime,
        catalogue: Catalogue,
        payload: Mapping[str, Any] = _NO_PAYLOAD,
        actor_type: str = "system",
        actor_id: str = "",
    ) -> None:
        require_aware(event_time, field="event_time")
        require_aware(now, field="now")
        frozen = MappingProxyType(dict(payload))
        # Every field, in declaration order (what the generated __init__ stored).
        object.__setattr__(self, "__dict__", {
            "kind": kind, "event": event, "from_state": from_state, "to_state": to_state,
            "event_time": event_time, "now": now, "catalogue": catalogue,
            "payload": frozen, "actor_type": actor_type, "actor_id": actor_id,
            "leaves": leaves_of(frozen), "_memo": {},
        })

    def instant(self, key: str) -> datetime | None:
        """`parse_instant(self.payload.get(key))`, parsed at most once per proposal.

        Raises what `parse_instant` raises (nothing is remembered then, so every caller
        sees the same error).
        """
        value = self.payload.get(key)
        if value is None:  # parse_instant(None) is None: nothing to parse or remember
            return None
        memo = self._memo
        if key in memo:
            return memo[key]  # type: ignore[no-any-return]
        moment = memo[key] = parse_instant(value)
        return moment

    def derived(self, compute: Callable[[Proposal], T]) -> T:
        """`compute(self)`, computed at most once per proposal and `compute` function.

        `compute` must be a pure function of the proposal (a module-level function, so
        that every caller names the same key). An exception is not remembered: the next
        call computes again and raises the same way.
        """
        memo = self._memo
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
