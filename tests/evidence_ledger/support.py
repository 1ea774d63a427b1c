"""Helpers for the evidence-layer tests: orders replayed from the reference lifecycles,
the log's rows, and the checks a third party would make on a proof."""

from __future__ import annotations

from collections.abc import Sequence

from ledger.checkpoint import Checkpoint
from ledger.sequencer import Sequencer
from ledger.service import Ledger
from ledger.store import StoredRecord
from ledger.verify import parse_vkey
from statemodel.scenarios import SCENARIOS, Scenario
from tests.ledger.support import requests_for

TENANT = "shop-1"


def load_order(ledger: Ledger, scenario: Scenario, order: str, *, tenant: str = TENANT,
               steps: int | None = None) -> list[StoredRecord]:
    """Append a reference lifecycle (its first `steps` steps) as one order's chain."""
    return [
        ledger.appender.append(request).record
        for request in requests_for(scenario, tenant=tenant, order=order, steps=steps)
    ]


def load_orders(ledger: Ledger, count: int, *, tenant: str = TENANT) -> list[str]:
    """`count` orders, cycling through the reference lifecycles; returns their ids."""
    orders = []
    for n in range(count):
        scenario = SCENARIOS[n % len(SCENARIOS)]
        order = f"order-{n}-{scenario.name}"
        load_order(ledger, scenario, order, tenant=tenant)
        orders.append(order)
    return orders


def sequencer(ledger: Ledger, batch_size: int = 5000) -> Sequencer:
    return Sequencer(ledger.recorder, log_key=ledger.keyring.log_key(),
                     origin=ledger.settings.log_origin, clock=ledger.clock,
                     batch_size=batch_size)


def verified_checkpoint(ledger: Ledger, note: str) -> Checkpoint:
    """The checkpoint in `note`, checked under the ledger's published log key."""
    return Checkpoint.verify(note, parse_vkey(ledger.keyring.log_vkey()))


def leaf_indexes(ledger: Ledger, records: Sequence[StoredRecord]) -> list[int | None]:
    with ledger.recorder.unit_of_work(read_only=True) as uow:
        return [uow.leaf_of(r.record_id) if r.record_id is not None else None for r in records]
