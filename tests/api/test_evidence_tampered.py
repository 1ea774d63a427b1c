"""A bundle served from a database someone changed behind the ledger's back fails
verification. In a module of its own: tampering drops SQLite's triggers for good."""

from __future__ import annotations

import json

from ledger.verify import verify_bundle
from tests.api.conftest import TENANT_A, Api
from tests.api.test_evidence import load_order
from tests.ledger.support import tamper


def test_a_bundle_of_a_tampered_database_fails_verification(api: Api) -> None:
    load_order(api, "ev-tampered", 3)
    api.sequence()
    path = f"/v1/orders/{TENANT_A}/ev-tampered/bundle"
    assert verify_bundle(api.server.call("GET", path, token=api.tokens["auditor-all"]).body).ok
    tamper(api.database_url,
           "UPDATE payloads SET payload = :p WHERE record_id = (SELECT id FROM records "
           "WHERE order_id = 'ev-tampered' AND seq = 1)",
           p=json.dumps({"tampered": True}))
    bundle = api.server.call("GET", path, token=api.tokens["auditor-all"]).body
    assert not verify_bundle(bundle).ok
