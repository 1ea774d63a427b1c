"""Proof bundle export (evidence-format §6): one order's whole chain, provable offline."""

from __future__ import annotations

import base64
from typing import Any

from ledger import merkle
from ledger.errors import StorageError, UnknownOrder
from ledger.keyring import published_key
from ledger.note import vkey
from ledger.sequencer import sequencer_for
from ledger.service import Ledger
from ledger.store import StoredRecord
from ledger.timefmt import format_time

BUNDLE_FORMAT = "orderledger.bundle.v1"


def export_bundle(ledger: Ledger, tenant: str, order: str) -> dict[str, Any]:
    """Build the bundle of one order against the newest checkpoint.

    Integrates queued records first, so every record of the chain is a leaf under the
    checkpoint; a record appended after that checkpoint is left out (the bundle holds the
    chain as of its checkpoint). Raises UnknownOrder (field "order") when the order does
    not exist, StorageError when the checkpoint, a catalogue or a key the bundle needs is
    not stored.
    """
    log_key = ledger.keyring.log_key()
    sequencer_for(ledger).integrate_all()
    with ledger.recorder.unit_of_work(read_only=True) as uow:
        # The checkpoint is read BEFORE the chain: every record under it committed before
        # it, so the chain read afterwards holds all of them (read in the other order, a
        # record appended and integrated in between would be in the tree but not in the
        # bundle, which no verifier could notice).
        checkpoint = uow.latest_checkpoint()
        if uow.get_head(tenant, order) is None:
            raise UnknownOrder(f"no order {order!r} for tenant {tenant!r}", field="order")
        if checkpoint is None:
            raise StorageError("no checkpoint has been published")
        chain = uow.get_chain(tenant, order)
        keys = {row.key_id: row for row in uow.list_keys()}
        entries: list[dict[str, Any]] = []
        for record in chain:
            assert record.record_id is not None
            index = uow.leaf_of(record.record_id)
            if index is None or index >= checkpoint.size:
                # Appended after the checkpoint: the bundle holds the chain as of it (§6).
                break
            proof = merkle.inclusion_proof(index, checkpoint.size, uow)
            entries.append(_entry(record, index, proof))
        chain = chain[: len(entries)]
        models = []
        for digest in sorted({r.statement.model for r in chain}):
            document = uow.get_catalogue(digest)
            if document is None:
                raise StorageError(f"catalogue {digest} is not stored")
            models.append(document)
        key_ids = sorted({r.statement.key_id for r in chain})
        missing = [k for k in key_ids if k not in keys]
        if missing:
            raise StorageError(f"signing keys {missing} are not published")
    return {
        "format": BUNDLE_FORMAT,
        "log": ledger.settings.log_origin,
        "tenant": tenant,
        "order": order,
        "exported_at": format_time(ledger.clock.now()),
        "log_key": vkey(ledger.settings.log_origin, log_key.public_bytes),
        "keys": [published_key(keys[k]).to_json() for k in key_ids],
        "models": models,
        "checkpoint": checkpoint.note,
        "entries": entries,
    }


def _entry(record: StoredRecord, index: int, proof: list[bytes]) -> dict[str, Any]:
    """One bundle entry; payload and salt are both null once retention erased them."""
    return {
        "statement": record.statement.to_json(),
        "signature": record.signature,
        "payload": record.payload,
        "salt": None if record.salt is None else base64.b64encode(record.salt).decode("ascii"),
        "leaf_index": index,
        "inclusion_proof": [h.hex() for h in proof],
    }
