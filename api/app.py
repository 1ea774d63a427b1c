"""The FastAPI application: `create_app(settings)` builds it; nothing is built at import.

The ledger is opened when the app starts (its lifespan) and closed when it stops, unless
the caller hands in an open one (the CLI's `serve`, tests), which the caller then owns.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Final

from fastapi import FastAPI

from api import metrics, openapi, problems
from api.gc_freeze import settle_collector_after_startup
from api.middleware import BATCH_BODY_LIMIT, DEFAULT_BODY_LIMIT, RequestIds
from api.routers import (
    apikeys,
    batch,
    carrier_feeds,
    evidence,
    health,
    model,
    orders,
    records,
    timers,
)
from api.web import ConsoleRequestGuard, install_console
from api.web.session import SessionStore
from ledger.clock import Clock
from ledger.service import Ledger, open_ledger
from ledger.settings import Settings
from ledger.store.apikeys import api_key_store
from ledger.store.console_sessions import console_session_store

API_VERSION: Final = "1.0.0"
BATCH_PATH: Final = "/v1/events:batch"

_DESCRIPTION = """\
Signed, hash-chained records of order fulfilment. Platforms and carriers push events;
auditors and legal query evidence chains, checkpoints, proofs and bundles that verify
offline. Authenticate with `Authorization: Bearer <api key>`. Every error is an RFC 9457
`application/problem+json` body.
"""


def create_app(
    settings: Settings,
    *,
    ledger: Ledger | None = None,
    clock: Clock | None = None,
    body_limit: int = DEFAULT_BODY_LIMIT,
    batch_body_limit: int = BATCH_BODY_LIMIT,
    freeze_startup_objects: bool = False,
) -> FastAPI:
    """The API over the ledger that `settings` describe.

    With `ledger`, the app serves it and leaves closing it to the caller; without, it
    opens one (with `clock`, default the system clock) at startup and closes it at
    shutdown. Opening fails as `open_ledger` does (ConfigurationError, StorageError,
    KeyStoreError), at startup, not here. `freeze_startup_objects` is for a process
    that serves only this app (`orderledger serve`): see `api.gc_freeze`.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        opened = ledger or open_ledger(settings, clock=clock)
        app.state.ledger = opened
        app.state.api_keys = api_key_store(opened.recorder)
        app.state.console_sessions = SessionStore(console_session_store(opened.recorder))
        if freeze_startup_objects:
            settle_collector_after_startup()
        try:
            yield
        finally:
            if ledger is None:
                opened.close()

    app = FastAPI(
        title="orderledger",
        version=API_VERSION,
        description=_DESCRIPTION,
        lifespan=lifespan,
    )
    problems.install(app)
    openapi.install(app)
    for router in (
        health.router,
        orders.router,
        batch.router,
        records.router,
        evidence.router,
        model.router,
        apikeys.router,
        carrier_feeds.router,
        timers.router,
        metrics.router,
    ):
        app.include_router(router)
    install_console(app)
    # The API's RequestGuard, letting the console's small form posts through.
    app.add_middleware(
        ConsoleRequestGuard, default_limit=body_limit, limits={BATCH_PATH: batch_body_limit}
    )
    app.add_middleware(RequestIds)
    # Outermost, so that it also times and counts what the guard refuses.
    app.state.metrics = metrics.Metrics(metrics.engine_from_app_state(app.state),
                                        metrics.group_commit_from_app_state(app.state))
    app.add_middleware(metrics.MetricsMiddleware, metrics=app.state.metrics)
    return app
