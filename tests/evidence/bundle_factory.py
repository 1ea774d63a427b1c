"""Realistic, fully valid proof bundles built in memory, for the verifier's tamper tests.

A bundle here is what `orderledger export` would write (spec §6): an order's whole chain
of signed statements (chained per §2, one key rotation in the middle so two keys with
their intervals appear), salted payloads, the catalogue, a Merkle log in which the
order's records are interleaved with other orders' leaves, a signed checkpoint with a
timestamp, inclusion proofs, plus an older checkpoint and the consistency proof to the
new one. Everything is deterministic for a given seed.
"""

from __future__ import annotations

import base64
import hashlib
import importlib
import importlib.util
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger import merkle, verify
from ledger.checkpoint import Checkpoint
from ledger.keys import LocalKey, PublishedKey
from ledger.note import vkey
from ledger.statement import GENESIS_PREV, Statement
from ledger.timefmt import format_time

ORIGIN = "ledger.example.com/orderledger"
TENANT = "tmall-shop-4711"
ORDER = "SO-2026-000123"
RULES = "cn-express@2026.1"
START = datetime(2026, 2, 16, 8, 0, tzinfo=UTC)

# A small catalogue following §5, used until statemodel.catalogue exists.
INLINE_CATALOGUE: dict[str, Any] = {
    "format": "orderledger.catalogue.v1",
    "id": "bundle-factory-inline",
    "version": "test.1",
    "sub_states": [
        {"code": code, "main": code[:3], "initial": code in ("M01.01", "M02.01"),
         "final": code.startswith("M12")}
        for code in ("M01.01", "M01.02", "M02.01", "M02.02", "M03.01", "M03.02", "M04.01",
                     "M04.02", "M05.01", "M05.02", "M07.01", "M07.02", "M07.04", "M08.01",
                     "M09.03", "M12.01", "M12.02")
    ],
    "creations": [{"event": "order_placed", "to": "M01.01"},
                  {"event": "cod_order_placed", "to": "M02.01"}],
    "transitions": [
        {"event": "payment_captured", "from": ["M01.01"], "to": "M01.02"},
        {"event": "audit_started", "from": ["M01.02"], "to": "M02.01"},
        {"event": "allocated", "from": ["M02.01"], "to": "M02.02"},
        {"event": "picking_started", "from": ["M02.02"], "to": "M03.01"},
        {"event": "packed", "from": ["M03.01"], "to": "M03.02"},
        {"event": "pickup_booked", "from": ["M03.02"], "to": "M04.01"},
        {"event": "picked_up", "from": ["M04.01"], "to": "M04.02"},
        {"event": "departed", "from": ["M04.02", "M05.02"], "to": "M05.01"},
        {"event": "hub_scanned", "from": ["M05.01", "M05.02"], "to": "M05.02"},
        {"event": "stalled", "from": ["M05.01", "M05.02"], "to": "M09.03"},
        {"event": "scan_resumed", "from": ["M09.03"], "to": "M05.02"},
        {"event": "arrived_at_station", "from": ["M05.01", "M05.02"], "to": "M07.01"},
        {"event": "out_for_delivery", "from": ["M07.01", "M07.04"], "to": "M07.02"},
        {"event": "delivery_failed", "from": ["M07.02"], "to": "M07.04"},
        {"event": "signed", "from": ["M07.02"], "to": "M08.01"},
        {"event": "completed", "from": ["M08.01"], "to": "M12.02"},
        {"event": "cancelled", "from": "*", "to": "M12.01"},
    ],
}


def load_test_catalogue() -> dict[str, Any]:
    """The real catalogue document when statemodel.catalogue exists, else the inline one."""
    if importlib.util.find_spec("statemodel.catalogue") is None:
        return INLINE_CATALOGUE
    module = importlib.import_module("statemodel.catalogue")
    document: dict[str, Any] = module.load_catalogue().document
    return document


def deterministic_key(seed: int, label: str, purpose: str = "record") -> LocalKey:
    secret = hashlib.sha256(f"bundle-factory:{seed}:{label}".encode()).digest()
    return LocalKey(Ed25519PrivateKey.from_private_bytes(secret),
                    "log" if purpose == "log" else "record")


@dataclass
class BundleKit:
    """A valid bundle and everything a test needs to tamper with it or re-sign it."""

    bundle: dict[str, Any]
    trust: dict[str, Any]
    log_key: LocalKey
    record_keys: list[tuple[LocalKey, PublishedKey]]
    catalogue: dict[str, Any]
    old_checkpoint: str
    consistency_proof: dict[str, Any]
    store: merkle.InMemoryNodeStore


def _walk(catalogue: dict[str, Any], rng: random.Random, count: int
          ) -> list[tuple[str, str | None, str, str]]:
    """(kind, from, to, event) for `count` records along catalogue edges from a creation."""
    subs = {s["code"]: s for s in catalogue["sub_states"]}
    creations = catalogue.get("creations") or [
        {"event": "order_created", "to": code} for code, s in subs.items() if s["initial"]
    ]
    first = sorted(creations, key=lambda c: (c["event"], c["to"]))[0]
    steps: list[tuple[str, str | None, str, str]] = [("transition", None, first["to"],
                                                       first["event"])]
    state, held = first["to"], False
    while len(steps) < count:
        edges = sorted(
            (t["event"], t["to"]) for t in catalogue["transitions"]
            if (t["from"] == "*" and not subs[state]["final"]) or state in t["from"]
        )
        # Prefer moving on through the lifecycle (a later main state, but not the closing
        # M12 one) so chains look like real fulfilment rather than loops or cancellations.
        main = subs[state]["main"]
        forward = ([e for e in edges if main < subs[e[1]]["main"] < "M12"]
                   or [e for e in edges if e[1] != state and not subs[e[1]]["final"]] or edges)
        if not forward or rng.random() < 0.2:
            # A hold comes before its release; SLA breaches can happen any time.
            kind = rng.choice(["sla_breach", "legal_hold_release" if held else "legal_hold"])
            held = kind == "legal_hold"
            steps.append((kind, state, state, kind))
            continue
        event, target = rng.choice(forward)
        steps.append(("transition", state, target, event))
        state = target
    return steps


def _payload(rng: random.Random, step: int, event: str) -> dict[str, Any]:
    return {
        "fields": {"waybill_no": f"SF{1400000000 + step}", "node": rng.choice(
            ["武汉分拨中心", "杭州转运中心", "上海浦东网点"]), "attempt_no": step},
        "raw": {"source": "kuaidi100", "code": str(rng.randint(0, 1003)),
                "text": f"{event} 已处理, 联系电话 138****{rng.randint(1000, 9999)}"},
    }


def build_bundle(*, seed: int = 1, key_seed: int | None = None, records: int = 12,
                 catalogue: dict[str, Any] | None = None) -> BundleKit:
    """A fully valid bundle of `records` statements (at least 4).

    `seed` fixes the content (path, payloads, salts, other orders' leaves); `key_seed`
    (default: `seed`) fixes the keys, so the same content under another key_seed is a
    consistent forgery made with fresh keys.
    """
    rng = random.Random(seed)
    keys_from = seed if key_seed is None else key_seed
    catalogue = catalogue if catalogue is not None else load_test_catalogue()
    model = verify.model_digest(catalogue)
    log_key = deterministic_key(keys_from, "log", "log")
    rotation = START + timedelta(hours=records // 2, minutes=30)
    old_key = deterministic_key(keys_from, "record-1")
    new_key = deterministic_key(keys_from, "record-2")
    record_keys = [
        (old_key, PublishedKey(old_key.key_id, old_key.public_bytes,
                               format_time(START - timedelta(days=30)), format_time(rotation))),
        (new_key, PublishedKey(new_key.key_id, new_key.public_bytes, format_time(rotation), None)),
    ]
    store = merkle.InMemoryNodeStore()
    entries: list[dict[str, Any]] = []
    prev = GENESIS_PREV
    old_size = 0
    for seq, (kind, source, target, event) in enumerate(_walk(catalogue, rng, records)):
        recorded = START + timedelta(hours=seq, minutes=rng.randint(0, 20))
        signer = old_key if recorded < rotation else new_key
        payload, salt = _payload(rng, seq, event), rng.randbytes(16)
        statement = Statement.from_json({
            "v": 1, "log": ORIGIN, "kind": kind, "tenant": TENANT, "order": ORDER,
            "seq": seq, "prev": prev, "from": source, "to": target, "event": event,
            "event_time": format_time(recorded - timedelta(minutes=7)),
            "recorded_at": format_time(recorded),
            "actor": {"type": "carrier" if seq > 3 else "platform", "id": "sf-express"},
            "payload_digest": verify.payload_digest(salt, payload),
            "model": model, "rules": RULES, "key_id": signer.key_id,
        }).to_json()
        digest = verify.statement_hash(statement)
        other_orders = [verify.leaf_hash(rng.randbytes(32)) for _ in range(rng.randint(0, 4))]
        store.append(other_orders)
        leaf_index = store.size
        store.append([verify.leaf_hash(digest)])
        entries.append({"statement": statement, "signature": signer.sign_record(digest),
                        "payload": payload, "salt": base64.b64encode(salt).decode(),
                        "leaf_index": leaf_index, "inclusion_proof": []})
        prev = digest.hex()
        if seq == records // 2:
            old_size = store.size
    old_root = merkle.root(old_size, store)
    store.append([verify.leaf_hash(rng.randbytes(32)) for _ in range(3)])
    size, root = store.size, merkle.root(store.size, store)
    for entry in entries:
        entry["inclusion_proof"] = [h.hex() for h in
                                    merkle.inclusion_proof(entry["leaf_index"], size, store)]
    stamp = format_time(START + timedelta(hours=records + 1))
    checkpoint = Checkpoint.new(ORIGIN, size, root, timestamp=stamp).sign(log_key)
    published = [k.to_json() for _, k in record_keys]
    bundle = {
        "format": verify.BUNDLE_FORMAT, "log": ORIGIN, "tenant": TENANT, "order": ORDER,
        "exported_at": stamp, "log_key": vkey(ORIGIN, log_key.public_bytes),
        "keys": published, "models": [catalogue], "checkpoint": checkpoint, "entries": entries,
    }
    return BundleKit(
        bundle=bundle,
        trust={"log_key": bundle["log_key"], "keys": published},
        log_key=log_key,
        record_keys=record_keys,
        catalogue=catalogue,
        old_checkpoint=Checkpoint.new(ORIGIN, old_size, old_root).sign(log_key),
        consistency_proof={"old_size": old_size, "new_size": size, "proof": [
            h.hex() for h in merkle.consistency_proof(old_size, size, store)]},
        store=store,
    )
