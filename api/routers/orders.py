"""Orders: create one, push an event to one, read one with its whole chain."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Response, status

from api import services
from api.deps import Creator, IdempotencyKey, LedgerDep, Pusher, Reader
from api.schemas import AppendedPublic, EventCreate, OrderCreate, OrderPublic
from ledger.append import Appended, EventRequest

router = APIRouter(prefix="/v1/orders", tags=["orders"])

_REFUSALS: dict[int | str, dict[str, str]] = {
    401: {"description": "missing, unknown or revoked API key"},
    403: {"description": "role or tenant not allowed"},
    404: {"description": "unknown order"},
    409: {"description": "order exists, illegal transition, stale expected_seq, or "
                         "Idempotency-Key reused with another body"},
    422: {"description": "unknown event, payload invalid, event time in the future, ..."},
}


def order_location(tenant: str, order: str) -> str:
    return f"/v1/orders/{quote(tenant, safe='')}/{quote(order, safe='')}"


def _answer(result: Appended, response: Response) -> AppendedPublic:
    """201 for a new record, 200 for an idempotent replay of the original one."""
    statement = result.record.statement
    response.status_code = status.HTTP_200_OK if result.replayed else status.HTTP_201_CREATED
    response.headers["Location"] = order_location(statement.tenant, statement.order)
    return AppendedPublic.made(result.record, result.replayed)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={200: {"description": "idempotent replay", "model": AppendedPublic},
               **_REFUSALS},
    summary="Create an order with its first (creation) event",
)
def create_order(
    body: OrderCreate,
    principal: Creator,
    ledger: LedgerDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> AppendedPublic:
    principal.require_tenant(body.tenant)
    result = ledger.appender.append(
        EventRequest(
            tenant=body.tenant,
            order=body.order,
            event=body.event,
            event_time=body.event_time,
            actor=principal.actor(),
            payload=body.payload,
            idempotency_key=idempotency_key,
            create=True,
        )
    )
    return _answer(result, response)


@router.post(
    "/{tenant}/{order}/events",
    status_code=status.HTTP_201_CREATED,
    responses={200: {"description": "idempotent replay", "model": AppendedPublic},
               **_REFUSALS},
    summary="Push one event to an order",
)
def push_event(
    tenant: str,
    order: str,
    body: EventCreate,
    principal: Pusher,
    ledger: LedgerDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> AppendedPublic:
    principal.require_tenant(tenant)
    result = ledger.appender.append(
        EventRequest(
            tenant=tenant,
            order=order,
            event=body.event,
            event_time=body.event_time,
            actor=principal.actor(),
            payload=body.payload,
            expected_seq=body.expected_seq,
            idempotency_key=idempotency_key,
        )
    )
    return _answer(result, response)


@router.get(
    "/{tenant}/{order}",
    responses={k: v for k, v in _REFUSALS.items() if k in (401, 403, 404)},
    summary="An order's current state and its whole chain of records",
)
def get_order(tenant: str, order: str, principal: Reader, ledger: LedgerDep) -> OrderPublic:
    principal.require_tenant(tenant)
    view = services.order_view(ledger, tenant, order)
    return OrderPublic.of(view.head, view.catalogue, view.allowed_events, view.chain)
