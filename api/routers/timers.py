"""SLA timers per tenant: armed, due soon, breached (issue: SLA timers as evidence)."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api import services
from api.deps import LedgerDep, Reader
from ledger.store import TimerRow
from ledger.timefmt import format_time

router = APIRouter(prefix="/v1", tags=["sla"])

MAX_PAGE = 1000


class TimerView(StrEnum):
    ARMED = "armed"
    DUE = "due"
    BREACHED = "breached"
    DISARMED = "disarmed"


class TimerPublic(BaseModel):
    tenant: str
    order: str
    name: str
    sub_state: str
    armed_by_seq: int
    deadline: str = Field(description="RFC 3339 UTC")
    warn_at: list[str]
    state: str = Field(description="armed | fired | disarmed")
    closed_at: str | None
    closed_by_seq: int | None = Field(
        description="seq of the record that disarmed the timer, or of its breach record"
    )


class TimerList(BaseModel):
    items: list[TimerPublic]


def _public(t: TimerRow) -> TimerPublic:
    return TimerPublic(
        tenant=t.tenant,
        order=t.order,
        name=t.name,
        sub_state=t.sub_state,
        armed_by_seq=t.armed_seq,
        deadline=t.deadline,
        warn_at=list(t.warn_at),
        state=t.state,
        closed_at=t.closed_at,
        closed_by_seq=t.closed_by_seq,
    )


@router.get(
    "/timers",
    summary="SLA timers of a tenant: armed, due within a window, breached or disarmed",
    responses={
        401: {"description": "missing, unknown or revoked API key"},
        403: {"description": "role or tenant not allowed"},
    },
)
def list_timers(
    principal: Reader,
    ledger: LedgerDep,
    view: TimerView = TimerView.ARMED,
    tenant: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
    order: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
    due_within_minutes: Annotated[
        int, Query(ge=0, le=60 * 24 * 366, description="for view=due: the window")
    ] = 120,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 200,
) -> TimerList:
    """Earliest deadline first. `due` lists armed timers whose deadline falls within
    `due_within_minutes` from now (overdue ones included: the sweep has not fired them
    yet); `breached` lists fired timers, each with the seq of its breach record."""
    scope = principal.scope_for(tenant)
    state = {
        TimerView.ARMED: "armed",
        TimerView.DUE: "armed",
        TimerView.BREACHED: "fired",
        TimerView.DISARMED: "disarmed",
    }[view]
    before = None
    if view is TimerView.DUE:
        before = format_time(ledger.clock.now() + timedelta(minutes=due_within_minutes))
    rows = services.timers(
        ledger, tenant=scope, order=order, state=state, deadline_before=before, limit=limit
    )
    return TimerList(items=[_public(t) for t in rows])
