"""Storage of carrier feeds (migration 0007): waybill routes, feed secrets, and the
carrier events feeds delivered with their outcome.

Like API keys, these rows are not evidence: they sit beside the ledger's tables and are
read and written here with SQLAlchemy Core, each call in its own short transaction. The
evidence is the record an event became; a row here says which record (or which finding,
when it became none) and keeps the SHA-256 of the body that carried it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from typing import Any, Final

from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ledger.errors import InvalidInput
from ledger.store.errors import engine_transaction
from ledger.store.queries import engine_of
from ledger.store.tables import CARRIER_FEED_EVENTS, CARRIER_FEED_SECRETS, CARRIER_SUBSCRIPTIONS

FEEDS: Final = ("kuaidi100", "aftership", "generic")

#: Outcomes that end an event's story: a redelivery is answered as a duplicate of it.
#: `unrouted` is not final: once the waybill is registered, a redelivery is ingested.
FINAL_OUTCOMES: Final = frozenset({"recorded", "refused", "unmappable", "resubscribe"})
OUTCOMES: Final = (*sorted(FINAL_OUTCOMES), "unrouted")

_S = CARRIER_SUBSCRIPTIONS.c
_F = CARRIER_FEED_SECRETS.c
_E = CARRIER_FEED_EVENTS.c


class WaybillTaken(InvalidInput):
    """The waybill is registered to another order of the tenant already."""

    def __init__(self, waybill_no: str, order: str) -> None:
        super().__init__(
            f"waybill {waybill_no!r} belongs to order {order!r} already", field="waybill"
        )
        self.order = order


@dataclass(frozen=True, slots=True)
class WaybillRoute:
    tenant: str
    waybill_no: str
    order: str
    carrier_code: str | None
    registered_by: str
    registered_at: str


@dataclass(frozen=True, slots=True)
class FeedEventRow:
    """A carrier event a feed delivered and its outcome. `id` is None before insertion."""

    tenant: str
    dedupe_key: str
    feed: str
    source: str
    waybill_no: str
    raw_code: str
    raw_text: str
    occurred_at: str
    outcome: str
    status: int
    body_sha256: str
    received_at: str
    updated_at: str
    order: str | None = None
    event: str | None = None
    mapping_version: str | None = None
    record_id: int | None = None
    problem_type: str | None = None
    detail: str | None = None
    id: int | None = None

    @property
    def final(self) -> bool:
        return self.outcome in FINAL_OUTCOMES


class FeedStore:
    """Reads and writes the carrier-feed tables through an engine. Thread-safe (no state
    of its own). Every method raises StorageError (or a subclass) when the database fails.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def _transaction(self) -> AbstractContextManager[Connection]:
        return engine_transaction(self._engine)

    # -- secrets ----------------------------------------------------------------------

    def set_secret(self, tenant: str, feed: str, secret: str, *, by: str, at: str) -> None:
        """Store (or replace) the tenant's secret for `feed`. Raises InvalidInput (field
        `feed`) for a feed that is not one of FEEDS."""
        _check_feed(feed)
        values = {"secret": secret, "updated_by": by, "updated_at": at}
        with self._transaction() as conn:
            changed = conn.execute(
                update(CARRIER_FEED_SECRETS)
                .where((_F.tenant == tenant) & (_F.feed == feed))
                .values(**values)
            ).rowcount
            if not changed:
                conn.execute(_insert_ignoring_conflict(
                    conn, CARRIER_FEED_SECRETS, {"tenant": tenant, "feed": feed, **values}
                ))

    def get_secret(self, tenant: str, feed: str) -> str | None:
        with self._transaction() as conn:
            value = conn.execute(
                select(_F.secret).where((_F.tenant == tenant) & (_F.feed == feed))
            ).scalar_one_or_none()
        return None if value is None else str(value)

    # -- waybill routes ---------------------------------------------------------------

    def register_waybill(self, route: WaybillRoute) -> tuple[WaybillRoute, bool]:
        """Route the tenant's waybill to `route.order`; returns the stored route and
        whether it is new. Registering it again to the same order changes nothing.
        Raises WaybillTaken when it belongs to another order of the tenant."""
        with self._transaction() as conn:
            conn.execute(_insert_ignoring_conflict(conn, CARRIER_SUBSCRIPTIONS, {
                "tenant": route.tenant, "waybill_no": route.waybill_no,
                "order_id": route.order, "carrier_code": route.carrier_code,
                "registered_by": route.registered_by, "registered_at": route.registered_at,
            }))
            stored = _route_of(conn.execute(
                select(CARRIER_SUBSCRIPTIONS).where(
                    (_S.tenant == route.tenant) & (_S.waybill_no == route.waybill_no)
                )
            ).mappings().one())
        if stored.order != route.order:
            raise WaybillTaken(route.waybill_no, stored.order)
        return stored, stored == route

    def route(self, tenant: str, waybill_no: str) -> WaybillRoute | None:
        """The order the tenant registered `waybill_no` for, or None."""
        with self._transaction() as conn:
            row = conn.execute(
                select(CARRIER_SUBSCRIPTIONS).where(
                    (_S.tenant == tenant) & (_S.waybill_no == waybill_no)
                )
            ).mappings().first()
        return None if row is None else _route_of(row)

    # -- delivered events -------------------------------------------------------------

    def find_event(self, tenant: str, dedupe_key: str) -> FeedEventRow | None:
        with self._transaction() as conn:
            row = conn.execute(
                select(CARRIER_FEED_EVENTS).where(
                    (_E.tenant == tenant) & (_E.dedupe_key == dedupe_key)
                )
            ).mappings().first()
        return None if row is None else _event_of(row)

    def save_event(self, row: FeedEventRow) -> FeedEventRow:
        """Store the event's outcome and return what is stored.

        A first delivery inserts; a later one replaces a row that is not final
        (`unrouted`) and leaves a final one as it is (a concurrent delivery decided
        first: its outcome stands and is returned).
        """
        values = {k: v for k, v in _params(row).items() if k != "id"}
        with self._transaction() as conn:
            conn.execute(_insert_ignoring_conflict(conn, CARRIER_FEED_EVENTS, values))
            conn.execute(
                update(CARRIER_FEED_EVENTS)
                .where(
                    (_E.tenant == row.tenant)
                    & (_E.dedupe_key == row.dedupe_key)
                    & _E.outcome.not_in(sorted(FINAL_OUTCOMES))
                )
                .values(**{k: v for k, v in values.items() if k not in ("tenant", "dedupe_key")})
            )
            stored = conn.execute(
                select(CARRIER_FEED_EVENTS).where(
                    (_E.tenant == row.tenant) & (_E.dedupe_key == row.dedupe_key)
                )
            ).mappings().one()
        return _event_of(stored)

    def list_events(
        self, tenant: str, *, outcomes: Sequence[str], after_id: int = 0, limit: int = 100
    ) -> list[FeedEventRow]:
        """The tenant's delivered events with one of `outcomes`, in id order."""
        query = (
            select(CARRIER_FEED_EVENTS)
            .where((_E.tenant == tenant) & (_E.id > after_id) & _E.outcome.in_(list(outcomes)))
            .order_by(_E.id)
            .limit(limit)
        )
        with self._transaction() as conn:
            return [_event_of(r) for r in conn.execute(query).mappings()]


def feed_store(recorder: object) -> FeedStore:
    """The feed store on a recorder's engine. Raises StorageError for a recorder without a
    SQLAlchemy engine."""
    return FeedStore(engine_of(recorder))


def _check_feed(feed: str) -> None:
    if feed not in FEEDS:
        raise InvalidInput(f"unknown feed {feed!r}; feeds: {', '.join(FEEDS)}", field="feed")


def _insert_ignoring_conflict(conn: Connection, table: Any, values: Mapping[str, Any]) -> Any:
    """INSERT that does nothing when a unique key exists already (both dialects)."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table).values(**values).on_conflict_do_nothing()
    if conn.dialect.name == "sqlite":
        return sqlite.insert(table).values(**values).on_conflict_do_nothing()
    return insert(table).values(**values)


def _params(row: FeedEventRow) -> dict[str, Any]:
    params = asdict(row)
    params["order_id"] = params.pop("order")
    return params


def _route_of(m: Mapping[Any, Any]) -> WaybillRoute:
    return WaybillRoute(
        tenant=m["tenant"], waybill_no=m["waybill_no"], order=m["order_id"],
        carrier_code=m["carrier_code"], registered_by=m["registered_by"],
        registered_at=m["registered_at"],
    )


def _event_of(m: Mapping[Any, Any]) -> FeedEventRow:
    values = {name: m[name] for name in FeedEventRow.__dataclass_fields__ if name != "order"}
    return FeedEventRow(order=m["order_id"], **values)
