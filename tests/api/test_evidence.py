"""Evidence over HTTP: a bundle fetched from the API verifies offline against the trust
set from the API; inclusion and consistency proofs check against the checkpoint."""

from __future__ import annotations

import json

from ledger.checkpoint import Checkpoint
from ledger.verify import TrustSet, verify_bundle, verify_consistency, verify_inclusion
from tests.api.conftest import TENANT_A, Api
from tests.api.data import HAPPY, batch_item, create_body

ORDER = "ev-1"


def load_order(api: Api, order: str, steps: int) -> None:
    items = [
        {**create_body(TENANT_A, order), "create": True},
        *(batch_item(TENANT_A, order, step) for step in HAPPY.steps[1:steps]),
    ]
    reply = api.server.call("POST", "/v1/events:batch", token=api.tokens["platform-a"],
                            json_body={"items": items})
    assert reply.body["committed"] == steps, reply.body


def test_a_bundle_from_the_api_verifies_with_the_api_trust_set(api: Api) -> None:
    load_order(api, ORDER, 6)
    reply = api.server.call("GET", f"/v1/orders/{TENANT_A}/{ORDER}/bundle",
                            token=api.tokens["legal-a"])
    assert reply.status == 200
    bundle = reply.body
    assert len(bundle["entries"]) == 6
    trust = TrustSet.from_json(api.server.call("GET", "/v1/keys",
                                               token=api.tokens["auditor-all"]).body)
    report = verify_bundle(bundle, trust=trust)
    assert report.ok, report.failures

    # A bundle whose payload was changed in transit fails: the check can fail.
    forged = json.loads(json.dumps(bundle))
    forged["entries"][2]["payload"]["warehouse_id"] = "elsewhere"
    assert not verify_bundle(forged, trust=trust).ok


def test_checkpoint_and_inclusion_proof_agree(api: Api) -> None:
    load_order(api, "ev-2", 3)
    api.sequence()
    token = api.tokens["auditor-a"]
    checkpoint = api.server.call("GET", "/v1/checkpoint", token=token).body
    note = Checkpoint.parse(checkpoint["note"])
    assert (note.size, note.root.hex()) == (checkpoint["size"], checkpoint["root"])
    proof = api.server.call("GET", "/v1/proofs/inclusion", token=token,
                            query={"tenant": TENANT_A, "order": "ev-2", "seq": 2}).body
    assert proof.get("tree_size") == checkpoint["size"], proof
    leaf = _leaf(proof["statement_hash"])
    verify_inclusion(proof["leaf_index"], proof["tree_size"], leaf,
                     [bytes.fromhex(h) for h in proof["inclusion_proof"]], note.root)


def test_consistency_proof_links_an_old_checkpoint_to_the_new(api: Api) -> None:
    load_order(api, "ev-3", 2)
    api.sequence()
    token = api.tokens["auditor-all"]
    old = api.server.call("GET", "/v1/checkpoint", token=token).body
    load_order(api, "ev-4", 2)
    api.sequence()
    new = api.server.call("GET", "/v1/checkpoint", token=token).body
    reply = api.server.call("GET", "/v1/proofs/consistency", token=token,
                            query={"old_size": old["size"]}).body
    assert (reply["old_size"], reply["new_size"]) == (old["size"], new["size"])
    verify_consistency(old["size"], new["size"], bytes.fromhex(old["root"]),
                       bytes.fromhex(new["root"]), [bytes.fromhex(h) for h in reply["proof"]])


def test_catalogue_and_registry_are_served(api: Api) -> None:
    token = api.tokens["platform-a"]
    catalogue = api.server.call("GET", "/v1/catalogue", token=token).body
    current = api.ledger.models.current.catalogue
    assert catalogue["digest"] == current.digest
    assert catalogue["document"] == current.document
    registry = api.server.call("GET", "/v1/registry", token=token)
    assert registry.media_type == "application/json"
    assert registry.body  # a JSON document with the administered items


def test_openapi_lists_every_route(api: Api) -> None:
    paths = set(api.server.call("GET", "/openapi.json").body["paths"])
    assert {
        "/v1/orders", "/v1/orders/{tenant}/{order}/events", "/v1/events:batch",
        "/v1/orders/{tenant}/{order}", "/v1/records", "/v1/checkpoint",
        "/v1/proofs/inclusion", "/v1/proofs/consistency", "/v1/orders/{tenant}/{order}/bundle",
        "/v1/keys", "/v1/catalogue", "/v1/registry", "/v1/api-keys", "/v1/api-keys/{name}",
        "/healthz", "/readyz",
    } <= paths


def _leaf(statement_hash: str) -> bytes:
    from ledger.verify import leaf_hash

    return leaf_hash(bytes.fromhex(statement_hash))
