"""The role × endpoint × tenant matrix, exhaustively, over real HTTP.

Every operation is tried with every key against its own tenant and another tenant; the
expected status comes from the table below (written out, not derived from api.auth, so
a policy change that nobody meant fails here).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from tests.api.conftest import KEYS, TENANT_A, TENANT_B, Api
from tests.api.data import PAID, batch_item, create_body, event_body
from tests.api.live import Reply

SEED = "seed-1"

#: Which roles may use each operation at all (tenant scope is checked separately).
ALLOWED: dict[str, set[str]] = {
    "create": {"platform"},
    "push": {"platform", "carrier"},
    "batch_push": {"platform", "carrier"},
    "batch_create": {"platform"},
    "get_order": {"platform", "auditor", "legal", "admin"},
    "records": {"platform", "auditor", "legal", "admin"},
    "inclusion": {"platform", "auditor", "legal", "admin"},
    "bundle": {"auditor", "legal", "admin"},
    "checkpoint": {"platform", "auditor", "legal", "admin"},
    "consistency": {"platform", "auditor", "legal", "admin"},
    "keys": {"platform", "auditor", "legal", "admin"},
    "catalogue": {"platform", "auditor", "legal", "admin"},
    "registry": {"platform", "auditor", "legal", "admin"},
    "api_keys": {"admin"},
}
#: Operations that name no tenant: "other tenant" does not apply to them.
TENANTLESS = {"checkpoint", "consistency", "keys", "catalogue", "registry", "api_keys"}
SUCCESS = {"create": 201, "push": 201}


@dataclass(frozen=True)
class Case:
    op: str
    key: str
    role: str
    scope: str | None
    target: str  # "own" or "other"

    @property
    def tenant(self) -> str:
        own = self.scope or TENANT_A
        return own if self.target == "own" else (TENANT_B if own == TENANT_A else TENANT_A)

    @property
    def expected(self) -> int:
        if self.role not in ALLOWED[self.op]:
            return 403
        if self.target == "other" and self.scope is not None and self.op not in TENANTLESS:
            return 403
        return SUCCESS.get(self.op, 200)


CASES = [
    Case(op, name, role, scope, target)
    for op, (name, role, scope), target in itertools.product(
        ALLOWED, [k for k in KEYS if not k[0].startswith("revoked")], ("own", "other")
    )
]


def _fresh_order(api: Api, case: Case) -> str:
    """A new order of the case's tenant (created with that tenant's platform key)."""
    order = f"m-{case.op}-{case.key}-{case.target}"
    creator = "platform-a" if case.tenant == TENANT_A else "platform-b"
    reply = api.server.call("POST", "/v1/orders", token=api.tokens[creator],
                            json_body=create_body(case.tenant, order))
    assert reply.status == 201, reply.body
    return order


def _batch(api: Api, case: Case, token: str | None, create: bool) -> Reply:
    order = f"m-{case.op}-{case.key}-{case.target}"
    if create:
        item = {**create_body(case.tenant, order), "create": True}
    else:
        order = _fresh_order(api, case)
        item = batch_item(case.tenant, order, PAID)
    return api.server.call("POST", "/v1/events:batch", token=token, json_body={"items": [item]})


def perform(api: Api, case: Case, token: str | None) -> Reply:
    t = case.tenant
    calls: dict[str, Callable[[], Reply]] = {
        "create": lambda: api.server.call(
            "POST", "/v1/orders", token=token,
            json_body=create_body(t, f"m-create-{case.key}-{case.target}")),
        "push": lambda: api.server.call(
            "POST", f"/v1/orders/{t}/{_fresh_order(api, case)}/events", token=token,
            json_body=event_body(PAID)),
        "batch_push": lambda: _batch(api, case, token, create=False),
        "batch_create": lambda: _batch(api, case, token, create=True),
        "get_order": lambda: api.server.call("GET", f"/v1/orders/{t}/{SEED}", token=token),
        "records": lambda: api.server.call("GET", "/v1/records", token=token,
                                           query={"tenant": t}),
        "inclusion": lambda: api.server.call(
            "GET", "/v1/proofs/inclusion", token=token,
            query={"tenant": t, "order": SEED, "seq": 0}),
        "bundle": lambda: api.server.call("GET", f"/v1/orders/{t}/{SEED}/bundle", token=token),
        "checkpoint": lambda: api.server.call("GET", "/v1/checkpoint", token=token),
        "consistency": lambda: api.server.call("GET", "/v1/proofs/consistency", token=token,
                                               query={"old_size": 1}),
        "keys": lambda: api.server.call("GET", "/v1/keys", token=token),
        "catalogue": lambda: api.server.call("GET", "/v1/catalogue", token=token),
        "registry": lambda: api.server.call("GET", "/v1/registry", token=token),
        "api_keys": lambda: api.server.call("GET", "/v1/api-keys", token=token),
    }
    return calls[case.op]()


@pytest.fixture(scope="module")
def seeded(api: Api) -> Api:
    """An order in each tenant, under a checkpoint."""
    for tenant, key in ((TENANT_A, "platform-a"), (TENANT_B, "platform-b")):
        reply = api.server.call("POST", "/v1/orders", token=api.tokens[key],
                                json_body=create_body(tenant, SEED))
        assert reply.status == 201, reply.body
    api.sequence()
    return api


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.op}-{c.key}-{c.target}")
def test_matrix(seeded: Api, case: Case) -> None:
    reply = perform(seeded, case, seeded.tokens[case.key])
    status = reply.status
    if case.op.startswith("batch") and status == 200:
        # The request is answered; the item carries the verdict.
        status = reply.body["results"][0]["status"]
        expected = 201 if case.expected == 200 else case.expected
    else:
        expected = case.expected
    assert status == expected, reply.body
    if status >= 400:
        problem = reply.body if reply.status >= 400 else reply.body["results"][0]["problem"]
        slug = "wrong-tenant" if case.role in ALLOWED[case.op] else "forbidden"
        assert problem["type"] == f"https://orderledger.dev/problems/{slug}"
        if reply.status >= 400:
            assert reply.media_type == "application/problem+json"


@pytest.mark.parametrize("op", sorted(ALLOWED))
@pytest.mark.parametrize("credential", ["none", "unknown", "revoked", "basic"])
def test_without_a_valid_key_every_endpoint_is_401(
    seeded: Api, op: str, credential: str
) -> None:
    case = Case(op, "platform-a", "platform", TENANT_A, "own")
    token = {
        "none": None,
        "unknown": "olk_not-a-key-we-issued",
        "revoked": seeded.tokens["revoked-platform-a"],
        "basic": None,
    }[credential]
    if credential == "basic":
        reply = seeded.server.call("GET", f"/v1/orders/{TENANT_A}/{SEED}",
                                   headers={"Authorization": "Basic dXNlcjpwdw=="})
    elif op in ("push", "batch_push"):
        # No order needs creating to be refused at the door.
        reply = seeded.server.call(
            "POST", f"/v1/orders/{TENANT_A}/{SEED}/events", token=token,
            json_body=event_body(PAID))
    else:
        reply = perform(seeded, case, token)
    assert reply.status == 401, reply.body
    assert reply.media_type == "application/problem+json"
    assert reply.body["type"] == "https://orderledger.dev/problems/unauthenticated"
    assert reply.headers["www-authenticate"] == "Bearer"
    if credential == "revoked":
        assert "revoked" in reply.body["detail"]


def test_health_needs_no_key(api: Api) -> None:
    assert api.server.call("GET", "/healthz").body == {"status": "ok"}
    assert api.server.call("GET", "/readyz").body == {"status": "ready"}
