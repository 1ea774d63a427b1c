"""When the policy lets a payload go, and when audit must call an erasure tampering:
pure tests on hand-made chains (no database, no signatures: only the judging)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import pytest

from ledger.retention.policy import ErasureJudge, eligibility, transaction_closed_at
from ledger.statement import GENESIS_PREV, Actor, ActorType, Kind, Statement
from ledger.store import StoredRecord
from ledger.timefmt import format_time, parse_time
from regulations.errors import UnknownPack
from regulations.registry import all_packs
from regulations.retention import RecordClass

PACK = str(all_packs()[0])
#: (kind, to-state, recorded_at, payload) per seq; `from` follows from the previous row.
Row = tuple[Kind, str, str, dict[str, Any] | None]


def chain(rows: Sequence[Row], *, rules: str = PACK) -> list[StoredRecord]:
    records: list[StoredRecord] = []
    previous: str | None = None
    for seq, (kind, to_state, at, payload) in enumerate(rows):
        statement = Statement(
            log="test/log", kind=kind, tenant="t", order="o", seq=seq, prev=GENESIS_PREV,
            from_state=previous, to_state=to_state, event=kind.value, event_time=at,
            recorded_at=at, actor=Actor(ActorType.SYSTEM, "test"), payload_digest="0" * 64,
            model="sha256:" + "0" * 64, rules=rules, key_id="0" * 16,
        )
        records.append(StoredRecord(statement, "0" * 64, "", seq + 1, payload,
                                    None if payload is None else b"s" * 16))
        previous = to_state
    return records


T = Kind.TRANSITION
PLACED: Row = (T, "M01.01", "2026-03-02T01:00:00.000Z", None)
PICKED: Row = (T, "M03.01", "2026-03-02T02:00:00.000Z", None)  # an operation record
SIGNED: Row = (T, "M08.01", "2026-03-04T02:00:00.000Z", {})
COMPLETED: Row = (T, "M12.02", "2026-03-11T02:33:00.000Z", {})
ARCHIVED: Row = (T, "M12.03", "2026-04-10T02:00:00.000Z", {})
REOPENED: Row = (T, "M11.01", "2026-06-01T00:00:00.000Z", {})
COMPLETED_AGAIN: Row = (T, "M12.02", "2026-07-01T00:00:00.000Z", {})


@dataclass(frozen=True)
class ClosedCase:
    name: str
    rows: tuple[Row, ...]
    closed_at: str | None


CLOSED_CASES = [
    ClosedCase("open order", (PLACED, PICKED, SIGNED), None),
    ClosedCase("completed", (PLACED, SIGNED, COMPLETED), COMPLETED[2]),
    ClosedCase("archived after completion: counted from completion",
               (PLACED, SIGNED, COMPLETED, ARCHIVED), COMPLETED[2]),
    ClosedCase("reopened by after-sales", (PLACED, SIGNED, COMPLETED, REOPENED), None),
    ClosedCase("completed again after after-sales",
               (PLACED, SIGNED, COMPLETED, REOPENED, COMPLETED_AGAIN), COMPLETED_AGAIN[2]),
    ClosedCase("a purge record does not reopen",
               (PLACED, COMPLETED, (Kind.RETENTION_PURGE, "M12.02", "2030-01-01T00:00:00.000Z",
                                    {})), COMPLETED[2]),
]


@pytest.mark.parametrize("case", CLOSED_CASES, ids=lambda c: c.name)
def test_transaction_closes_when_the_order_last_entered_its_closed_states(
    case: ClosedCase,
) -> None:
    closed = transaction_closed_at(r.statement for r in chain(case.rows))

    assert closed == (None if case.closed_at is None else parse_time(case.closed_at))


@pytest.mark.parametrize(
    ("event_time", "counted_from"),
    [
        pytest.param("2026-03-01T00:00:00.000Z", COMPLETED[2], id="reported late: recorded_at"),
        pytest.param("2026-03-11T02:36:00.000Z", "2026-03-11T02:36:00.000Z",
                     id="event time ahead of the clock: event_time"),
    ],
)
def test_the_closure_counts_from_the_later_of_event_time_and_recorded_at(
    event_time: str, counted_from: str
) -> None:
    placed, completed = (r.statement for r in chain((PLACED, COMPLETED)))

    closed = transaction_closed_at([placed, replace(completed, event_time=event_time)])

    assert closed == parse_time(counted_from)


def test_records_are_judged_by_the_pack_named_in_them() -> None:
    operation = chain((PLACED, PICKED))[1].statement
    judged = eligibility(operation, None)

    assert judged.record_class is RecordClass.OPERATION
    assert judged.erasable_from == datetime(2027, 9, 2, 2, 0, tzinfo=UTC)
    unknown = chain((PLACED, PICKED), rules="no-such-pack@9")[1].statement
    with pytest.raises(UnknownPack):
        eligibility(unknown, None)


def purge(at: str, seqs: list[int]) -> Row:
    return (Kind.RETENTION_PURGE, "M12.02", at, {"erased_seqs": seqs})


def hold(at: str, hold_id: int, *, release: bool = False) -> Row:
    kind = Kind.LEGAL_HOLD_RELEASE if release else Kind.LEGAL_HOLD
    return (kind, "M12.02", at, {"hold_id": hold_id})


#: Transaction records of an order completed 2026-03-11T02:33Z may go from 2029-03-11T02:33Z.
AFTER = "2029-03-11T02:33:00.000Z"
BEFORE = "2029-03-11T02:32:59.000Z"
ERASED_PLACED: Row = (T, "M01.01", PLACED[2], None)


@dataclass(frozen=True)
class JudgeCase:
    name: str
    rows: tuple[Row, ...]
    problem: str | None  # a phrase of the problem reported; None: lawful
    seq: int = 0  # the erased record judged


JUDGE_CASES = [
    JudgeCase("named by a purge after its minimum",
              (ERASED_PLACED, COMPLETED, purge(AFTER, [0])), None),
    JudgeCase("no purge record at all", (ERASED_PLACED, COMPLETED), "without a retention_purge"),
    JudgeCase("a purge record that names other seqs",
              (ERASED_PLACED, COMPLETED, purge(AFTER, [1])), "without a retention_purge"),
    JudgeCase("a purge record before it (names it in advance)",
              (PLACED, purge(AFTER, [2]), (T, "M12.02", COMPLETED[2], None)),
              "without a retention_purge", seq=2),
    JudgeCase("named one second inside the minimum",
              (ERASED_PLACED, COMPLETED, purge(BEFORE, [0])), "inside its retention"),
    JudgeCase("named while the order was open", (ERASED_PLACED, PICKED, purge(AFTER, [0])),
              "until the transaction closes"),
    JudgeCase("named while a legal hold was in force",
              (ERASED_PLACED, COMPLETED, hold(AFTER, 7), purge(AFTER, [0])), "legal hold"),
    JudgeCase("named after the hold was released",
              (ERASED_PLACED, COMPLETED, hold(AFTER, 7), hold(AFTER, 7, release=True),
               purge(AFTER, [0])), None),
]


@pytest.mark.parametrize("case", JUDGE_CASES, ids=lambda c: c.name)
def test_an_erasure_is_lawful_only_with_a_later_purge_record_past_the_minimum(
    case: JudgeCase,
) -> None:
    records = chain(case.rows)

    problem = ErasureJudge(records).problem(records[case.seq])

    if case.problem is None:
        assert problem is None
    else:
        assert problem is not None
        assert case.problem in problem


def test_the_payload_of_a_purge_or_hold_record_is_never_lawfully_erased() -> None:
    records = chain((PLACED, COMPLETED, (Kind.LEGAL_HOLD, "M12.02", AFTER, None),
                     purge(format_time(datetime(2031, 1, 1, tzinfo=UTC)), [2])))

    problem = ErasureJudge(records).problem(records[2])

    assert problem is not None
    assert "never erased" in problem
