"""What the routers ask of the ledger, each in one unit of work (no queries in routers).

Every function raises the ledger's typed errors (UnknownOrder, InvalidInput with a
field, StorageError), which `api.problems` turns into problem+json.
"""

from __future__ import annotations

from dataclasses import dataclass

from ledger import merkle
from ledger.errors import InvalidInput, UnknownOrder
from ledger.service import Ledger
from ledger.store import CheckpointRow, OrderHead, StoredRecord, TimerRow
from ledger.store.queries import RecordFilter, engine_of, search_records
from statemodel.catalogue import Catalogue


@dataclass(frozen=True, slots=True)
class OrderView:
    head: OrderHead
    chain: list[StoredRecord]
    catalogue: Catalogue
    allowed_events: list[str]


def order_view(ledger: Ledger, tenant: str, order: str) -> OrderView:
    """An order's head, whole chain and the catalogue it lives under. Raises UnknownOrder."""
    with ledger.recorder.unit_of_work(read_only=True) as uow:
        head = uow.get_head(tenant, order)
        if head is None:
            raise UnknownOrder(f"no order {order!r} for tenant {tenant!r}", field="order")
        chain = uow.get_chain(tenant, order)
        model = ledger.models.get(uow, head.model)
    allowed = model.machine.allowed_events(head.sub_state)
    return OrderView(head, chain, model.catalogue, allowed)


def find_records(
    ledger: Ledger, where: RecordFilter, *, after_id: int, limit: int
) -> tuple[list[StoredRecord], int | None]:
    """A page of records and the cursor (last id) of the next page, None on the last."""
    # One more than asked tells whether another page exists without a count query.
    rows = search_records(engine_of(ledger.recorder), where, after_id=after_id, limit=limit + 1)
    page = rows[:limit]
    more = len(rows) > limit
    last = page[-1].record_id if page and more else None
    return page, last


def latest_checkpoint(ledger: Ledger) -> CheckpointRow | None:
    with ledger.recorder.unit_of_work(read_only=True) as uow:
        return uow.latest_checkpoint()


@dataclass(frozen=True, slots=True)
class Inclusion:
    record: StoredRecord
    leaf_index: int
    checkpoint: CheckpointRow
    proof: list[bytes]


def inclusion(ledger: Ledger, tenant: str, order: str, seq: int) -> Inclusion:
    """The inclusion proof of record `seq` of an order under the latest checkpoint.

    Raises UnknownOrder, InvalidInput (field `seq`) when the order has no such record or
    the record is not yet under a published checkpoint (the sequencer has not reached it).
    """
    with ledger.recorder.unit_of_work(read_only=True) as uow:
        if uow.get_head(tenant, order) is None:
            raise UnknownOrder(f"no order {order!r} for tenant {tenant!r}", field="order")
        chain = uow.get_chain(tenant, order)
        record = next((r for r in chain if r.statement.seq == seq), None)
        if record is None or record.record_id is None:
            raise InvalidInput(f"order {order!r} has no record with seq {seq}", field="seq")
        checkpoint = uow.latest_checkpoint()
        index = uow.leaf_of(record.record_id)
        if checkpoint is None or index is None or index >= checkpoint.size:
            raise InvalidInput(
                f"record seq {seq} is not yet under a published checkpoint; try again later",
                field="seq",
            )
        proof = merkle.inclusion_proof(index, checkpoint.size, uow)
    return Inclusion(record, index, checkpoint, proof)


def consistency(ledger: Ledger, old_size: int, new_size: int | None) -> tuple[int, list[bytes]]:
    """(new size, RFC 9162 consistency proof from `old_size`); `new_size` defaults to the
    latest checkpoint's. Raises InvalidInput (field `old_size` / `new_size`) for sizes
    outside 0 < old ≤ new ≤ latest checkpoint."""
    with ledger.recorder.unit_of_work(read_only=True) as uow:
        latest = uow.latest_checkpoint()
        published = 0 if latest is None else latest.size
        target = published if new_size is None else new_size
        if not 0 < target <= published:
            raise InvalidInput(
                f"new_size must be 1–{published} (the latest checkpoint's size)",
                field="new_size",
            )
        if not 0 < old_size <= target:
            raise InvalidInput(f"old_size must be 1–{target}", field="old_size")
        return target, merkle.consistency_proof(old_size, target, uow)


def database_ready(ledger: Ledger) -> None:
    """Raises StorageError unless the database answers a query."""
    with ledger.recorder.unit_of_work(read_only=True) as uow:
        uow.log_size()


def timers(
    ledger: Ledger,
    *,
    tenant: str | None,
    order: str | None,
    state: str,
    deadline_before: str | None,
    limit: int,
) -> list[TimerRow]:
    """SLA timers by filter, earliest deadline first."""
    with ledger.recorder.unit_of_work(read_only=True) as uow:
        return uow.list_timers(
            tenant=tenant, order=order, state=state, deadline_before=deadline_before, limit=limit
        )
