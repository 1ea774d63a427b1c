"""Read-only searches over records, for auditors (the API's `GET /v1/records`).

Kept apart from the recorder interface: these are reporting queries, not part of the
append path, and they run on the recorder's engine in a transaction of their own.
Pagination is keyset by record id, so a page costs the same however deep it is.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from ledger.errors import StorageError
from ledger.store import statements as q
from ledger.store.errors import DRIVER_ERRORS, translate
from ledger.store.rows import StoredRecord
from ledger.store.tables import RECORDS

_R = RECORDS.c


@dataclass(frozen=True, slots=True)
class RecordFilter:
    """Conditions a record must meet; None means "any". Times are canonical RFC 3339
    text (`ledger.timefmt`), compared as text: fixed width, so text order is time order.
    `*_from` bounds are inclusive, `*_to` bounds exclusive."""

    tenant: str | None = None
    order: str | None = None
    sub_state: str | None = None
    event: str | None = None
    actor_id: str | None = None
    actor_type: str | None = None
    event_time_from: str | None = None
    event_time_to: str | None = None
    recorded_from: str | None = None
    recorded_to: str | None = None


def search_records(
    engine: Engine, where: RecordFilter, *, after_id: int = 0, limit: int = 100
) -> list[StoredRecord]:
    """Up to `limit` records meeting `where` with id > `after_id`, by id, with payloads.

    Raises StorageError (or a subclass) when the database fails; ValueError for a limit
    below 1.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    conditions = [_R.id > after_id]
    for column, value in (
        (_R.tenant, where.tenant),
        (_R.order_id, where.order),
        (_R.to_state, where.sub_state),
        (_R.event, where.event),
        (_R.actor_id, where.actor_id),
        (_R.actor_type, where.actor_type),
    ):
        if value is not None:
            conditions.append(column == value)
    for column, lower, upper in (
        (_R.event_time, where.event_time_from, where.event_time_to),
        (_R.recorded_at, where.recorded_from, where.recorded_to),
    ):
        if lower is not None:
            conditions.append(column >= lower)
        if upper is not None:
            conditions.append(column < upper)
    statement = q.SELECT_RECORDS.where(*conditions).order_by(_R.id).limit(limit)
    try:
        with engine.connect() as connection:
            rows = connection.execute(statement).mappings().all()
    except DRIVER_ERRORS as exc:
        raise translate(exc) from exc
    return [q.stored_of(row) for row in rows]


def engine_of(recorder: object) -> Engine:
    """The SQLAlchemy engine behind a recorder (every recorder of `ledger.store` has one).
    Raises StorageError for one without."""
    engine = getattr(recorder, "engine", None)
    if not isinstance(engine, Engine):
        raise StorageError(f"{type(recorder).__name__} has no SQLAlchemy engine")
    return engine
