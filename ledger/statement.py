"""The statement: one ledger record, exactly as evidence-format §1 defines it.

A `Statement` is the signed object; how it is stored in rows or served as JSON is kept
apart from it. `to_json()` gives the plain JSON object whose RFC 8785 bytes are hashed.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

STATEMENT_VERSION: Final = 1
GENESIS_PREV: Final = "0" * 64

#: Every top-level field of a v1 statement, in the order the spec lists them.
STATEMENT_FIELDS: Final = (
    "v",
    "log",
    "kind",
    "tenant",
    "order",
    "seq",
    "prev",
    "from",
    "to",
    "event",
    "event_time",
    "recorded_at",
    "actor",
    "payload_digest",
    "model",
    "rules",
    "key_id",
)


class Kind(StrEnum):
    TRANSITION = "transition"
    SLA_BREACH = "sla_breach"
    LEGAL_HOLD = "legal_hold"
    LEGAL_HOLD_RELEASE = "legal_hold_release"
    RETENTION_PURGE = "retention_purge"


class ActorType(StrEnum):
    PLATFORM = "platform"
    CARRIER = "carrier"
    SYSTEM = "system"
    USER = "user"


@dataclass(frozen=True, slots=True)
class Actor:
    type: ActorType
    id: str

    def to_json(self) -> dict[str, str]:
        return {"type": self.type.value, "id": self.id}


@dataclass(frozen=True, slots=True)
class Statement:
    """One record. Times are already in the canonical RFC 3339 form (ledger.timefmt)."""

    log: str
    kind: Kind
    tenant: str
    order: str
    seq: int
    prev: str
    from_state: str | None
    to_state: str
    event: str
    event_time: str
    recorded_at: str
    actor: Actor
    payload_digest: str
    model: str
    rules: str
    key_id: str
    v: int = STATEMENT_VERSION

    def to_json(self) -> dict[str, Any]:
        """The statement as the JSON object of spec §1 (exactly its fields)."""
        return {
            "v": self.v,
            "log": self.log,
            "kind": self.kind.value,
            "tenant": self.tenant,
            "order": self.order,
            "seq": self.seq,
            "prev": self.prev,
            "from": self.from_state,
            "to": self.to_state,
            "event": self.event,
            "event_time": self.event_time,
            "recorded_at": self.recorded_at,
            "actor": self.actor.to_json(),
            "payload_digest": self.payload_digest,
            "model": self.model,
            "rules": self.rules,
            "key_id": self.key_id,
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Statement:
        """Read a statement object; raises ValueError unless it has exactly the v1 fields
        with the right JSON types."""
        if not isinstance(obj, dict):
            raise ValueError("statement is not a JSON object")
        keys = set(obj)
        missing = [f for f in STATEMENT_FIELDS if f not in keys]
        extra = sorted(keys - set(STATEMENT_FIELDS))
        if missing or extra:
            raise ValueError(f"statement fields: missing {missing}, unexpected {extra}")
        actor = obj["actor"]
        if not isinstance(actor, dict) or set(actor) != {"type", "id"}:
            raise ValueError("statement actor must be {type, id}")
        for name in (
            "log",
            "kind",
            "tenant",
            "order",
            "prev",
            "to",
            "event",
            "event_time",
            "recorded_at",
            "payload_digest",
            "model",
            "rules",
            "key_id",
        ):
            if not isinstance(obj[name], str):
                raise ValueError(f"statement field {name!r} must be a string")
        for name in ("v", "seq"):
            if not isinstance(obj[name], int) or isinstance(obj[name], bool):
                raise ValueError(f"statement field {name!r} must be an integer")
        if obj["from"] is not None and not isinstance(obj["from"], str):
            raise ValueError("statement field 'from' must be a string or null")
        if not isinstance(actor["id"], str):
            raise ValueError("statement actor id must be a string")
        return cls(
            v=obj["v"],
            log=obj["log"],
            kind=Kind(obj["kind"]),
            tenant=obj["tenant"],
            order=obj["order"],
            seq=obj["seq"],
            prev=obj["prev"],
            from_state=obj["from"],
            to_state=obj["to"],
            event=obj["event"],
            event_time=obj["event_time"],
            recorded_at=obj["recorded_at"],
            actor=Actor(ActorType(actor["type"]), actor["id"]),
            payload_digest=obj["payload_digest"],
            model=obj["model"],
            rules=obj["rules"],
            key_id=obj["key_id"],
        )
