"""API keys: roles, tenant scopes, tokens, and issuing, revoking and resolving keys.

A token is 32 random bytes (URL-safe base64) behind the prefix `olk_`; only its SHA-256
is stored, so it is shown once, when issued. Platform and carrier keys act for exactly
one tenant; auditor, legal and admin keys for one tenant or (tenant None) for all.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from ledger.statement import ActorType
from ledger.store.apikeys import ApiKeyRow, ApiKeyStore
from statemodel.errors import InvalidInput

TOKEN_PREFIX: Final = "olk_"  # noqa: S105 (a public prefix, not a secret)
MAX_NAME_LENGTH: Final = 128
MAX_TENANT_LENGTH: Final = 128


class Role(StrEnum):
    PLATFORM = "platform"
    CARRIER = "carrier"
    AUDITOR = "auditor"
    LEGAL = "legal"
    ADMIN = "admin"


#: Roles whose keys name exactly one tenant.
TENANT_BOUND: Final = frozenset({Role.PLATFORM, Role.CARRIER})

#: The actor type a writing role's records carry; roles absent here never write.
ACTOR_TYPES: Final = {Role.PLATFORM: ActorType.PLATFORM, Role.CARRIER: ActorType.CARRIER}


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A key just created, with the token that is shown this once and never stored."""

    row: ApiKeyRow
    token: str


def new_token() -> str:
    """A fresh high-entropy bearer token (256 random bits)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """The hex SHA-256 of a token: what the table stores and lookups compare."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def parse_role(text: str) -> Role:
    """The role named `text`. Raises InvalidInput (field `role`) for any other word."""
    try:
        return Role(text)
    except ValueError:
        roles = ", ".join(r.value for r in Role)
        raise InvalidInput(f"unknown role {text!r}; roles: {roles}", field="role") from None


def check_scope(role: Role, tenant: str | None) -> None:
    """Refuse a tenant scope the role may not have. Raises InvalidInput (field `tenant`)."""
    if tenant is None:
        if role in TENANT_BOUND:
            raise InvalidInput(f"a {role} key must name exactly one tenant", field="tenant")
        return
    if not tenant or len(tenant) > MAX_TENANT_LENGTH or not tenant.isprintable():
        raise InvalidInput(
            f"tenant: must be 1–{MAX_TENANT_LENGTH} printable characters", field="tenant"
        )


def check_name(name: str) -> None:
    """Key names become record actor ids: 1–128 printable characters, no spaces."""
    if not name or len(name) > MAX_NAME_LENGTH or not name.isprintable() or " " in name:
        raise InvalidInput(
            f"name: must be 1–{MAX_NAME_LENGTH} printable characters without spaces",
            field="name",
        )


def issue_key(
    store: ApiKeyStore, *, name: str, role: str, tenant: str | None, now: str
) -> IssuedKey:
    """Create and store a key; returns it with its token (shown once).

    Raises InvalidInput for a bad name, role or scope, DuplicateKeyName for a taken name.
    """
    check_name(name)
    parsed = parse_role(role)
    check_scope(parsed, tenant)
    token = new_token()
    row = store.insert(
        name=name, key_hash=hash_token(token), role=parsed.value, tenant=tenant, created_at=now
    )
    return IssuedKey(row=row, token=token)


def resolve_token(store: ApiKeyStore, token: str) -> ApiKeyRow | None:
    """The stored key a bearer token belongs to (revoked or not), or None."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    return store.find_by_hash(hash_token(token))


#: Demo keys: (name suffix, role, tenant-scoped?). Platform and carrier keys per demo
#: tenant; auditor, legal and admin keys across all tenants.
_DEMO_PER_TENANT: Final = (Role.PLATFORM, Role.CARRIER)
_DEMO_GLOBAL: Final = (Role.AUDITOR, Role.LEGAL, Role.ADMIN)


def ensure_demo_keys(store: ApiKeyStore, tenants: tuple[str, ...], now: str) -> list[IssuedKey]:
    """On an empty key table, issue one platform and one carrier key per demo tenant and
    one all-tenant auditor, legal and admin key; returns them (tokens shown once).

    With any key present, issues nothing and returns []: demo keys never come back after
    an operator has set up (or revoked) keys.
    """
    if store.count() > 0:
        return []
    issued = [
        issue_key(store, name=f"demo-{role}-{tenant}", role=role, tenant=tenant, now=now)
        for tenant in tenants
        for role in _DEMO_PER_TENANT
    ]
    issued += [
        issue_key(store, name=f"demo-{role}", role=role, tenant=None, now=now)
        for role in _DEMO_GLOBAL
    ]
    return issued
