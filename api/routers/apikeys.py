"""API keys over HTTP, for admin keys: list, issue (token shown once), revoke.

A tenant-scoped admin key manages only keys of its tenant and cannot issue an
all-tenant key; an all-tenant admin key manages every key.
"""

from __future__ import annotations

from fastapi import APIRouter, status

from api.apikeys import issue_key
from api.auth import Principal, WrongTenant
from api.deps import ApiKeysDep, ClockDep, KeyAdmin
from api.schemas import ApiKeyCreate, ApiKeyIssued, ApiKeyPublic
from ledger.store.apikeys import ApiKeyRow, UnknownApiKey
from ledger.timefmt import format_time

router = APIRouter(prefix="/v1/api-keys", tags=["api keys"])

_AUTH: dict[int | str, dict[str, str]] = {
    401: {"description": "missing, unknown or revoked API key"},
    403: {"description": "only admin keys, and only for their tenant"},
}


def _public(row: ApiKeyRow) -> ApiKeyPublic:
    return ApiKeyPublic(id=row.id, name=row.name, role=row.role, tenant=row.tenant,
                        created_at=row.created_at, revoked_at=row.revoked_at)


def _require_scope(principal: Principal, tenant: str | None) -> None:
    if tenant is None:
        if principal.tenant is not None:
            raise WrongTenant("a tenant-scoped admin key cannot manage all-tenant keys")
        return
    principal.require_tenant(tenant)


@router.get("", summary="Every API key (never a token)", responses=_AUTH)
def list_keys(principal: KeyAdmin, store: ApiKeysDep) -> list[ApiKeyPublic]:
    return [
        _public(row) for row in store.list()
        if principal.tenant is None or row.tenant == principal.tenant
    ]


@router.post("", status_code=status.HTTP_201_CREATED, summary="Issue a key; its token is "
             "in this answer only", responses={**_AUTH, 409: {"description": "name taken"}})
def create_key(
    body: ApiKeyCreate, principal: KeyAdmin, store: ApiKeysDep, clock: ClockDep
) -> ApiKeyIssued:
    _require_scope(principal, body.tenant)
    issued = issue_key(store, name=body.name, role=body.role, tenant=body.tenant,
                       now=format_time(clock.now()))
    return ApiKeyIssued(**_public(issued.row).model_dump(), token=issued.token)


@router.delete("/{name}", summary="Revoke a key (it stays listed, revoked)",
               responses={**_AUTH, 404: {"description": "no such key"}})
def revoke_key(name: str, principal: KeyAdmin, store: ApiKeysDep,
               clock: ClockDep) -> ApiKeyPublic:
    row = store.find_by_name(name)
    if row is None:
        raise UnknownApiKey(name)
    _require_scope(principal, row.tenant)
    return _public(store.revoke(name, format_time(clock.now())))
