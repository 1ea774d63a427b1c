"""Dependencies of the routers, as `Annotated` aliases (`LedgerDep`, `Platform`, ...).

Each role alias authenticates the bearer token and checks the role against the policy
of `api.auth` for its endpoint group; tenant checks happen where the tenant is known
(path, query or body), through `Principal.require_tenant`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.auth import Group, Principal, authenticate
from ledger.clock import Clock
from ledger.service import Ledger
from ledger.store.apikeys import ApiKeyStore

_bearer = HTTPBearer(auto_error=False, description="an API key: `Authorization: Bearer olk_…`")


def get_ledger(request: Request) -> Ledger:
    ledger: Ledger = request.app.state.ledger
    return ledger


def get_api_keys(request: Request) -> ApiKeyStore:
    store: ApiKeyStore = request.app.state.api_keys
    return store


LedgerDep = Annotated[Ledger, Depends(get_ledger)]
ApiKeysDep = Annotated[ApiKeyStore, Depends(get_api_keys)]


def get_clock(ledger: LedgerDep) -> Clock:
    return ledger.clock


ClockDep = Annotated[Clock, Depends(get_clock)]


def get_principal(
    store: ApiKeysDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller. Raises Unauthenticated (401) without a valid, unrevoked key."""
    if credentials is None:
        return authenticate(store, None, None)
    return authenticate(store, credentials.scheme, credentials.credentials)


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def _allowed(group: Group) -> Callable[[Principal], Principal]:
    def check(principal: CurrentPrincipal) -> Principal:
        principal.require(group)
        return principal

    check.__name__ = f"require_{group}"
    return check


Creator = Annotated[Principal, Depends(_allowed(Group.CREATE))]
Pusher = Annotated[Principal, Depends(_allowed(Group.PUSH))]
Reader = Annotated[Principal, Depends(_allowed(Group.READ))]
LogReader = Annotated[Principal, Depends(_allowed(Group.LOG))]
BundleReader = Annotated[Principal, Depends(_allowed(Group.BUNDLE))]
KeyAdmin = Annotated[Principal, Depends(_allowed(Group.KEYS_ADMIN))]

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="replays with the same key return the original record (200)",
    ),
]
