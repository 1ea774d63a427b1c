"""What the recorder hands in and out: frozen values, never ORM objects.

Times are the canonical RFC 3339 text of `ledger.timefmt`, exactly as stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ledger.statement import Statement

KeyPurpose = Literal["record", "log"]


@dataclass(frozen=True, slots=True)
class OrderHead:
    """Where one order's chain stands: its last record and the state it left."""

    tenant: str
    order: str
    sub_state: str
    main_state: str
    head_seq: int
    head_hash: str
    model: str
    created_at: str
    updated_at: str
    #: The regulation pack's folded facts about the order (JSON object); None = initial.
    facts: dict[str, Any] | None = None
    #: The facts' RFC 8785 text when the writer has it at hand (it wrote it from the
    #: facts themselves), so that storing them does not canonicalise them again; not part
    #: of equality. None: the store writes it from `facts`.
    facts_text: str | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """A statement with its hash (hex), signature (b64), database id and payload.

    `record_id` is None before the record is inserted. `payload` and `salt` are both None
    once retention erased them.
    """

    statement: Statement
    statement_hash: str
    signature: str
    record_id: int | None = None
    payload: dict[str, Any] | None = None
    salt: bytes | None = None
    #: The payload's RFC 8785 text when the writer has it at hand (it hashed it for the
    #: digest), so that storing it does not canonicalise it again; not part of equality.
    payload_text: str | None = field(default=None, compare=False, repr=False)

    def with_id(self, record_id: int) -> StoredRecord:
        """This record as stored under `record_id` (built directly: the append path calls
        it per record, and dataclasses.replace costs several times more)."""
        return StoredRecord(self.statement, self.statement_hash, self.signature, record_id,
                            self.payload, self.salt, self.payload_text)


@dataclass(frozen=True, slots=True)
class IdempotencyEntry:
    tenant: str
    key: str
    request_hash: str
    record_id: int
    created_at: str


@dataclass(frozen=True, slots=True)
class KeyRow:
    """A published public key: may sign from `not_before` until `not_after` (None: active)."""

    key_id: str
    purpose: KeyPurpose
    alg: str
    public_key: bytes
    not_before: str
    not_after: str | None = None


@dataclass(frozen=True, slots=True)
class CheckpointRow:
    """A checkpoint of the log: `root` is the raw 32-byte tree hash, `note` the signed note."""

    size: int
    root: bytes
    note: str
    created_at: str


@dataclass(frozen=True, slots=True)
class CatalogueRow:
    """A stored state catalogue; `document` is the JSON value whose digest is `digest`."""

    digest: str
    version: str
    document: dict[str, Any]


@dataclass(frozen=True, slots=True)
class FindingEntry:
    """A regulation finding on a stored record (`record_id` known once inserted)."""

    record_id: int
    tenant: str
    order: str
    seq: int
    sub_state: str
    recorded_at: str
    pack: str
    rule_id: str
    severity: str
    citation: str
    message: str
    field: str


@dataclass(frozen=True, slots=True)
class TimerRow:
    """An SLA timer. `id` is None before insertion; times are canonical RFC 3339 text."""

    tenant: str
    order: str
    name: str
    sub_state: str
    armed_seq: int
    deadline: str
    warn_at: tuple[str, ...]
    next_warn_at: str | None
    state: str  # armed | fired | disarmed
    created_at: str
    closed_at: str | None = None
    closed_by_seq: int | None = None
    id: int | None = None


@dataclass(frozen=True, slots=True)
class AlertRow:
    """An alert in the outbox: `kind` is sla_breach or sla_warning, `body` a JSON object."""

    tenant: str
    kind: str
    body: dict[str, Any]
    created_at: str
    id: int | None = None


#: A timer to disarm: (tenant, order, timer name, closed at, closed by seq).
TimerDisarm = tuple[str, str, str, str, int]


@dataclass(frozen=True, slots=True)
class AppendWrites:
    """Everything one unit of work's appends write (`UnitOfWork.write_appends`).

    Records get their ids from the database, so idempotency entries and findings name
    their record by statement hash here; their `record_id` field is not read.
    """

    records: Sequence[StoredRecord]
    new_orders: Sequence[OrderHead] = ()
    #: (the head seq this unit of work locked, the head to leave)
    head_moves: Sequence[tuple[int, OrderHead]] = ()
    timer_disarms: Sequence[TimerDisarm] = ()
    timers: Sequence[TimerRow] = ()
    idempotency: Sequence[tuple[str, IdempotencyEntry]] = ()
    findings: Sequence[tuple[str, FindingEntry]] = ()
