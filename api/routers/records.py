"""Record search for auditors: filters, and keyset pagination by record id."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api import services
from api.deps import LedgerDep, Reader
from api.schemas import RecordPage, RecordPublic
from ledger.statement import ActorType
from ledger.store.queries import RecordFilter
from ledger.timefmt import normalize_time
from statemodel.catalogue import Catalogue
from statemodel.errors import InvalidInput, UnknownEvent, UnknownState

router = APIRouter(prefix="/v1", tags=["records"])

DEFAULT_PAGE = 100
MAX_PAGE = 1000

_Text = Annotated[str | None, Query(min_length=1, max_length=128)]
_Time = Annotated[str | None, Query(min_length=1, max_length=64, description="RFC 3339")]


def _time(value: str | None, field: str) -> str | None:
    return None if value is None else normalize_time(value, field=field)


def _known(catalogue: Catalogue, sub_state: str | None, event: str | None) -> None:
    """Refuse filter values the catalogue in force does not declare: a typo would
    otherwise look like "no such records". Raises UnknownState / UnknownEvent."""
    if sub_state is not None and sub_state not in catalogue.sub_states:
        raise UnknownState(f"unknown sub-state {sub_state!r}", field="sub_state")
    if event is not None and event not in catalogue.events:
        raise UnknownEvent(f"unknown event {event!r}", field="event")


def _cursor(value: str | None) -> int:
    """The record id a cursor stands for. Raises InvalidInput (field `cursor`)."""
    if value is None:
        return 0
    if not value.isdigit() or len(value) > 19:
        raise InvalidInput("cursor: not a cursor this API returned", field="cursor")
    return int(value)


@router.get(
    "/records",
    summary="Records meeting every given filter, oldest first, a page at a time",
    responses={401: {"description": "missing, unknown or revoked API key"},
               403: {"description": "role or tenant not allowed"}},
)
def list_records(
    principal: Reader,
    ledger: LedgerDep,
    tenant: _Text = None,
    order: _Text = None,
    sub_state: _Text = None,
    event: _Text = None,
    actor: Annotated[str | None, Query(min_length=1, max_length=128,
                                       description="the actor id (an API key's name)")] = None,
    actor_type: ActorType | None = None,
    event_time_from: _Time = None,
    event_time_to: _Time = None,
    recorded_from: _Time = None,
    recorded_to: _Time = None,
    cursor: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = DEFAULT_PAGE,
) -> RecordPage:
    _known(ledger.models.current.catalogue, sub_state, event)
    where = RecordFilter(
        tenant=principal.scope_for(tenant),
        order=order,
        sub_state=sub_state,
        event=event,
        actor_id=actor,
        actor_type=None if actor_type is None else actor_type.value,
        event_time_from=_time(event_time_from, "event_time_from"),
        event_time_to=_time(event_time_to, "event_time_to"),
        recorded_from=_time(recorded_from, "recorded_from"),
        recorded_to=_time(recorded_to, "recorded_to"),
    )
    page, last = services.find_records(ledger, where, after_id=_cursor(cursor), limit=limit)
    return RecordPage(
        items=[RecordPublic.of(r) for r in page],
        next_cursor=None if last is None else str(last),
    )
