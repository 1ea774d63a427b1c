"""Prometheus metrics: `GET /metrics` (text exposition format), for an all-tenant admin key.

What is counted, and where from:

- requests and their latency per route template (`/v1/orders/{tenant}/{order}/events`,
  never a raw path, so tenants and orders do not become label values), by an ASGI
  middleware that sees every answer, the guard's 413/415 included;
- records appended and idempotent replays, by how they came (`single`, `batch`, `feed`):
  a 201 of a single append route, the `committed` / `replayed` of a batch answer, and
  the feed service's recorded events;
- rejections by problem type (`via`: `request` for a whole request, `batch_item`,
  `feed_event`), read from the problem+json the API sent;
- carrier feed events by feed and outcome;
- group commit: units of work run for concurrent single appends and the appends they
  carried (their ratio is the mean group size), read from the append service at scrape;
- the sequencer's lag (records appended but not yet integrated into the Merkle log:
  `SELECT count(*) FROM sequencing_queue`), read from the database at scrape time.

Each app has its own registry (apps are built by a factory, and tests build many).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Final

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector
from sqlalchemy import Engine, text
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import Forbidden, Group
from api.deps import CurrentPrincipal
from api.problems import PROBLEM_BASE, PROBLEM_MEDIA_TYPE
from ledger.group_commit import GroupCommit
from ledger.store.errors import DRIVER_ERRORS

log = logging.getLogger("orderledger.api.metrics")

METRICS_PATH: Final = "/metrics"
BATCH_ROUTE: Final = "/v1/events:batch"
#: (method, route template) of the routes that append exactly one record on 201.
SINGLE_APPEND_ROUTES: Final = frozenset({
    ("POST", "/v1/orders"),
    ("POST", "/v1/orders/{tenant}/{order}/events"),
})
UNMATCHED_ROUTE: Final = "<unmatched>"
#: Latency buckets (s): appends take milliseconds, batches and bundles up to seconds.
LATENCY_BUCKETS: Final = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)
#: Answers whose body the middleware reads: problems are small; a batch answer is read
#: for its counts only.
_MAX_CAPTURED: Final = 32 * 1024 * 1024


class Metrics:
    """The app's metrics and its own registry."""

    def __init__(
        self, engine: Callable[[], Engine | None],
        group_commit: Callable[[], GroupCommit[Any, Any] | None] = lambda: None,
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "orderledger_http_requests", "HTTP requests answered, by route template and status",
            ["method", "route", "status"], registry=self.registry,
        )
        self.latency = Histogram(
            "orderledger_http_request_duration_seconds",
            "Time from request to the last byte of the answer, by route template",
            ["method", "route"], buckets=LATENCY_BUCKETS, registry=self.registry,
        )
        self.appends = Counter(
            "orderledger_appends", "Records appended, by how they came (single, batch, feed)",
            ["via"], registry=self.registry,
        )
        self.replays = Counter(
            "orderledger_append_replays", "Idempotent replays answered with the original record",
            ["via"], registry=self.registry,
        )
        self.rejections = Counter(
            "orderledger_rejections",
            "Refusals by problem type (the slug of the problem's type URI) and by what was "
            "refused (request, batch_item, feed_event)",
            ["problem", "via"], registry=self.registry,
        )
        self.feed_events = Counter(
            "orderledger_feed_events", "Carrier events delivered by webhooks, by feed and outcome",
            ["feed", "outcome", "duplicate"], registry=self.registry,
        )
        self.registry.register(_LedgerCollector(engine, group_commit))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

    def observe_problem(self, problem: Any, via: str) -> None:
        if isinstance(problem, dict):
            self.rejections.labels(problem=problem_slug(problem.get("type")), via=via).inc()

    def observe_feed(self, feed: str, outcomes: Iterable[Any]) -> None:
        """Count a delivery's outcomes (`api.feed_ingest.EventOutcome`s)."""
        for outcome in outcomes:
            duplicate = bool(outcome.duplicate)
            self.feed_events.labels(
                feed=feed, outcome=outcome.outcome, duplicate=str(duplicate).lower()
            ).inc()
            if outcome.outcome == "recorded":
                (self.replays if duplicate else self.appends).labels(via="feed").inc()
            elif not duplicate:
                self.observe_problem(outcome.problem, "feed_event")

    def observe_answer(
        self, method: str, route: str, status: int, media_type: str, body: bytes | None,
        seconds: float,
    ) -> None:
        """Count one answered request (the middleware calls this once per request)."""
        self.requests.labels(method=method, route=route, status=str(status)).inc()
        self.latency.labels(method=method, route=route).observe(seconds)
        if (method, route) in SINGLE_APPEND_ROUTES and status in (200, 201):
            (self.appends if status == 201 else self.replays).labels(via="single").inc()
        document = _json_of(body)
        if media_type == PROBLEM_MEDIA_TYPE:
            self.observe_problem(document, "request")
        elif route == BATCH_ROUTE and status == 200 and isinstance(document, dict):
            self.appends.labels(via="batch").inc(_count(document.get("committed")))
            self.replays.labels(via="batch").inc(_count(document.get("replayed")))
            for item in document.get("results") or ():
                if isinstance(item, dict) and item.get("problem"):
                    self.observe_problem(item["problem"], "batch_item")


def problem_slug(type_uri: Any) -> str:
    """`unknown-order` for `https://orderledger.dev/problems/unknown-order`."""
    if not isinstance(type_uri, str):
        return "unknown"
    return type_uri.removeprefix(PROBLEM_BASE) or "unknown"


class _LedgerCollector(Collector):
    """Gauges read from the database when scraped."""

    def __init__(self, engine: Callable[[], Engine | None],
                 group_commit: Callable[[], GroupCommit[Any, Any] | None]) -> None:
        self._engine = engine
        self._group_commit = group_commit

    def describe(self) -> Iterable[Metric]:
        return [GaugeMetricFamily("orderledger_sequencer_lag_records", _LAG_HELP),
                CounterMetricFamily("orderledger_append_groups", _GROUPS_HELP),
                CounterMetricFamily("orderledger_append_group_items", _GROUP_ITEMS_HELP)]

    def collect(self) -> Iterator[Metric]:
        group_commit = self._group_commit()
        if group_commit is not None:
            groups, items = group_commit.totals
            yield CounterMetricFamily("orderledger_append_groups", _GROUPS_HELP, value=groups)
            yield CounterMetricFamily("orderledger_append_group_items", _GROUP_ITEMS_HELP,
                                      value=items)
        engine = self._engine()
        if engine is None:
            return
        try:
            with engine.connect() as connection:
                queued = connection.execute(text("SELECT count(*) FROM sequencing_queue")).scalar()
        except DRIVER_ERRORS as exc:  # a scrape must answer even while the database is down
            log.warning("metrics: cannot read the sequencing queue: %s", type(exc).__name__)
            return
        yield GaugeMetricFamily("orderledger_sequencer_lag_records", _LAG_HELP, value=queued or 0)


_LAG_HELP: Final = "Records appended but not yet integrated into the Merkle log"
_GROUPS_HELP: Final = ("Units of work run by group commit for single appends (items / groups "
                       "= the mean group size)")
_GROUP_ITEMS_HELP: Final = "Single appends carried by group commit"


def _count(value: Any) -> int:
    return value if isinstance(value, int) and value > 0 else 0


def _json_of(body: bytes | None) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


class MetricsMiddleware:
    """Times every HTTP request and hands its answer to `Metrics.observe_answer`.

    Plain ASGI: the answer streams through unchanged; only problem+json bodies and batch
    answers are also kept (to read their type and counts) until the answer is complete.
    """

    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status, media_type = 500, ""
        chunks: list[bytes] | None = None

        async def observing_send(message: Message) -> None:
            nonlocal status, media_type, chunks
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = Headers(raw=message.get("headers", []))
                media_type = headers.get("content-type", "").split(";")[0].strip()
                keep = media_type == PROBLEM_MEDIA_TYPE or scope["path"] == BATCH_ROUTE
                chunks = [] if keep else None
            elif message["type"] == "http.response.body" and chunks is not None:
                chunks.append(message.get("body", b""))
                if sum(map(len, chunks)) > _MAX_CAPTURED:
                    chunks = None
            await send(message)

        try:
            await self.app(scope, receive, observing_send)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or UNMATCHED_ROUTE
            self.metrics.observe_answer(
                scope["method"], template, status, media_type,
                b"".join(chunks) if chunks is not None else None,
                time.perf_counter() - started,
            )


router = APIRouter(tags=["operations"])


@router.get(
    METRICS_PATH,
    summary="Prometheus metrics (text exposition format); an all-tenant admin key",
    response_class=Response,
    responses={
        200: {"content": {CONTENT_TYPE_LATEST.split(";")[0]: {"schema": {"type": "string"}}},
              "description": "the metrics"},
        401: {"description": "missing, unknown or revoked API key"},
        403: {"description": "not an all-tenant admin key"},
    },
)
def get_metrics(request: Request, principal: CurrentPrincipal) -> Response:
    principal.require(Group.METRICS)
    if principal.tenant is not None:
        raise Forbidden("metrics aggregate every tenant: use an all-tenant admin key")
    metrics: Metrics = request.app.state.metrics
    return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)


def group_commit_from_app_state(state: Any) -> Callable[[], GroupCommit[Any, Any] | None]:
    """A getter for the group commit of the app's append service (None before startup)."""

    def group_commit() -> GroupCommit[Any, Any] | None:
        ledger = getattr(state, "ledger", None)
        return None if ledger is None else ledger.appender.group_commit

    return group_commit


def engine_from_app_state(state: Any) -> Callable[[], Engine | None]:
    """A getter for the engine of the ledger the app opens at startup (None before)."""

    def engine() -> Engine | None:
        ledger = getattr(state, "ledger", None)
        found = getattr(getattr(ledger, "recorder", None), "engine", None)
        return found if isinstance(found, Engine) else None

    return engine


__all__: Sequence[str] = (
    "METRICS_PATH", "Metrics", "MetricsMiddleware", "engine_from_app_state",
    "group_commit_from_app_state", "problem_slug", "router",
)
