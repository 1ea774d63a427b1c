"""Rows for storage tests, built directly (no catalogue, no crypto).

Hashes are real SHA-256 of the statement's canonical JSON so they are unique and look
like the real thing; signatures are dummy base64. Storage does not check either.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, text

from ledger.statement import GENESIS_PREV, Actor, ActorType, Kind, Statement
from ledger.store import CheckpointRow, KeyRow, OrderHead, Recorder, StoredRecord, UnitOfWork
from ledger.store.core import SqlRecorder
from statemodel.canonical import canonical_json, sha256_hex

MODEL = "sha256:" + "ab" * 32
DUMMY_SIGNATURE = "c2lnbmF0dXJl"  # b64("signature")
ALL_TABLES = ("orders", "records", "payloads", "catalogues", "signing_keys", "findings",
              "timers", "alert_outbox", "webhook_subscriptions", "alert_deliveries",
              "alert_cursor", "legal_holds", "retention_runs", "retention_run_items",
              "api_keys", "carrier_subscriptions", "carrier_feed_secrets",
              "carrier_feed_events", "console_sessions",
              "idempotency_keys", "sequencing_queue", "leaves", "merkle_nodes", "checkpoints")


def time_at(second: int) -> str:
    """A canonical RFC 3339 time `second` seconds after 2026-05-01T10:00:00Z."""
    minutes, seconds = divmod(second, 60)
    return f"2026-05-01T{10 + minutes // 60:02d}:{minutes % 60:02d}:{seconds:02d}.000Z"


def make_record(
    *,
    tenant: str = "shop-1",
    order: str = "order-1",
    seq: int = 0,
    prev: str = GENESIS_PREV,
    from_state: str | None = None,
    to_state: str = "M01.01",
    kind: Kind = Kind.TRANSITION,
    payload: dict[str, Any] | None = None,
    salt: bytes | None = None,
) -> StoredRecord:
    statement = Statement(
        log="ledger.example/test",
        kind=kind,
        tenant=tenant,
        order=order,
        seq=seq,
        prev=prev,
        from_state=from_state,
        to_state=to_state,
        event="create" if seq == 0 else f"event-{seq}",
        event_time=time_at(seq),
        recorded_at=time_at(seq + 1),
        actor=Actor(ActorType.PLATFORM, "platform-a"),
        payload_digest="cd" * 32,
        model=MODEL,
        rules="cn-express@1.0.0",
        key_id="0123456789abcdef",
    )
    body = {"note": f"seq {seq}", "城市": "上海"} if payload is None else payload
    return StoredRecord(
        statement=statement,
        statement_hash=sha256_hex(canonical_json(statement.to_json())),
        signature=DUMMY_SIGNATURE,
        payload=body,
        salt=bytes([seq % 256]) * 16 if salt is None else salt,
    )


def make_chain(
    length: int, *, tenant: str = "shop-1", order: str = "order-1"
) -> list[StoredRecord]:
    """Records seq 0..length-1 of one order, each linked to the previous hash."""
    chain: list[StoredRecord] = []
    for seq in range(length):
        prev = chain[-1] if chain else None
        chain.append(make_record(
            tenant=tenant, order=order, seq=seq,
            prev=GENESIS_PREV if prev is None else prev.statement_hash,
            from_state=None if prev is None else prev.statement.to_state,
            to_state=f"M01.{seq + 1:02d}",
        ))
    return chain


def head_after(record: StoredRecord, *, created_at: str | None = None) -> OrderHead:
    s = record.statement
    return OrderHead(
        tenant=s.tenant, order=s.order, sub_state=s.to_state, main_state=s.to_state[:3],
        head_seq=s.seq, head_hash=record.statement_hash, model=s.model,
        created_at=created_at or s.recorded_at, updated_at=s.recorded_at,
    )


def make_key(key_id: str = "0123456789abcdef", *, purpose: str = "record",
             not_before: str = "2026-01-01T00:00:00.000Z") -> KeyRow:
    assert purpose in ("record", "log")
    return KeyRow(key_id=key_id, purpose="record" if purpose == "record" else "log",
                  alg="Ed25519", public_key=bytes(range(32)), not_before=not_before)


def make_checkpoint(size: int) -> CheckpointRow:
    return CheckpointRow(size=size, root=bytes([size % 256]) * 32,
                         note=f"ledger.example/test\n{size}\nroot\n\n— sig\n",
                         created_at=time_at(size))


def store_order(recorder: Recorder, records: list[StoredRecord]) -> list[int]:
    """Store a chain of one order and its head in one unit of work; returns the ids."""
    with recorder.unit_of_work() as uow:
        ids = uow.insert_records(records)
        uow.insert_order(head_after(records[-1], created_at=records[0].statement.recorded_at))
    return ids


def in_unit_of_work(recorder: Recorder, work: Callable[[UnitOfWork], object]) -> None:
    """Do `work` in one unit of work (for `pytest.raises` around a whole transaction)."""
    with recorder.unit_of_work() as uow:
        work(uow)


def run_sql(recorder: Recorder, *statements: str) -> None:
    """Raw SQL around the interface, in one transaction."""
    with engine_of(recorder).begin() as connection:
        for statement in statements:
            connection.execute(text(statement))


def engine_of(recorder: Recorder) -> Engine:
    """The recorder's engine, for raw SQL that goes around the interface."""
    assert isinstance(recorder, SqlRecorder)
    return recorder.engine


def snapshot(recorder: Recorder) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every ledger table, in a stable order."""
    with engine_of(recorder).connect() as connection:
        return {
            table: sorted(
                (tuple(row) for row in connection.execute(text(f"SELECT * FROM {table}"))),
                key=repr,
            )
            for table in ALL_TABLES
        }
