"""Request (`*Create`) and response (`*Public`) bodies of the HTTP API.

Requests forbid unknown fields (a typo must not be silently dropped from evidence);
responses are built from the ledger's frozen values by the `from_*` helpers here, so
routers stay small.
"""

from __future__ import annotations

from typing import Annotated, Any, Final

from pydantic import BaseModel, ConfigDict, Field

from ledger.store import CheckpointRow, OrderHead, StoredRecord
from statemodel.catalogue import Catalogue

MAX_BATCH_ITEMS: Final = 1000

Id = Annotated[str, Field(min_length=1, max_length=128, examples=["hz-tea-house"])]
EventName = Annotated[str, Field(min_length=1, max_length=128, examples=["order_placed"])]
EventTime = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        description="RFC 3339 time of the event (normalised to UTC, milliseconds, Z)",
        examples=["2026-11-25T09:30:00.000Z"],
    ),
]
Payload = Annotated[
    dict[str, Any],
    Field(description="the target sub-state's actionable fields (catalogue schema)"),
]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OrderCreate(_Request):
    """Create an order: its first record, made by a creation event (seq 0)."""

    tenant: Id
    order: Id
    event: EventName
    event_time: EventTime
    payload: Payload = Field(default_factory=dict)


class EventCreate(_Request):
    """Move an order on with one event."""

    event: EventName
    event_time: EventTime
    payload: Payload = Field(default_factory=dict)
    expected_seq: int | None = Field(
        default=None, ge=0, description="refuse (409) unless the chain head is at this seq"
    )


class BatchItemCreate(_Request):
    """One item of a batch; `create` makes it an order's first record."""

    tenant: Id
    order: Id
    event: EventName
    event_time: EventTime
    payload: Payload = Field(default_factory=dict)
    expected_seq: int | None = Field(default=None, ge=0)
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=255)
    create: bool = False


class BatchCreate(_Request):
    """Up to 1,000 items; each is validated on its own and answered on its own."""

    items: list[dict[str, Any]] = Field(
        min_length=1,
        max_length=MAX_BATCH_ITEMS,
        description="BatchItemCreate objects (validated one by one)",
    )


class RecordPublic(BaseModel):
    """A record: the signed statement (evidence-format §1), its hash, its signature, and
    its payload (null once retention erased it)."""

    id: int | None
    statement: dict[str, Any]
    statement_hash: str
    signature: str
    payload: dict[str, Any] | None

    @classmethod
    def of(cls, record: StoredRecord) -> RecordPublic:
        return cls(
            id=record.record_id,
            statement=record.statement.to_json(),
            statement_hash=record.statement_hash,
            signature=record.signature,
            payload=record.payload,
        )


class AppendedPublic(RecordPublic):
    """The record an append made; `replayed` when an Idempotency-Key replay returned it."""

    replayed: bool = False

    @classmethod
    def made(cls, record: StoredRecord, replayed: bool) -> AppendedPublic:
        return cls(**RecordPublic.of(record).model_dump(), replayed=replayed)


class StateName(BaseModel):
    code: str
    name_zh: str
    name_en: str


class OrderStatePublic(BaseModel):
    main: StateName
    sub: StateName


class OrderPublic(BaseModel):
    tenant: str
    order: str
    state: OrderStatePublic
    head_seq: int
    head_hash: str
    model: str
    created_at: str
    updated_at: str
    allowed_events: list[str]
    chain: list[RecordPublic]

    @classmethod
    def of(
        cls, head: OrderHead, catalogue: Catalogue, allowed: list[str],
        chain: list[StoredRecord],
    ) -> OrderPublic:
        main = catalogue.main_states[head.main_state]
        sub = catalogue.sub_states[head.sub_state]
        return cls(
            tenant=head.tenant,
            order=head.order,
            state=OrderStatePublic(
                main=StateName(code=main.code, name_zh=main.name_zh, name_en=main.name_en),
                sub=StateName(code=sub.code, name_zh=sub.name_zh, name_en=sub.name_en),
            ),
            head_seq=head.head_seq,
            head_hash=head.head_hash,
            model=head.model,
            created_at=head.created_at,
            updated_at=head.updated_at,
            allowed_events=allowed,
            chain=[RecordPublic.of(r) for r in chain],
        )


class RecordPage(BaseModel):
    items: list[RecordPublic]
    next_cursor: str | None = Field(
        description="pass as `cursor` for the next page; null on the last page"
    )


class BatchItemResult(BaseModel):
    index: int
    status: int = Field(description="201 stored, 200 replayed, 4xx refused")
    record: AppendedPublic | None = None
    problem: dict[str, Any] | None = Field(default=None, description="RFC 9457 problem")


class BatchPublic(BaseModel):
    committed: int
    replayed: int
    rejected: int
    results: list[BatchItemResult]


class CheckpointPublic(BaseModel):
    size: int
    root: str = Field(description="hex Merkle tree hash")
    created_at: str
    note: str = Field(description="the signed checkpoint (C2SP signed note)")

    @classmethod
    def of(cls, row: CheckpointRow) -> CheckpointPublic:
        return cls(size=row.size, root=row.root.hex(), created_at=row.created_at, note=row.note)


class InclusionProofPublic(BaseModel):
    tenant: str
    order: str
    seq: int
    statement_hash: str
    leaf_index: int
    tree_size: int
    inclusion_proof: list[str]
    checkpoint: str


class ConsistencyProofPublic(BaseModel):
    """The shape `orderledger verify --consistency-proof` reads."""

    old_size: int
    new_size: int
    proof: list[str]


class CataloguePublic(BaseModel):
    digest: str
    version: str
    document: dict[str, Any]


class ApiKeyCreate(_Request):
    name: Annotated[str, Field(min_length=1, max_length=128)]
    role: str
    tenant: Id | None = None


class ApiKeyPublic(BaseModel):
    id: int
    name: str
    role: str
    tenant: str | None
    created_at: str
    revoked_at: str | None


class ApiKeyIssued(ApiKeyPublic):
    token: str = Field(description="the bearer token; shown this once, never stored")


class Health(BaseModel):
    status: str
