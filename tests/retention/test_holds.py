"""Legal holds: chained records in the orders concerned, and nothing held is ever erased."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ledger.audit import audit_ledger
from ledger.errors import InvalidInput, UnknownOrder
from ledger.retention.runner import RunHooks
from tests.ledger.support import snapshot
from tests.retention.support import HAPPY, TENANT, Harness

FAR_FUTURE = datetime(2031, 1, 1, tzinfo=UTC)
LATER = datetime(2031, 2, 1, tzinfo=UTC)
ALL = list(range(len(HAPPY.steps)))


def test_an_order_hold_keeps_that_order_until_it_is_released(harness: Harness) -> None:
    harness.feed_orders(held="happy", free="happy")
    harness.clock.set(FAR_FUTURE)
    placed = harness.holds.place(tenant=TENANT, order="held", reason="case 2031-17",
                                 actor="legal@example.com")

    [outcome] = harness.run_at(FAR_FUTURE)

    assert harness.erased("held") == []
    assert harness.erased("free") == ALL
    assert outcome.report is not None
    assert outcome.report["holds"] == {"orders_held": 1, "records_held": len(ALL),
                                       "hold_ids": [str(placed.hold.id)]}
    [hold_record] = [r for r in harness.chain("held") if r.statement.kind.value == "legal_hold"]
    assert hold_record.payload == {"hold_id": placed.hold.id, "scope": "order",
                                   "reason": "case 2031-17", "placed_by": "legal@example.com"}
    assert hold_record.statement.actor.id == "legal@example.com"

    harness.clock.set(LATER)
    released = harness.holds.release(tenant=TENANT, order="held", reason="case closed",
                                     actor="legal@example.com")
    assert released.hold.released_at is not None
    harness.run_at(LATER)

    assert harness.erased("held") == ALL
    assert harness.kinds("held")[-3:] == ["legal_hold", "legal_hold_release", "retention_purge"]
    assert audit_ledger(harness.ledger.recorder).ok


def test_a_tenant_hold_keeps_every_order_of_the_tenant_only(harness: Harness) -> None:
    harness.feed_orders(a="happy", b="happy")
    harness.feed_orders(tenant="shop-2", c="happy")
    harness.clock.set(FAR_FUTURE)
    placed = harness.holds.place(tenant=TENANT, reason="regulator inquiry 88", actor="dpo")
    assert [r.record.statement.order for r in placed.records] == ["a", "b"]

    harness.run_at(FAR_FUTURE)

    assert (harness.erased("a"), harness.erased("b")) == ([], [])
    assert harness.erased("c", tenant="shop-2") == ALL

    harness.clock.set(LATER)
    released = harness.holds.release(tenant=TENANT, reason="inquiry closed", actor="dpo")
    assert len(released.records) == 2
    harness.run_at(LATER)

    assert (harness.erased("a"), harness.erased("b")) == (ALL, ALL)
    assert harness.kinds("a").count("legal_hold") == harness.kinds("a").count(
        "legal_hold_release") == 1
    assert audit_ledger(harness.ledger.recorder).ok


def test_a_hold_placed_while_a_run_goes_on_is_respected(harness: Harness) -> None:
    harness.feed_orders(a="happy", b="happy")

    def hold_b(run_id: int) -> None:
        harness.holds.place(tenant=TENANT, order="b", reason="late subpoena", actor="legal")

    [outcome] = harness.run_at(FAR_FUTURE, hooks=RunHooks(after_archive=hold_b))

    assert harness.erased("a") == ALL
    assert harness.erased("b") == []
    assert outcome.report is not None
    assert outcome.report["skipped"] == {"records": len(ALL), "orders": [f"{TENANT}/b"]}
    assert audit_ledger(harness.ledger.recorder).ok


def test_holds_refuse_bad_requests_and_change_nothing(harness: Harness) -> None:
    harness.feed_orders(o="happy")
    before = snapshot(harness.url)

    with pytest.raises(UnknownOrder):
        harness.holds.place(tenant=TENANT, order="nope", reason="r", actor="a")
    with pytest.raises(InvalidInput) as no_reason:
        harness.holds.place(tenant=TENANT, order="o", reason=" ", actor="a")
    with pytest.raises(InvalidInput) as nothing_to_release:
        harness.holds.release(tenant=TENANT, order="o", reason="r", actor="a")

    assert no_reason.value.field == "reason"
    assert nothing_to_release.value.field == "hold"
    assert snapshot(harness.url) == before
    assert harness.holds.list_holds(active_only=False) == []


def test_two_holds_on_one_order_are_released_one_by_one(harness: Harness) -> None:
    harness.feed_orders(o="happy")
    first = harness.holds.place(tenant=TENANT, order="o", reason="case 1", actor="a")
    harness.holds.place(tenant=TENANT, order="o", reason="case 2", actor="a")

    with pytest.raises(InvalidInput, match="several legal holds"):
        harness.holds.release(tenant=TENANT, order="o", reason="done", actor="a")
    harness.holds.release(tenant=TENANT, order="o", reason="done", actor="a",
                          hold_id=first.hold.id)
    harness.run_at(FAR_FUTURE)

    assert [h.reason for h in harness.holds.list_holds()] == ["case 2"]
    assert harness.erased("o") == []  # the second hold still keeps it
    assert audit_ledger(harness.ledger.recorder).ok
