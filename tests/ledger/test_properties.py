"""Properties of the ledger core, on both backends (STYLE.md §8, DESIGN invariants 2 and 4).

1. Any valid history — several orders, each a random scenario cut at a random step,
   interleaved in a random order, appended singly or in random batches — gives chains
   that hold exactly what was appended and audit clean.
2. Any single-byte change to any stored column of any record, or to its payload or salt,
   is found by audit, which names the order (and the record, where it can be read).

Hypothesis runs many examples in one call of a test function, and a fresh database per
example costs more than the example: so the examples of a test share one ledger, each
under tenants of its own, and judge only what audit says about their own orders.
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st
from sqlalchemy import exc as sa_exc
from sqlalchemy import text

from ledger.append import EventRequest
from ledger.audit import AuditReport, audit_ledger
from ledger.service import Ledger
from statemodel.scenarios import SCENARIOS, Scenario
from tests.ledger.support import open_test_ledger, raw_connection, requests_for

PROPERTY_SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# --- histories --------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderPlan:
    tenant: str
    order: str
    lifecycle: Scenario
    steps: int

    def requests(self) -> list[EventRequest]:
        return requests_for(self.lifecycle, tenant=self.tenant, order=self.order, steps=self.steps)


@st.composite
def order_plans(draw: st.DrawFn, max_orders: int = 4) -> list[OrderPlan]:
    count = draw(st.integers(1, max_orders))
    plans = []
    for i in range(count):
        lifecycle = draw(st.sampled_from(SCENARIOS))
        plans.append(
            OrderPlan(
                tenant=draw(st.sampled_from(["shop-1", "shop-2"])),
                order=f"order-{i}",  # the same id under two tenants is two orders
                lifecycle=lifecycle,
                steps=draw(st.integers(1, len(lifecycle.steps))),
            )
        )
    return plans


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[OrderPlan], list[list[EventRequest]]]:
    """Orders and the calls that append them: each order's steps in its own order,
    orders interleaved at random, cut into calls of 1 to 5 requests."""
    plans = draw(order_plans())
    schedule = draw(st.permutations([i for i, p in enumerate(plans) for _ in range(p.steps)]))
    pending = [iter(p.requests()) for p in plans]
    interleaved = [next(pending[i]) for i in schedule]
    calls: list[list[EventRequest]] = []
    while interleaved:
        size = draw(st.integers(1, min(5, len(interleaved))))
        calls.append(interleaved[:size])
        interleaved = interleaved[size:]
    return plans, calls


def described(report: AuditReport) -> str:
    return "\n".join(str(p) for p in report.problems) or "(no problems)"


#: Numbers the examples that share a ledger, to give each its own tenants.
_runs = itertools.count()


@pytest.fixture
def shared_ledger(database_url: str, tmp_path: Path) -> Iterator[Ledger]:
    """One ledger for every example of a test (each example gives its orders tenants of
    their own)."""
    ledger = open_test_ledger(database_url, tmp_path / "data")
    yield ledger
    ledger.close()


@PROPERTY_SETTINGS
@given(history=histories())
def test_any_valid_history_chains_and_audits_clean(
    shared_ledger: Ledger, history: tuple[list[OrderPlan], list[list[EventRequest]]]
) -> None:
    ledger = shared_ledger
    run = next(_runs)
    plans, calls = history
    plans = [replace(p, tenant=f"{p.tenant}-{run}") for p in plans]
    calls = [[replace(r, tenant=f"{r.tenant}-{run}") for r in call] for call in calls]
    for call in calls:
        if len(call) == 1:
            ledger.appender.append(call[0])
        else:
            results = ledger.appender.append_many(call)
            assert not [r for r in results if isinstance(r, Exception)], results

    report = audit_ledger(ledger.recorder)
    assert report.ok, described(report)
    with ledger.recorder.unit_of_work() as uow:
        for plan in plans:
            chain = uow.get_chain(plan.tenant, plan.order)
            expected = [s.expect for s in plan.lifecycle.steps[: plan.steps]]
            assert [r.statement.to_state for r in chain] == expected
            assert [r.statement.seq for r in chain] == list(range(plan.steps))


# --- single-byte changes ------------------------------------------------------------------

#: Every column of `records` that holds evidence (not the row id), and the payload row's.
RECORD_COLUMNS = (
    "v",
    "log",
    "kind",
    "tenant",
    "order_id",
    "seq",
    "prev",
    "from_state",
    "to_state",
    "event",
    "event_time",
    "recorded_at",
    "actor_type",
    "actor_id",
    "payload_digest",
    "model",
    "rules",
    "key_id",
    "statement_hash",
    "signature",
)
PAYLOAD_COLUMNS = ("payload", "salt")
#: Integer columns and the width they are stored in (records.v INTEGER, seq BIGINT).
INTEGER_FORMATS = {"v": ">i", "seq": ">q"}


def changed_byte(draw: st.DrawFn, original: int) -> int:
    """Another byte of the same UTF-8 role, so text stays text: ASCII for ASCII
    (printable, as PostgreSQL refuses NUL), a continuation byte for a continuation byte,
    a lead byte of the same length for a lead byte."""
    if original < 0x80:
        choices = range(0x20, 0x7F)
    elif original < 0xC0:
        choices = range(0x80, 0xC0)
    elif original < 0xE0:
        choices = range(0xC2, 0xE0)
    elif original < 0xF0:
        choices = range(0xE1, 0xED)  # E0 and ED restrict their next byte
    else:
        choices = range(0xF1, 0xF4)
    return draw(st.sampled_from([b for b in choices if b != original]))


def one_byte_changed(draw: st.DrawFn, column: str, value: Any) -> Any:
    """`value` with one byte of its stored form replaced, still storable in `column`."""
    if isinstance(value, int):
        raw = bytearray(struct.pack(INTEGER_FORMATS[column], value))
        position = draw(st.integers(0, len(raw) - 1))
        raw[position] = draw(st.integers(0, 255).filter(lambda b: b != raw[position]))
        return struct.unpack(INTEGER_FORMATS[column], bytes(raw))[0]
    if isinstance(value, bytes | memoryview):
        raw = bytearray(bytes(value))
        position = draw(st.integers(0, len(raw) - 1))
        raw[position] = draw(st.integers(0, 255).filter(lambda b: b != raw[position]))
        return bytes(raw)
    assert isinstance(value, str), (column, value)
    raw = bytearray(value.encode("utf-8"))
    position = draw(st.integers(0, len(raw) - 1))
    raw[position] = changed_byte(draw, raw[position])
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:  # a lead byte whose code point range its tail left
        reject()


@dataclass(frozen=True)
class ByteChange:
    plan: OrderPlan
    seq: int
    column: str
    #: Draws the new value from the stored one.
    change: Callable[[Any], Any]


@st.composite
def byte_changes(draw: st.DrawFn) -> tuple[list[OrderPlan], ByteChange]:
    plans = draw(order_plans(max_orders=2))
    plan = draw(st.sampled_from(plans))
    column = draw(st.sampled_from(RECORD_COLUMNS + PAYLOAD_COLUMNS))
    if column == "from_state" and plan.steps == 1:
        reject()  # seq 0's from is NULL: no byte to change
    seq = draw(st.integers(1 if column == "from_state" else 0, plan.steps - 1))
    return plans, ByteChange(plan, seq, column, lambda value: one_byte_changed(draw, column, value))


def apply(url: str, change: ByteChange) -> None:
    """Read the column's stored value, change one byte, write it back around the
    triggers. Rejects the example when the database would not store the new value."""
    where = {"t": change.plan.tenant, "o": change.plan.order, "s": change.seq}
    record_id = "SELECT id FROM records WHERE tenant = :t AND order_id = :o AND seq = :s"
    if change.column in PAYLOAD_COLUMNS:
        read = f"SELECT {change.column} FROM payloads WHERE record_id = ({record_id})"
        write = f"UPDATE payloads SET {change.column} = :new WHERE record_id = ({record_id})"
    else:
        read = f"SELECT {change.column} FROM records WHERE id = ({record_id})"
        write = f"UPDATE records SET {change.column} = :new WHERE id = ({record_id})"
    with raw_connection(url) as conn:
        value = conn.execute(text(read), where).scalar_one()
    try:
        tamper_keeping_triggers(url, write, new=change.change(value), **where)
    except sa_exc.IntegrityError:  # e.g. a seq or an order that another record holds
        reject()


def tamper_keeping_triggers(url: str, sql: str, **params: Any) -> None:
    """Run SQL around the immutability triggers, as a DBA could, and leave them in place
    for the appends of later examples (in SQLite: drop, change, re-create, one
    transaction; in PostgreSQL the replica role lasts the transaction only)."""
    with raw_connection(url) as conn:
        if conn.dialect.name != "sqlite":
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            conn.execute(text(sql), params)
            return
        triggers = conn.execute(
            text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
        ).all()
        for name, _ in triggers:
            conn.exec_driver_sql(f'DROP TRIGGER "{name}"')
        conn.execute(text(sql), params)
        for _, ddl in triggers:
            conn.exec_driver_sql(ddl)


@PROPERTY_SETTINGS
@given(case=byte_changes())
def test_any_single_byte_change_to_a_record_is_found(
    shared_ledger: Ledger, case: tuple[list[OrderPlan], ByteChange]
) -> None:
    ledger = shared_ledger
    run = next(_runs)
    plans, change = case
    # Earlier examples' changes stay in the shared ledger, under tenants of their own:
    # what this example checks is what audit says about its own order.
    plans = [replace(p, tenant=f"{p.tenant}-{run}") for p in plans]
    change = replace(change, plan=replace(change.plan, tenant=f"{change.plan.tenant}-{run}"))
    for plan in plans:
        ledger.appender.append_many(plan.requests())
    apply(ledger.settings.database_url, change)

    report = audit_ledger(ledger.recorder)

    where = (change.plan.tenant, change.plan.order)
    here = [p for p in report.problems if (p.tenant, p.order) == where]
    assert here, f"{change.column} of {where} seq {change.seq}:\n{described(report)}"
    # The record itself is named, unless its order could not be read at all or lost
    # its only record.
    assert any(p.seq == change.seq or p.check in ("unreadable", "chain") for p in here), (
        f"{change.column} of {where} seq {change.seq}:\n{described(report)}"
    )
