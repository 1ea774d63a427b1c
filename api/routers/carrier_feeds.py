"""Carrier webhooks (Kuaidi100, AfterShip, our generic feed), their per-tenant secrets,
waybill routing, and the findings feeds left.

The webhooks carry no API key: a carrier cannot send ours. Each is authenticated by its
signature over the raw body with the tenant's secret for that feed (set by an admin key,
`PUT /v1/feeds/{tenant}/secrets/{feed}`); a missing secret or a bad signature is a 401
and nothing is stored. A signed delivery is answered 200 with one result per event
(`api.feed_ingest`), Kuaidi100's with the acknowledgement it expects besides.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from api.auth import Group, Principal
from api.carrier_feeds import (
    AFTERSHIP_SIGNATURE_HEADER,
    GENERIC_SIGNATURE_HEADER,
    FeedMalformed,
    FeedSignatureInvalid,
    kuaidi100_ack,
    parse_aftership_webhook,
    parse_generic_feed,
    parse_kuaidi100_push,
)
from api.deps import CurrentPrincipal, LedgerDep, Reader
from api.feed_ingest import CONFLICT, EventOutcome, FeedIngest, register_waybill
from api.metrics import Metrics
from api.problems import ProblemType, problem_body, problem_response
from api.schemas import AppendedPublic
from ledger.service import Ledger
from ledger.store.feed_sql import (
    OUTCOMES,
    FeedEventRow,
    FeedStore,
    WaybillRoute,
    WaybillTaken,
    feed_store,
)
from ledger.timefmt import format_time
from statemodel.carriers.event import CarrierEvent
from statemodel.carriers.mapping import load_mappings

FEED_SIGNATURE_INVALID: Final = ProblemType(
    "feed-signature-invalid", 401, "The carrier feed's signature does not verify"
)
FEED_MALFORMED: Final = ProblemType(
    "feed-malformed", 422, "The carrier feed's body is not the shape its source documents"
)
WAYBILL_TAKEN: Final = ProblemType(
    "waybill-taken", 409, "The waybill belongs to another order"
)
FINDING_OUTCOMES: Final = tuple(o for o in OUTCOMES if o != "recorded")
FeedName = Literal["kuaidi100", "aftership", "generic"]

router = APIRouter(prefix="/v1", tags=["carrier feeds"])


def _allowed(group: Group) -> Callable[[Principal], Principal]:
    def check(principal: CurrentPrincipal) -> Principal:
        principal.require(group)
        return principal

    return check


FeedsAdmin = Annotated[Principal, Depends(_allowed(Group.FEEDS_ADMIN))]
WaybillRegistrar = Annotated[Principal, Depends(_allowed(Group.WAYBILLS))]


# ---------------------------------------------------------------- bodies
class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FeedSecretPut(_Request):
    secret: str = Field(min_length=16, max_length=512,
                        description="Kuaidi100 salt, or the HMAC-SHA256 key of the feed")


class FeedSecretPublic(BaseModel):
    tenant: str
    feed: str
    updated_by: str
    updated_at: str


class WaybillPut(_Request):
    carrier_code: str | None = Field(default=None, min_length=1, max_length=64)


class WaybillPublic(BaseModel):
    tenant: str
    order: str
    waybill_no: str
    carrier_code: str | None
    registered_by: str
    registered_at: str

    @classmethod
    def of(cls, route: WaybillRoute) -> WaybillPublic:
        return cls(tenant=route.tenant, order=route.order, waybill_no=route.waybill_no,
                   carrier_code=route.carrier_code, registered_by=route.registered_by,
                   registered_at=route.registered_at)


class FeedEventResult(BaseModel):
    index: int
    status: int = Field(description="201 recorded, 200 duplicate, 4xx finding")
    outcome: str = Field(description="recorded, refused, unmappable, unrouted, resubscribe "
                                     "or conflict (409: retry the delivery)")
    duplicate: bool = Field(description="delivered before: nothing new was stored")
    dedupe_key: str
    source: str
    waybill_no: str
    raw_code: str
    occurred_at: str
    order: str | None = None
    event: str | None = Field(default=None, description="the catalogue event it maps to")
    record: AppendedPublic | None = None
    problem: dict[str, Any] | None = Field(default=None, description="RFC 9457 problem")
    ignored_fields: list[str] = Field(
        default_factory=list, description="generic feed `fields` the target does not declare"
    )

    @classmethod
    def of(cls, outcome: EventOutcome) -> FeedEventResult:
        event = outcome.event
        record = None
        if outcome.record is not None:
            record = AppendedPublic.made(outcome.record, outcome.duplicate)
        return cls(
            index=outcome.index, status=outcome.status, outcome=outcome.outcome,
            duplicate=outcome.duplicate, dedupe_key=event.dedupe_key, source=event.source,
            waybill_no=event.waybill_no, raw_code=event.raw_code,
            occurred_at=format_time(event.occurred_at), order=outcome.order,
            event=outcome.catalogue_event, record=record, problem=outcome.problem,
            ignored_fields=list(outcome.ignored_fields),
        )


class FeedReport(BaseModel):
    tenant: str
    feed: str
    body_sha256: str = Field(description="SHA-256 (hex) of the raw body, kept with each event")
    received: int
    recorded: int
    duplicates: int
    findings: int
    results: list[FeedEventResult]
    resubscribe: FeedEventResult | None = Field(
        default=None, description="Kuaidi100 stopped tracking (abort): subscribe again"
    )


class Kuaidi100Report(FeedReport):
    """Kuaidi100's acknowledgement (`result`, `returnCode`, `message`) and our report."""

    result: bool
    returnCode: str  # noqa: N815 (Kuaidi100's spelling)
    message: str


class FeedFindingPublic(BaseModel):
    id: int
    feed: str
    source: str
    waybill_no: str
    raw_code: str
    raw_text: str
    occurred_at: str
    order: str | None
    event: str | None
    outcome: str
    status: int
    problem_type: str | None
    detail: str | None
    dedupe_key: str
    body_sha256: str
    received_at: str

    @classmethod
    def of(cls, row: FeedEventRow) -> FeedFindingPublic:
        assert row.id is not None
        return cls(
            id=row.id, feed=row.feed, source=row.source, waybill_no=row.waybill_no,
            raw_code=row.raw_code, raw_text=row.raw_text, occurred_at=row.occurred_at,
            order=row.order, event=row.event, outcome=row.outcome, status=row.status,
            problem_type=row.problem_type, detail=row.detail, dedupe_key=row.dedupe_key,
            body_sha256=row.body_sha256, received_at=row.received_at,
        )


class FeedFindingPage(BaseModel):
    items: list[FeedFindingPublic]
    next_cursor: str | None


# ---------------------------------------------------------------- admin
_ADMIN_REFUSALS: dict[int | str, dict[str, Any]] = {
    401: {"description": "missing, unknown or revoked API key"},
    403: {"description": "role or tenant not allowed"},
    422: {"description": "invalid input"},
}


def _store(request: Request) -> FeedStore:
    store: FeedStore | None = getattr(request.app.state, "feed_store", None)
    if store is None:
        store = feed_store(request.app.state.ledger.recorder)
        request.app.state.feed_store = store
    return store


StoreDep = Annotated[FeedStore, Depends(_store)]


@router.put(
    "/feeds/{tenant}/secrets/{feed}",
    responses=_ADMIN_REFUSALS,
    summary="Set the tenant's secret for a carrier feed (kuaidi100, aftership, generic)",
)
def put_feed_secret(
    tenant: str, feed: FeedName, body: FeedSecretPut, principal: FeedsAdmin, store: StoreDep,
    ledger: LedgerDep,
) -> FeedSecretPublic:
    principal.require_tenant(tenant)
    at = format_time(ledger.clock.now())
    store.set_secret(tenant, feed, body.secret, by=principal.name, at=at)
    return FeedSecretPublic(tenant=tenant, feed=feed, updated_by=principal.name, updated_at=at)


@router.put(
    "/orders/{tenant}/{order}/waybills/{waybill}",
    responses={**_ADMIN_REFUSALS, 200: {"description": "registered before", "model": WaybillPublic},
               404: {"description": "unknown order"},
               409: {"description": "the waybill belongs to another order"}},
    status_code=status.HTTP_201_CREATED,
    response_model=WaybillPublic,
    summary="Route a carrier waybill to this order, for the carrier webhooks",
)
def put_waybill(
    tenant: str, order: str, waybill: Annotated[str, Path(min_length=1, max_length=64)],
    body: WaybillPut, principal: WaybillRegistrar, store: StoreDep, ledger: LedgerDep,
    response: Response,
) -> Any:
    principal.require_tenant(tenant)
    route = WaybillRoute(
        tenant=tenant, waybill_no=waybill.strip().upper(), order=order,
        carrier_code=body.carrier_code, registered_by=principal.name,
        registered_at=format_time(ledger.clock.now()),
    )
    try:
        stored, new = register_waybill(ledger, store, route)
    except WaybillTaken as exc:
        return problem_response(problem_body(WAYBILL_TAKEN, str(exc), field="waybill",
                                             instance=f"/v1/orders/{tenant}/{order}/waybills/{waybill}",
                                             order=exc.order))
    response.status_code = status.HTTP_201_CREATED if new else status.HTTP_200_OK
    return WaybillPublic.of(stored)


@router.get(
    "/feeds/{tenant}/findings",
    responses=_ADMIN_REFUSALS,
    summary="Carrier events that became no record (refused, unmappable, unrouted, ...)",
)
def list_feed_findings(
    tenant: str, principal: Reader, store: StoreDep,
    outcome: Annotated[list[str] | None, Query(description="filter by outcome")] = None,
    cursor: Annotated[int, Query(ge=0, le=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> FeedFindingPage:
    principal.require_tenant(tenant)
    wanted = [o for o in (outcome or FINDING_OUTCOMES) if o in FINDING_OUTCOMES]
    rows = store.list_events(tenant, outcomes=wanted, after_id=cursor, limit=limit + 1)
    page = rows[:limit]
    more = len(rows) > limit and page[-1].id is not None
    return FeedFindingPage(items=[FeedFindingPublic.of(r) for r in page],
                           next_cursor=str(page[-1].id) if more else None)


# ---------------------------------------------------------------- webhooks
_WEBHOOK_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "no secret configured for the tenant's feed, or a bad signature"},
    413: {"description": "body over 1 MiB"},
    415: {"description": "wrong Content-Type"},
    422: {"description": "signed, but not the shape the source documents"},
    503: {"description": "the database is unavailable: deliver again"},
}


def _json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


@router.post(
    "/feeds/kuaidi100/{tenant}",
    response_model=Kuaidi100Report,
    responses=_WEBHOOK_RESPONSES,
    summary="Kuaidi100 subscription push (form: param, sign = upper(md5(param + salt)))",
    openapi_extra={"requestBody": {"required": True, "content": {
        "application/x-www-form-urlencoded": {"schema": {
            "type": "object", "required": ["param", "sign"],
            "properties": {"param": {"type": "string"}, "sign": {"type": "string"}},
        }}}}},
)
async def kuaidi100_push(tenant: str, request: Request) -> Response:
    body = await request.body()
    return await run_in_threadpool(_deliver, request, tenant, "kuaidi100", body, {})


@router.post(
    "/feeds/aftership/{tenant}",
    response_model=FeedReport,
    responses=_WEBHOOK_RESPONSES,
    summary=f"AfterShip webhook (base64 HMAC-SHA256 of the body in {AFTERSHIP_SIGNATURE_HEADER})",
    openapi_extra=_json_body({"type": "object"}),
)
async def aftership_webhook(tenant: str, request: Request) -> Response:
    body = await request.body()
    headers = dict(request.headers)
    return await run_in_threadpool(_deliver, request, tenant, "aftership", body, headers)


@router.post(
    "/feeds/generic/{tenant}",
    response_model=FeedReport,
    responses=_WEBHOOK_RESPONSES,
    summary=f"Our generic carrier feed (HMAC-SHA256 of the body in {GENERIC_SIGNATURE_HEADER})",
    openapi_extra=_json_body({"oneOf": [{"type": "object"}, {"type": "array", "minItems": 1}]}),
)
async def generic_feed(tenant: str, request: Request) -> Response:
    body = await request.body()
    headers = dict(request.headers)
    return await run_in_threadpool(_deliver, request, tenant, "generic", body, headers)


def _deliver(
    request: Request, tenant: str, feed: str, body: bytes, headers: dict[str, str]
) -> Response:
    """Verify, parse and ingest one delivery (in a worker thread: it uses the database)."""
    ledger: Ledger = request.app.state.ledger
    store = _store(request)
    instance = request.url.path
    secret = store.get_secret(tenant, feed)
    try:
        if secret is None:
            raise FeedSignatureInvalid(
                f"no {feed} secret is configured for tenant {tenant!r}", field="tenant"
            )
        parsed = _parse(feed, body, headers, secret)
    except FeedSignatureInvalid as exc:
        return problem_response(
            problem_body(FEED_SIGNATURE_INVALID, str(exc), field=exc.field, instance=instance)
        )
    except FeedMalformed as exc:
        return problem_response(
            problem_body(FEED_MALFORMED, str(exc), field=exc.field, instance=instance)
        )
    events, push = parsed
    digest = hashlib.sha256(body).hexdigest()
    received_at = format_time(ledger.clock.now())
    ingest = FeedIngest(ledger, store, load_mappings())
    outcomes = ingest.ingest(tenant, feed, events, body_sha256=digest, received_at=received_at)
    resubscribe = None
    if push is not None:
        resubscribe = ingest.resubscribe(tenant, push, body_sha256=digest,
                                         received_at=received_at)
    metrics: Metrics | None = getattr(request.app.state, "metrics", None)
    if metrics is not None:
        metrics.observe_feed(feed, [*outcomes, *([resubscribe] if resubscribe else [])])
    report = _report(tenant, feed, digest, outcomes, resubscribe)
    if feed == "kuaidi100":
        # Kuaidi100 retries a push unless acknowledged; ask for a retry only when an
        # event lost a race (conflict): every other outcome is decided for good.
        retry = any(o.outcome == CONFLICT for o in outcomes)
        ack = json.loads(kuaidi100_ack(not retry, "重试" if retry else "成功"))
        report = Kuaidi100Report(**report.model_dump(), **ack)
    return JSONResponse(report.model_dump(mode="json"))


def _parse(
    feed: str, body: bytes, headers: dict[str, str], secret: str
) -> tuple[Sequence[CarrierEvent], Any]:
    if feed == "kuaidi100":
        push = parse_kuaidi100_push(body, salt=secret)
        return push.events, push
    if feed == "aftership":
        return parse_aftership_webhook(body, headers, secret=secret).events, None
    return parse_generic_feed(body, headers, secret=secret), None


def _report(
    tenant: str, feed: str, digest: str, outcomes: Sequence[EventOutcome],
    resubscribe: EventOutcome | None,
) -> FeedReport:
    recorded = sum(1 for o in outcomes if o.outcome == "recorded" and not o.duplicate)
    duplicates = sum(1 for o in outcomes if o.duplicate)
    return FeedReport(
        tenant=tenant, feed=feed, body_sha256=digest, received=len(outcomes),
        recorded=recorded, duplicates=duplicates,
        findings=len(outcomes) - recorded - duplicates,
        results=[FeedEventResult.of(o) for o in outcomes],
        resubscribe=None if resubscribe is None else FeedEventResult.of(resubscribe),
    )

