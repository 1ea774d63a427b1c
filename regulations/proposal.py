"""The proposed record a regulation pack judges, before it is chained and signed.

A `Proposal` carries exactly what a rule may look at: the record's kind, event and
states, its event time, the ledger's clock reading (`now`), the payload, the actor and
the catalogue in force. Times are passed in, never read from a clock (STYLE.md §7).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, Final

from regulations.values import Leaf, walk
from statemodel.catalogue import Catalogue
from statemodel.errors import InvalidInput

#: The record kind that moves an order along an edge of the catalogue (evidence-format §1).
TRANSITION: Final = "transition"


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

    def __post_init__(self) -> None:
        require_aware(self.event_time, field="event_time")
        require_aware(self.now, field="now")
        object.__setattr__(self, "payload", MappingProxyType(dict(self.payload)))
        object.__setattr__(self, "leaves", tuple(walk(self.payload)))

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
