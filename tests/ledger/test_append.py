"""The append service on both backends: lifecycles, refusals that change nothing,
idempotent replays, optimistic preconditions and batches."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import pytest

from ledger.append import Appended, EventRequest
from ledger.audit import audit_ledger
from ledger.errors import (
    ConcurrencyConflict,
    IdempotencyConflict,
    IllegalTransition,
    InvalidInput,
    OrderExists,
    PayloadInvalid,
    UnknownEvent,
    UnknownOrder,
)
from ledger.service import Ledger
from ledger.statement import GENESIS_PREV
from statemodel.scenarios import SCENARIOS, Scenario, scenario
from tests.ledger.support import NOW, open_test_ledger, requests_for, snapshot

HAPPY = scenario("domestic_happy_path")


@pytest.fixture
def ledger(database_url: str, tmp_path: Path) -> Iterator[Ledger]:
    opened = open_test_ledger(database_url, tmp_path / "data")
    yield opened
    opened.close()


@pytest.mark.parametrize("lifecycle", SCENARIOS, ids=lambda s: s.name)
def test_every_reference_lifecycle_chains_and_audits_clean(
    ledger: Ledger, lifecycle: Scenario
) -> None:
    records = [ledger.appender.append(r).record for r in requests_for(lifecycle)]

    assert [r.statement.to_state for r in records] == [s.expect for s in lifecycle.steps]
    assert [r.statement.seq for r in records] == list(range(len(records)))
    assert records[0].statement.prev == GENESIS_PREV
    for before, after in itertools.pairwise(records):
        assert after.statement.prev == before.statement_hash
        assert after.statement.from_state == before.statement.to_state
    assert all(r.record_id is not None for r in records)
    report = audit_ledger(ledger.recorder)
    assert report.ok, report.problems
    assert report.records == len(records)


def _steps(n: int) -> Callable[[Ledger], None]:
    def setup(ledger: Ledger) -> None:
        for request in requests_for(HAPPY, steps=n, keyed=True):
            ledger.appender.append(request)

    return setup


def _next(n: int, **changes: object) -> EventRequest:
    """Step n of the happy path (0-based) with some fields changed."""
    return replace(requests_for(HAPPY, steps=n + 1)[n], **changes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Refusal:
    name: str
    setup: Callable[[Ledger], None]
    request: EventRequest
    error: type[InvalidInput]
    field: str | None


payment_step = requests_for(HAPPY, steps=2)[1]
REFUSALS = [
    Refusal("illegal transition", _steps(2), _next(2, event="signed"), IllegalTransition, "event"),
    Refusal("unknown event", _steps(2), _next(2, event="teleported"), UnknownEvent, "event"),
    Refusal(
        "missing actionable field",
        _steps(2),
        _next(
            2, payload={k: v for k, v in _next(2).payload.items() if k != "expected_decision_at"}
        ),
        PayloadInvalid,
        "payload.expected_decision_at",
    ),
    Refusal(
        "wrong payload type",
        _steps(2),
        _next(2, payload={**_next(2).payload, "checks_pending": "address"}),
        PayloadInvalid,
        "payload.checks_pending",
    ),
    Refusal(
        "unknown payload field",
        _steps(2),
        _next(2, payload={**_next(2).payload, "buyer_phone": "13800138000"}),
        PayloadInvalid,
        "payload.buyer_phone",
    ),
    Refusal("unknown order", _steps(0), _next(1), UnknownOrder, "order"),
    Refusal("order exists", _steps(2), _next(0), OrderExists, "order"),
    Refusal(
        "stale expected_seq",
        _steps(2),
        _next(2, expected_seq=0),
        ConcurrencyConflict,
        "expected_seq",
    ),
    Refusal(
        "idempotency key reused with another body",
        _steps(2),
        _next(2, idempotency_key="order-1:1"),
        IdempotencyConflict,
        "Idempotency-Key",
    ),
    Refusal(
        "event time in the future",
        _steps(2),
        _next(2, event_time=(NOW + timedelta(hours=1)).isoformat()),
        InvalidInput,
        "event_time",
    ),
    Refusal(
        "event time without offset",
        _steps(2),
        _next(2, event_time="2026-03-02T09:06:00"),
        InvalidInput,
        "event_time",
    ),
    Refusal("empty tenant", _steps(2), _next(2, tenant=""), InvalidInput, "tenant"),
    Refusal(
        "creation with a non-creation event",
        _steps(0),
        replace(payment_step, create=True, order="order-2"),
        IllegalTransition,
        "event",
    ),
]


@pytest.mark.parametrize("case", REFUSALS, ids=lambda c: c.name)
def test_a_refused_append_changes_nothing(ledger: Ledger, database_url: str, case: Refusal) -> None:
    case.setup(ledger)
    before = snapshot(database_url)

    with pytest.raises(case.error) as raised:
        ledger.appender.append(case.request)

    assert raised.value.field == case.field
    assert snapshot(database_url) == before


def test_idempotent_replay_returns_the_original_record_and_changes_nothing(
    ledger: Ledger, database_url: str
) -> None:
    first, second = requests_for(HAPPY, steps=2, keyed=True)
    ledger.appender.append(first)
    original = ledger.appender.append(second)
    before = snapshot(database_url)

    replayed = ledger.appender.append(second)

    assert replayed.replayed
    assert not original.replayed
    assert replayed.record == original.record
    assert snapshot(database_url) == before


def test_expected_seq_that_matches_the_head_is_accepted(ledger: Ledger) -> None:
    _steps(2)(ledger)
    record = ledger.appender.append(_next(2, expected_seq=1)).record
    assert record.statement.seq == 2


def test_batch_commits_good_items_and_answers_bad_ones(ledger: Ledger, database_url: str) -> None:
    good = requests_for(HAPPY, steps=4, order="order-b")
    bad_event = replace(good[2], event="signed")
    items = [good[0], good[1], bad_event, good[2], good[3], _next(1, order="no-such-order")]

    results = ledger.appender.append_many(items)

    assert [type(r).__name__ for r in results] == [
        "Appended",
        "Appended",
        "IllegalTransition",
        "Appended",
        "Appended",
        "UnknownOrder",
    ]
    chain = _chain(ledger, "order-b")
    assert [r.statement.seq for r in chain] == [0, 1, 2, 3]
    assert [r.record_id for r in chain] == [
        r.record.record_id for r in results if isinstance(r, Appended)
    ]
    assert audit_ledger(ledger.recorder).ok


def test_idempotency_key_twice_in_one_batch(ledger: Ledger) -> None:
    first, second = requests_for(HAPPY, steps=2, keyed=True)
    other_body = replace(second, event_time="2026-03-02T09:07:00+08:00")

    results = ledger.appender.append_many([first, second, second, other_body])

    assert isinstance(results[1], Appended)
    assert isinstance(results[2], Appended)
    assert results[2].replayed
    assert results[2].record == results[1].record
    assert isinstance(results[3], IdempotencyConflict)
    assert len(_chain(ledger, "order-1")) == 2


def _chain(ledger: Ledger, order: str) -> list:  # type: ignore[type-arg]
    with ledger.recorder.unit_of_work() as uow:
        return uow.get_chain("shop-1", order)
