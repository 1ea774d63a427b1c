"""API keys: issuing rules, the admin endpoints, and authentication by token."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.apikeys import ensure_demo_keys, hash_token, issue_key
from api.auth import Unauthenticated, authenticate
from ledger.store.apikeys import DuplicateKeyName, UnknownApiKey, api_key_store
from statemodel.errors import InvalidInput
from tests.api.conftest import TENANT_A, TENANT_B, Api
from tests.ledger.support import open_test_ledger

PROBLEMS = "https://orderledger.dev/problems/"
NOW = "2026-11-25T10:00:00.000Z"

#: (name, role, tenant) that issue_key refuses, and the field it names.
REFUSED = {
    "platform without tenant": (("p", "platform", None), "tenant"),
    "carrier without tenant": (("c", "carrier", None), "tenant"),
    "unknown role": (("x", "root", None), "role"),
    "empty name": (("", "auditor", None), "name"),
    "name with a space": (("a b", "auditor", None), "name"),
    "empty tenant": (("e", "legal", ""), "tenant"),
}


@pytest.mark.parametrize("case", REFUSED, ids=str)
def test_issue_key_refuses_bad_keys(database_url: str, tmp_path: Path, case: str) -> None:
    (name, role, tenant), field = REFUSED[case]
    ledger = open_test_ledger(database_url, tmp_path)
    try:
        store = api_key_store(ledger.recorder)
        with pytest.raises(InvalidInput) as caught:
            issue_key(store, name=name, role=role, tenant=tenant, now=NOW)
        assert caught.value.field == field
        assert store.count() == 0
    finally:
        ledger.close()


def test_tokens_are_stored_hashed_and_revocation_locks_out(
    database_url: str, tmp_path: Path
) -> None:
    ledger = open_test_ledger(database_url, tmp_path)
    try:
        store = api_key_store(ledger.recorder)
        issued = issue_key(store, name="k", role="auditor", tenant=None, now=NOW)
        assert issued.token.startswith("olk_")
        assert len(issued.token) > 40
        assert issued.row.key_hash == hash_token(issued.token) != issued.token
        assert authenticate(store, "Bearer", issued.token).name == "k"
        with pytest.raises(DuplicateKeyName):
            issue_key(store, name="k", role="legal", tenant=None, now=NOW)
        store.revoke("k", NOW)
        with pytest.raises(Unauthenticated, match="revoked"):
            authenticate(store, "Bearer", issued.token)
        with pytest.raises(UnknownApiKey):
            store.revoke("nobody", NOW)
    finally:
        ledger.close()


def test_demo_keys_are_issued_once_on_an_empty_table(database_url: str, tmp_path: Path) -> None:
    ledger = open_test_ledger(database_url, tmp_path)
    try:
        store = api_key_store(ledger.recorder)
        issued = ensure_demo_keys(store, (TENANT_A, TENANT_B), NOW)
        roles = sorted((k.row.role, k.row.tenant or "*") for k in issued)
        assert roles == sorted([
            ("platform", TENANT_A), ("carrier", TENANT_A), ("platform", TENANT_B),
            ("carrier", TENANT_B), ("auditor", "*"), ("legal", "*"), ("admin", "*"),
        ])
        assert ensure_demo_keys(store, (TENANT_A, TENANT_B), NOW) == []
        assert store.count() == 7
    finally:
        ledger.close()


def test_admin_endpoints_issue_list_and_revoke(api: Api) -> None:
    admin = api.tokens["admin-all"]
    created = api.server.call("POST", "/v1/api-keys", token=admin,
                              json_body={"name": "http-carrier", "role": "carrier",
                                         "tenant": TENANT_B})
    assert created.status == 201, created.body
    token = created.body["token"]
    listed = api.server.call("GET", "/v1/api-keys", token=admin).body
    assert "http-carrier" in {k["name"] for k in listed}
    assert all("token" not in k and "key_hash" not in k for k in listed)
    # The new key works, within its role.
    assert api.server.call("GET", "/v1/keys", token=token).status == 403
    revoked = api.server.call("DELETE", "/v1/api-keys/http-carrier", token=admin)
    assert revoked.status == 200
    assert revoked.body["revoked_at"]
    assert api.server.call("GET", "/v1/keys", token=token).status == 401
    missing = api.server.call("DELETE", "/v1/api-keys/nobody", token=admin)
    assert (missing.status, missing.body["type"]) == (404, PROBLEMS + "unknown-api-key")


def test_admin_endpoint_refusals(api: Api) -> None:
    cases = {
        "tenant admin issuing an all-tenant key": (
            "admin-a", {"name": "x1", "role": "auditor"}, 403, "wrong-tenant"),
        "tenant admin issuing for another tenant": (
            "admin-a", {"name": "x2", "role": "platform", "tenant": TENANT_B}, 403,
            "wrong-tenant"),
        "platform key without tenant": (
            "admin-all", {"name": "x3", "role": "platform"}, 422, "invalid-input"),
        "unknown role": ("admin-all", {"name": "x4", "role": "root"}, 422, "invalid-input"),
        "taken name": ("admin-all", {"name": "auditor-a", "role": "auditor"}, 409,
                       "duplicate-name"),
        "not an admin": ("auditor-all", {"name": "x5", "role": "auditor"}, 403, "forbidden"),
    }
    for name, (key, body, status, slug) in cases.items():
        reply = api.server.call("POST", "/v1/api-keys", token=api.tokens[key], json_body=body)
        assert (reply.status, reply.body["type"]) == (status, PROBLEMS + slug), name
    scoped = api.server.call("GET", "/v1/api-keys", token=api.tokens["admin-a"]).body
    assert {k["tenant"] for k in scoped} == {TENANT_A}
