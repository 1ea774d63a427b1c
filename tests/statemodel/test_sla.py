"""SLA deadline rules: parsing, evaluation, arming and the self-loop reset semantics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from statemodel.catalogue import load_catalogue
from statemodel.sla import (
    DeadlineRule,
    TimerSpec,
    arm_timers,
    parse_duration,
    plan_timers,
)

CST = timezone(timedelta(hours=8))
EVENT_TIME = datetime(2026, 3, 3, 2, 10, tzinfo=CST)

GOOD_RULES = [
    ("event time", "event_time", None, timedelta(0)),
    ("payload field", "payload.hold_until", "hold_until", timedelta(0)),
    ("plus hours", "payload.expected_recovery_at + 2h", "expected_recovery_at", timedelta(hours=2)),
    ("no spaces", "event_time+48h", None, timedelta(hours=48)),
    ("days", "payload.signed_at + 7d", "signed_at", timedelta(days=7)),
    ("several terms", "event_time + 1d - 30m", None, timedelta(hours=23, minutes=30)),
    ("minus", "payload.ship_by_at - 2h", "ship_by_at", timedelta(hours=-2)),
    ("extra whitespace", "  event_time   +   30m  ", None, timedelta(minutes=30)),
]


@pytest.mark.parametrize(("text", "field", "offset"), [g[1:] for g in GOOD_RULES],
                         ids=[g[0] for g in GOOD_RULES])
def test_good_rule(text: str, field: str | None, offset: timedelta) -> None:
    rule = DeadlineRule.parse(text)
    assert (rule.payload_field, rule.offset) == (field, offset)


BAD_RULES = [
    ("empty", "", "empty deadline rule"),
    ("blank", "   ", "empty deadline rule"),
    ("unknown anchor", "now + 2h", "unknown anchor 'now'"),
    ("payload without field", "payload.", "bad payload field ''"),
    ("nested field", "payload.window.end_at", "bad payload field 'window.end_at'"),
    ("upper-case field", "payload.HoldUntil", "bad payload field 'HoldUntil'"),
    ("no unit", "event_time + 2", "bad duration '2': expected a number and a unit"),
    ("unknown unit", "event_time + 2w", "unknown unit 'w'"),
    ("word unit", "event_time + 2 hours", "bad duration '2'"),
    ("zero", "event_time + 0h", "must be greater than zero"),
    ("missing operator", "event_time 2h", "expected '+' or '-' and a duration at position 10"),
    ("double operator", "event_time + + 2h", "bad duration ''"),
    ("compound duration", "event_time + 2h30m", "bad duration '2h30m'"),
    ("too long", "event_time + 99999d", "longer than 36500 days"),
    ("anchor starts with sign", "+2h", "must start with an anchor"),
]


@pytest.mark.parametrize(("text", "message"), [b[1:] for b in BAD_RULES],
                         ids=[b[0] for b in BAD_RULES])
def test_bad_rule(text: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        DeadlineRule.parse(text)
    assert message in str(caught.value)


def test_parse_duration() -> None:
    assert parse_duration("30m") == timedelta(minutes=30)
    assert parse_duration("48h") == timedelta(hours=48)
    assert parse_duration("7d") == timedelta(hours=168)
    with pytest.raises(ValueError, match="unknown unit 's'"):
        parse_duration("10s")


EVALUATIONS: list[tuple[str, str, dict[str, Any], datetime | None]] = [
    ("event time in UTC", "event_time + 48h", {},
     datetime(2026, 3, 4, 18, 10, tzinfo=UTC)),
    ("facility fault grace", "payload.expected_recovery_at + 2h",
     {"expected_recovery_at": "2026-03-03T09:00:00+08:00"},
     datetime(2026, 3, 3, 3, 0, tzinfo=UTC)),
    ("cooling-off is 7x24h", "payload.signed_at + 7d",
     {"signed_at": "2026-03-04T10:32:00+08:00"}, datetime(2026, 3, 11, 2, 32, tzinfo=UTC)),
    ("Z offset and fraction", "payload.t - 30m", {"t": "2026-03-04T10:32:00.123456789Z"},
     datetime(2026, 3, 4, 10, 2, 0, 123456, tzinfo=UTC)),
    ("absent optional anchor", "payload.edd_at", {}, None),
    ("null anchor", "payload.edd_at", {"edd_at": None}, None),
]


@pytest.mark.parametrize(("text", "payload", "expected"), [e[1:] for e in EVALUATIONS],
                         ids=[e[0] for e in EVALUATIONS])
def test_deadline(text: str, payload: dict[str, Any], expected: datetime | None) -> None:
    result = DeadlineRule.parse(text).deadline(EVENT_TIME, payload)
    assert result == expected
    if result is not None:
        assert result.tzinfo is UTC


BAD_EVALUATIONS: list[tuple[str, str, dict[str, Any], datetime, str]] = [
    ("no offset", "payload.t", {"t": "2026-03-04T10:32:00"}, EVENT_TIME,
     "payload.t: '2026-03-04T10:32:00' is not an RFC 3339 date-time with an offset"),
    ("not a time", "payload.t", {"t": "soon"}, EVENT_TIME, "is not an RFC 3339"),
    ("invalid day", "payload.t", {"t": "2026-02-30T10:00:00Z"}, EVENT_TIME, "not a valid"),
    ("number", "payload.t", {"t": 1700000000}, EVENT_TIME, "must be an RFC 3339 string"),
    ("naive event time", "event_time", {}, datetime(2026, 3, 3, 2, 10), "timezone-aware"),
]


@pytest.mark.parametrize(("text", "payload", "event_time", "message"),
                         [b[1:] for b in BAD_EVALUATIONS], ids=[b[0] for b in BAD_EVALUATIONS])
def test_deadline_refuses(text: str, payload: dict[str, Any], event_time: datetime,
                          message: str) -> None:
    with pytest.raises(ValueError) as caught:
        DeadlineRule.parse(text).deadline(event_time, payload)
    assert message in str(caught.value)


def test_arm_timers_of_a_sub_state() -> None:
    timers = load_catalogue().sub_states["M06.02"].timers
    armed = arm_timers(timers, EVENT_TIME, {"submission_deadline_at": "2026-03-05T17:00:00+08:00"})
    assert [a.name for a in armed] == ["customs_documents"]
    deadline = datetime(2026, 3, 5, 9, 0, tzinfo=UTC)
    assert armed[0].deadline == deadline
    assert armed[0].warn_at == (deadline - timedelta(hours=24), deadline - timedelta(hours=2))


def test_arm_timers_skips_absent_optional_anchors() -> None:
    timers = load_catalogue().sub_states["M05.02"].timers  # no_scan, carrier_edd (optional)
    armed = arm_timers(timers, EVENT_TIME, {"scanned_at": "2026-03-03T02:05:00+08:00"})
    assert [a.name for a in armed] == ["no_scan"]


def _spec(name: str, rule: str, disarm_on: tuple[str, ...] = ()) -> TimerSpec:
    return TimerSpec(name=name, rule=DeadlineRule.parse(rule), description_zh="计时",
                     description_en="timer", disarm_on=disarm_on)


def test_plan_for_leaving_a_state() -> None:
    plan = plan_timers(from_state="M05.01", from_timers=[_spec("no_scan", "event_time + 48h")],
                       to_state="M05.02", to_timers=[_spec("hub", "event_time + 1h")],
                       event="hub_scan", event_time=EVENT_TIME, payload={})
    assert plan.disarm == ("no_scan",)
    assert [(a.name, a.deadline) for a in plan.arm] == [
        ("hub", datetime(2026, 3, 2, 19, 10, tzinfo=UTC))]


def test_plan_for_creation_disarms_nothing() -> None:
    plan = plan_timers(from_state=None, from_timers=[], to_state="M01.01",
                       to_timers=[_spec("pay", "event_time + 30m")], event="order_placed",
                       event_time=EVENT_TIME, payload={})
    assert plan.disarm == ()
    assert [a.name for a in plan.arm] == ["pay"]


def test_self_loop_resets_only_timers_that_ask_for_it() -> None:
    timers = [_spec("no_scan", "event_time + 48h", disarm_on=("hub_scan",)),
              _spec("edd", "event_time + 72h")]
    plan = plan_timers(from_state="M05.02", from_timers=timers, to_state="M05.02",
                       to_timers=timers, event="hub_scan", event_time=EVENT_TIME, payload={})
    assert plan.disarm == ("no_scan",)
    assert [a.name for a in plan.arm] == ["no_scan"]
    untouched = plan_timers(from_state="M05.02", from_timers=timers, to_state="M05.02",
                            to_timers=timers, event="order_voided", event_time=EVENT_TIME,
                            payload={})
    assert untouched.disarm == ()
    assert untouched.arm == ()
