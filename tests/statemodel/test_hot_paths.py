"""The append path's shortcuts in `statemodel` answer exactly as the long ways they skip.

Each shortcut is checked against a plain reference kept here: the machine's target table
against a `transitions` machine built afresh from the catalogue, `parse_rfc3339`'s strict
fast path and its memo against the general parser it had before, the SLA planner's
direct construction against the dataclass constructors, the payload gate's early exit
against a machine that never compiled a gate, and `canonical_json` against `rfc8785` on
named record-shaped values.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from types import MappingProxyType
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st
from transitions import Machine

from statemodel import sla
from statemodel.canonical import canonical_json
from statemodel.catalogue import load_catalogue
from statemodel.errors import IllegalTransition, PayloadInvalid, UnknownEvent, UnknownState
from statemodel.formats import parse_rfc3339
from statemodel.machine import OrderMachine
from statemodel.scenarios import SCENARIOS
from statemodel.sla import ArmedTimer, TimerPlan, TimerSpec, plan_timers

CAT = load_catalogue()

# --- the machine's target table ------------------------------------------------------


def _reference_machine() -> Machine:
    return Machine(
        model=None, states=list(CAT.sub_states),
        transitions=[{"trigger": e, "source": s, "dest": t} for e, s, t in CAT.edges()],
        initial=None, auto_transitions=False, ignore_invalid_triggers=False,
    )


def test_target_answers_as_transitions_for_every_state_and_event() -> None:
    machine, reference = OrderMachine(CAT), _reference_machine()
    creations = {c.event: c.to for c in CAT.creations}
    allowed = 0
    for state in [None, *CAT.sub_states, "M99.99"]:
        for event in [*CAT.events, "no_such_event"]:
            expected: str | type[Exception]
            if state is not None and state not in CAT.sub_states:
                expected = UnknownState
            elif event not in CAT.events:
                expected = UnknownEvent
            elif state is None:
                expected = creations.get(event, IllegalTransition)
            else:
                found = reference.get_transitions(trigger=event, source=state)
                expected = str(found[0].dest) if found else IllegalTransition
            if isinstance(expected, str):
                assert machine.target(state, event) == expected, (state, event)
                allowed += 1
            else:
                with pytest.raises(expected):
                    machine.target(state, event)
    assert allowed == len(list(CAT.edges())) + len(creations)


# --- parse_rfc3339 -------------------------------------------------------------------

# `\Z`: a final newline is refused (the old `$` let "…Z\n" parse as a valid time).
_GENERAL = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})\Z"
)


def _reference_parse(text: str) -> datetime:
    """parse_rfc3339 as it was before its fast path: the one general way."""
    match = _GENERAL.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not an RFC 3339 date-time with an offset")
    fraction = match.group(7) or ""
    offset = match.group(8).upper()
    base = text[: match.start(7)] if fraction else text[: match.start(8)]
    normalised = base.replace("t", "T") + fraction[:7] + ("+00:00" if offset == "Z" else offset)
    try:
        return datetime.fromisoformat(normalised)
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a valid RFC 3339 date-time: {exc}") from exc


def _outcome(parse: Any, text: Any) -> str:
    """repr of the value (tzinfo included) or the error's type and message."""
    try:
        return repr(parse(text))
    except (ValueError, TypeError) as exc:
        return f"{type(exc).__name__}: {exc}"


TIMES = [
    ("utc Z", "2026-03-02T07:40:00Z"),
    ("offset", "2026-03-02T15:40:00+08:00"),
    ("negative offset", "2026-03-02T07:40:00-01:30"),
    ("minus zero", "2026-03-02T07:40:00-00:00"),
    ("plus zero", "2026-03-02T07:40:00+00:00"),
    ("lower case t z", "2026-03-02t07:40:00z"),
    ("lower t", "2026-03-02t07:40:00Z"),
    ("fraction 1", "2026-03-02T07:40:00.5Z"),
    ("fraction 6", "2026-03-02T07:40:00.123456+08:00"),
    ("fraction 9", "2026-03-02T07:40:00.123456789Z"),
    ("first day", "0001-01-01T00:00:00Z"),
    ("last day", "9999-12-31T23:59:59-14:00"),
    ("overflow", "9999-12-31T23:59:59+14:00"),
    ("trailing newline", "2026-03-02T07:40:00Z\n"),
    ("no offset", "2026-03-02T15:40:00"),
    ("space", "2026-03-02 15:40:00+08:00"),
    ("date only", "2026-03-02"),
    ("month 13", "2026-13-02T15:40:00Z"),
    ("feb 30", "2026-02-30T00:00:00Z"),
    ("hour 24", "2026-03-02T24:00:00Z"),
    ("leap second", "2026-03-02T15:40:60Z"),
    ("offset hour 24", "2026-03-02T15:40:00+24:00"),
    ("offset minute 60", "2026-03-02T15:40:00+08:60"),
    ("no minutes", "2026-03-02T15:40+08:00"),
    ("basic offset", "2026-03-02T15:40:00+0800"),
    ("empty fraction", "2026-03-02T15:40:00.Z"),
    ("full-width digits", "２０２６-03-02T15:40:00Z"),
    ("arabic-indic digits", "٢٠٢٦-03-02T15:40:00Z"),
    ("time only", "15:40"),
    ("empty", ""),
]


@pytest.mark.parametrize("text", [t for _, t in TIMES], ids=[n for n, _ in TIMES])
def test_parse_rfc3339_answers_as_the_general_parser(text: str) -> None:
    assert _outcome(parse_rfc3339, text) == _outcome(_reference_parse, text)
    # Asked again with the same object (the memo) and with an equal copy.
    assert _outcome(parse_rfc3339, text) == _outcome(_reference_parse, text)
    copy = "".join(list(text))
    assert _outcome(parse_rfc3339, copy) == _outcome(_reference_parse, copy)


@pytest.mark.parametrize("value", [None, b"2026-03-02T07:40:00Z", 20260302])
def test_parse_rfc3339_refuses_non_strings_as_before(value: Any) -> None:
    parse_rfc3339("2026-03-02T07:40:00Z")  # something in the memo
    assert _outcome(parse_rfc3339, value) == _outcome(_reference_parse, value)


def test_a_refusal_after_an_acceptance_is_still_a_refusal() -> None:
    good, bad = "2026-03-02T07:40:00Z", "2026-03-02T07:40:00"
    assert parse_rfc3339(good) == datetime(2026, 3, 2, 7, 40, tzinfo=UTC)
    with pytest.raises(ValueError, match="not an RFC 3339 date-time with an offset"):
        parse_rfc3339(bad)
    assert parse_rfc3339(good) == datetime(2026, 3, 2, 7, 40, tzinfo=UTC)


_digits = st.sampled_from("0123456789") | st.sampled_from("٠١٢٣٤٥٦٧٨٩０１")


def _number(width: int) -> st.SearchStrategy[str]:
    return st.lists(_digits, min_size=width - 1, max_size=width + 1).map("".join)


_near_rfc3339 = st.tuples(
    _number(4), st.sampled_from("-/"), _number(2), st.just("-"), _number(2),
    st.sampled_from("TtX "), _number(2), st.just(":"), _number(2), st.sampled_from([":", ""]),
    _number(2),
    st.sampled_from(["", "."]) .flatmap(
        lambda dot: st.just("") if not dot else _number(4).map(lambda d: dot + d * 2)),
    st.sampled_from(["Z", "z", "", "+", "-", "+08:00", "-00:00", "+0800", "+24:00"])
    | st.tuples(st.sampled_from("+-"), _number(2), st.just(":"), _number(2)).map("".join),
    st.sampled_from(["", "", "", "\n", " "]),
).map("".join)


@settings(max_examples=400, deadline=None)
@given(_near_rfc3339)
def test_parse_rfc3339_answers_as_the_general_parser_on_near_misses(text: str) -> None:
    assert _outcome(parse_rfc3339, text) == _outcome(_reference_parse, text)


# --- SLA planning --------------------------------------------------------------------


def test_timer_records_are_plain_data() -> None:
    """The planner builds these without their constructors: safe only while the
    constructors do nothing but store the fields."""
    for cls in (ArmedTimer, TimerPlan):
        assert not hasattr(cls, "__post_init__")
        assert dataclasses.is_dataclass(cls)
    at = datetime(2026, 3, 2, tzinfo=UTC)
    built = sla._armed_timer("t", at, (at,))
    assert built == ArmedTimer(name="t", deadline=at, warn_at=(at,))
    assert built.__dict__ == ArmedTimer("t", at, (at,)).__dict__
    assert list(built.__dict__) == [f.name for f in dataclasses.fields(ArmedTimer)]
    assert hash(built) == hash(ArmedTimer("t", at, (at,)))
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.name = "u"  # type: ignore[misc]
    plan = sla._timer_plan(("a",), (built,))
    assert plan == TimerPlan(disarm=("a",), arm=(built,))
    assert repr(plan) == repr(TimerPlan(disarm=("a",), arm=(built,)))
    assert list(plan.__dict__) == [f.name for f in dataclasses.fields(TimerPlan)]


def _reference_plan(from_state: str | None, from_timers: Sequence[TimerSpec], to_state: str,
                    to_timers: Sequence[TimerSpec], event: str, event_time: datetime,
                    payload: Mapping[str, Any]) -> TimerPlan:
    """plan_timers as it was, through the dataclass constructors."""
    def arm(timers: Sequence[TimerSpec]) -> tuple[ArmedTimer, ...]:
        armed = []
        for spec in timers:
            deadline = spec.rule.deadline(event_time, payload)
            if deadline is not None:
                warn_at = tuple(sorted(deadline - before for before in spec.warn_before))
                armed.append(ArmedTimer(name=spec.name, deadline=deadline, warn_at=warn_at))
        return tuple(armed)

    if from_state != to_state:
        return TimerPlan(disarm=tuple(s.name for s in from_timers), arm=arm(to_timers))
    reset = [spec for spec in to_timers if event in spec.disarm_on]
    return TimerPlan(disarm=tuple(s.name for s in reset), arm=arm(reset))


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
@pytest.mark.parametrize("event_tz", [UTC, None], ids=["utc", "offset"])
def test_plan_timers_answers_as_before_over_every_scenario(scenario: Any, event_tz: Any) -> None:
    subs, state = CAT.sub_states, None
    for step in scenario.steps:
        at = _reference_parse(step.at)
        at = at.astimezone(UTC) if event_tz is UTC else at
        args = (state, () if state is None else subs[state].timers, step.expect,
                subs[step.expect].timers, step.event, at, step.payload)
        got = plan_timers(from_state=args[0], from_timers=args[1], to_state=args[2],
                          to_timers=args[3], event=args[4], event_time=args[5],
                          payload=args[6])
        expected = _reference_plan(*args)
        assert got == expected
        assert repr(got) == repr(expected)
        state = step.expect


def test_deadline_still_refuses_naive_event_times() -> None:
    spec = CAT.sub_states["M05.02"].timers[0]
    with pytest.raises(ValueError, match="timezone-aware"):
        spec.rule.deadline(datetime(2026, 3, 2), {"scanned_at": "2026-03-02T07:40:00Z"})

    class Unknowable(tzinfo):  # aware in name only: its offset is unknown
        def utcoffset(self, dt: datetime | None) -> timedelta | None:
            return None

        def dst(self, dt: datetime | None) -> timedelta | None:
            return None

        def tzname(self, dt: datetime | None) -> str | None:
            return None

    with pytest.raises(ValueError, match="timezone-aware"):
        spec.rule.deadline(datetime(2026, 3, 2, tzinfo=Unknowable()), {})


# --- the payload gate's early exit ---------------------------------------------------

_SCAN = next(s for sc in SCENARIOS for s in sc.steps if s.event == "hub_scan")


def _validation(machine: OrderMachine, sub_state: str, payload: Any) -> str:
    try:
        machine.validate_payload(sub_state, payload)
    except (PayloadInvalid, UnknownState) as exc:
        return f"{type(exc).__name__}: {exc} {getattr(exc, 'errors', None)}"
    return "valid"


PAYLOADS: list[tuple[str, str, Any]] = [
    ("valid", "M05.02", dict(_SCAN.payload)),
    ("read-only mapping", "M05.02", MappingProxyType(dict(_SCAN.payload))),
    ("missing field", "M05.02", {k: v for k, v in _SCAN.payload.items() if k != "scanned_at"}),
    ("bad time", "M05.02", {**_SCAN.payload, "scanned_at": "2026-03-02 15:37"}),
    ("a list", "M05.02", [dict(_SCAN.payload)]),
    ("unknown sub-state", "M99.99", dict(_SCAN.payload)),
    ("another sub-state", "M01.01", dict(_SCAN.payload)),
]


@pytest.mark.parametrize(("sub_state", "payload"), [p[1:] for p in PAYLOADS],
                         ids=[p[0] for p in PAYLOADS])
def test_validation_with_a_compiled_gate_answers_as_a_fresh_machine(
    sub_state: str, payload: Any
) -> None:
    warm = OrderMachine(CAT)
    for code in CAT.sub_states:
        warm._gate(code)  # every gate compiled: the early exit is taken where it can be
    assert _validation(warm, sub_state, payload) == _validation(OrderMachine(CAT), sub_state,
                                                                payload)


# --- canonical JSON of record-shaped values ------------------------------------------

CANONICAL: list[tuple[str, Any]] = [
    ("statement", {"v": 1, "log": "l", "kind": "transition", "seq": 2**53 - 1,
                   "from": None, "to": "M05.02", "actor": {"type": "carrier", "id": "sf"},
                   "prev": "ab" * 32}),
    ("payload with CJK", {"hub_name": "上海虹桥分拨中心", "scanned_at": "2026-03-02T15:37:00Z"}),
    ("escapes", {"note": "tab\tquote\"back\\slash\x00\x1f\x7f\u2028"}),
    ("astral value", {"e": "\U0001f600", "f": ["\ue000", "\U00010000"]}),
    ("key order by UTF-16", {"\ue000": 1, "a": 2, "é": 3, "B": 4}),
    ("small and big ints", [0, -1, 2**53 - 1, -(2**53 - 1)]),
    ("floats", {"a": 1.0, "b": 0.1, "c": 1e21, "d": -0.0, "e": 5e-324}),
    ("nested", {"a": [{"b": [[], {}]}], "c": {"d": {"e": [True, False, None]}}}),
    ("empty", {}),
]


@pytest.mark.parametrize("value", [c[1] for c in CANONICAL], ids=[c[0] for c in CANONICAL])
def test_canonical_json_gives_the_reference_bytes(value: Any) -> None:
    assert canonical_json(value) == rfc8785.dumps(value)

