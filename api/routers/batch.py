"""Batches: up to 1,000 events in one request and one transaction, answered item by item.

The answer is 200 with a result per item (a 207-style body): 201 stored, 200 replayed,
or a problem object with the status the item would have had alone. Refused items change
nothing; the accepted ones commit together (ADR 0004).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import ValidationError

from api.auth import AccessError, Group, Principal
from api.deps import LedgerDep, Pusher
from api.problems import problem_for, validation_problem
from api.schemas import AppendedPublic, BatchCreate, BatchItemCreate, BatchItemResult, BatchPublic
from ledger.append import EventRequest
from statemodel.errors import InvalidInput

router = APIRouter(prefix="/v1", tags=["orders"])


def _request_of(principal: Principal, item: BatchItemCreate) -> EventRequest:
    """The append request for an item. Raises AccessError when the key may not write
    for the item's tenant, or create orders."""
    # Role before tenant, as for single requests (whose role check comes first).
    if item.create:
        principal.require(Group.CREATE)
    principal.require_tenant(item.tenant)
    return EventRequest(
        tenant=item.tenant,
        order=item.order,
        event=item.event,
        event_time=item.event_time,
        actor=principal.actor(),
        payload=item.payload,
        expected_seq=item.expected_seq,
        idempotency_key=item.idempotency_key,
        create=item.create,
    )


@router.post(
    "/events:batch",
    summary="Push up to 1,000 events; each item answered on its own",
    responses={401: {"description": "missing, unknown or revoked API key"},
               403: {"description": "role may not push events"},
               413: {"description": "body over 16 MiB"}},
)
def push_batch(
    body: BatchCreate, principal: Pusher, ledger: LedgerDep, request: Request
) -> BatchPublic:
    results: dict[int, BatchItemResult] = {}
    accepted: list[tuple[int, EventRequest]] = []
    instance = request.url.path
    for index, raw in enumerate(body.items):
        try:
            accepted.append((index, _request_of(principal, BatchItemCreate.model_validate(raw))))
        except ValidationError as exc:
            problem = validation_problem(exc.errors(include_url=False), instance)
            results[index] = BatchItemResult(index=index, status=problem["status"],
                                             problem=problem)
        except AccessError as exc:
            problem = problem_for(exc, instance)
            results[index] = BatchItemResult(index=index, status=problem["status"],
                                             problem=problem)
    outcomes = ledger.appender.append_many([r for _, r in accepted]) if accepted else []
    for (index, _), outcome in zip(accepted, outcomes, strict=True):
        if isinstance(outcome, InvalidInput):
            problem = problem_for(outcome, instance)
            results[index] = BatchItemResult(index=index, status=problem["status"],
                                             problem=problem)
        else:
            results[index] = BatchItemResult(
                index=index,
                status=200 if outcome.replayed else 201,
                record=AppendedPublic.made(outcome.record, outcome.replayed),
            )
    ordered = [results[i] for i in range(len(body.items))]
    return BatchPublic(
        committed=sum(r.status == 201 for r in ordered),
        replayed=sum(r.status == 200 for r in ordered),
        rejected=sum(r.status >= 400 for r in ordered),
        results=ordered,
    )
