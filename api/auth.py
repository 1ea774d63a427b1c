"""Who is calling, and what they may do: bearer-token authentication and the role ×
endpoint × tenant policy, in one place.

The policy, by endpoint group (the routers name a group; tests walk this whole table):

| group       | platform   | carrier    | auditor | legal | admin |
|-------------|------------|------------|---------|-------|-------|
| create      | own tenant | -          | -       | -     | -     |
| push        | own tenant | own tenant | -       | -     | -     |
| read        | own tenant | -          | scope   | scope | scope |
| log         | yes        | -          | yes     | yes   | yes   |
| bundle      | -          | -          | scope   | scope | scope |
| keys_admin  | -          | -          | -       | -     | yes   |
| feeds_admin | -          | -          | -       | -     | scope |
| waybills    | own tenant | -          | -       | -     | scope |
| metrics     | -          | -          | -       | -     | all   |

"scope" is the key's tenant, or every tenant for an all-tenant key. "log" is the global
Merkle log (checkpoints, consistency proofs), the trust set and the state model: not any
tenant's data. Auditors and legal never write; carriers only push events. "feeds_admin"
sets a tenant's carrier-feed secrets; "waybills" routes a waybill to an order for the
carrier webhooks (which authenticate by their signature, not by an API key); "metrics"
(`GET /metrics`) aggregates every tenant, so it needs an all-tenant admin key.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from api.apikeys import ACTOR_TYPES, Role, parse_role, resolve_token
from ledger.statement import Actor
from ledger.store.apikeys import ApiKeyStore
from statemodel.errors import OrderledgerError


class Group(StrEnum):
    CREATE = "create"
    PUSH = "push"
    READ = "read"
    LOG = "log"
    BUNDLE = "bundle"
    KEYS_ADMIN = "keys_admin"
    FEEDS_ADMIN = "feeds_admin"
    WAYBILLS = "waybills"
    METRICS = "metrics"


POLICY: Final[dict[Group, frozenset[Role]]] = {
    Group.CREATE: frozenset({Role.PLATFORM}),
    Group.PUSH: frozenset({Role.PLATFORM, Role.CARRIER}),
    Group.READ: frozenset({Role.PLATFORM, Role.AUDITOR, Role.LEGAL, Role.ADMIN}),
    Group.LOG: frozenset({Role.PLATFORM, Role.AUDITOR, Role.LEGAL, Role.ADMIN}),
    Group.BUNDLE: frozenset({Role.AUDITOR, Role.LEGAL, Role.ADMIN}),
    Group.KEYS_ADMIN: frozenset({Role.ADMIN}),
    Group.FEEDS_ADMIN: frozenset({Role.ADMIN}),
    Group.WAYBILLS: frozenset({Role.PLATFORM, Role.ADMIN}),
    Group.METRICS: frozenset({Role.ADMIN}),
}


class AccessError(OrderledgerError):
    """Root of authentication and authorisation refusals (401 / 403)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class Unauthenticated(AccessError):
    """No bearer token, or one that is unknown or revoked (401)."""


class Forbidden(AccessError):
    """The key's role may not do this (403)."""


class WrongTenant(Forbidden):
    """The key may not act on this tenant's data (403, field `tenant`)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, field="tenant")


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller, as its API key says: name, role and tenant scope (None: all)."""

    key_id: int
    name: str
    role: Role
    tenant: str | None

    def require(self, group: Group) -> None:
        """Raises Forbidden unless the role may use endpoints of `group`."""
        if self.role not in POLICY[group]:
            raise Forbidden(f"a {self.role} key may not use this endpoint ({group})")

    def require_tenant(self, tenant: str) -> None:
        """Raises WrongTenant unless the key's scope covers `tenant`."""
        if self.tenant is not None and self.tenant != tenant:
            raise WrongTenant(f"this key acts for tenant {self.tenant!r}, not {tenant!r}")

    def scope_for(self, requested: str | None) -> str | None:
        """The tenant a search runs over: the requested one (checked against the scope),
        or the key's own when none is requested (None: every tenant)."""
        if requested is None:
            return self.tenant
        self.require_tenant(requested)
        return requested

    def actor(self) -> Actor:
        """The actor that records this key writes carry: the role's actor type and the
        key's name. Raises Forbidden for a role that never writes."""
        actor_type = ACTOR_TYPES.get(self.role)
        if actor_type is None:
            raise Forbidden(f"a {self.role} key never writes records")
        return Actor(actor_type, self.name)


def authenticate(store: ApiKeyStore, scheme: str | None, token: str | None) -> Principal:
    """The principal for `Authorization: <scheme> <token>`.

    Raises Unauthenticated when the header is missing, is not a Bearer token, or names a
    key that is unknown or revoked (the detail says which, never the stored hash).
    """
    if not scheme or not token:
        raise Unauthenticated("missing credentials: send Authorization: Bearer <api key>")
    if scheme.lower() != "bearer":
        raise Unauthenticated(f"unsupported authorization scheme {scheme!r}: use Bearer")
    row = resolve_token(store, token)
    if row is None:
        raise Unauthenticated("unknown API key")
    if row.revoked_at is not None:
        raise Unauthenticated(f"API key {row.name!r} was revoked at {row.revoked_at}")
    return Principal(key_id=row.id, name=row.name, role=parse_role(row.role), tenant=row.tenant)
