"""SLA timer rules of the catalogue: parsing and evaluation only, no clock, no storage.

A timer's `deadline` is a rule `<anchor> [(+|-) <duration>]...`: the anchor is
`event_time` (when the entering event happened) or `payload.<field>` (an RFC 3339
date-time field of the sub-state's payload); durations are a positive integer and a
unit, `d` (24 h), `h` or `m`. Examples: `payload.expected_recovery_at + 2h`,
`payload.signed_at + 7d`, `event_time + 48h - 30m`.

Arming semantics (the ledger implements them with `plan_timers`): entering a sub-state
arms its timers; leaving it disarms them. A self-loop (the event leads back to the same
sub-state) does not leave: timers keep running, except those whose `disarm_on` names
the event, which are disarmed and armed again from the new record (a reset).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from statemodel.formats import parse_rfc3339

EVENT_TIME_ANCHOR = "event_time"
PAYLOAD_ANCHOR_PREFIX = "payload."
DURATION_UNITS: Mapping[str, timedelta] = {
    "d": timedelta(days=1),
    "h": timedelta(hours=1),
    "m": timedelta(minutes=1),
}
# Far beyond any SLA (a retention period is years, not centuries); keeps datetime
# arithmetic away from overflow.
MAX_DURATION = timedelta(days=36500)

_new_object = object.__new__
_FIELD = re.compile(r"[a-z][a-z0-9_]*")
_DURATION = re.compile(r"^([0-9]+)([a-z]+)\Z")
_ANCHOR = re.compile(r"\s*([A-Za-z0-9_.]+)")
_TERM = re.compile(r"\s*([+-])\s*([0-9A-Za-z]*)\s*")


def parse_duration(text: str) -> timedelta:
    """`30m`, `2h`, `7d` -> timedelta. Raises ValueError naming what is wrong."""
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"bad duration {text!r}: expected a number and a unit (d, h, m)")
    amount, unit = int(match.group(1)), match.group(2)
    if unit not in DURATION_UNITS:
        raise ValueError(f"bad duration {text!r}: unknown unit {unit!r} (use d, h or m)")
    if amount == 0:
        raise ValueError(f"bad duration {text!r}: must be greater than zero")
    if amount > MAX_DURATION // DURATION_UNITS[unit]:
        raise ValueError(f"bad duration {text!r}: longer than {MAX_DURATION.days} days")
    return amount * DURATION_UNITS[unit]


@dataclass(frozen=True)
class DeadlineRule:
    """A parsed deadline rule; `payload_field` is None for the `event_time` anchor."""

    text: str
    payload_field: str | None
    offset: timedelta

    @classmethod
    def parse(cls, text: str) -> DeadlineRule:
        """Parse a rule. Raises ValueError naming the position and nature of the error."""
        if not text.strip():
            raise ValueError("empty deadline rule")
        anchor_match = _ANCHOR.match(text)
        if anchor_match is None:
            raise ValueError(f"deadline rule {text!r}: must start with an anchor")
        payload_field = _parse_anchor(anchor_match.group(1), text)
        offset = timedelta(0)
        position = anchor_match.end()
        while text[position:].strip():
            term = _TERM.match(text, position)
            if term is None:
                raise ValueError(
                    f"deadline rule {text!r}: expected '+' or '-' and a duration at "
                    f"position {position}, found {text[position:].strip()!r}"
                )
            sign = 1 if term.group(1) == "+" else -1
            try:
                offset += sign * parse_duration(term.group(2))
            except ValueError as exc:
                raise ValueError(f"deadline rule {text!r}: {exc}") from exc
            position = term.end()
        if abs(offset) > MAX_DURATION:
            raise ValueError(f"deadline rule {text!r}: offset beyond {MAX_DURATION.days} days")
        return cls(text=text, payload_field=payload_field, offset=offset)

    def deadline(self, event_time: datetime, payload: Mapping[str, Any]) -> datetime | None:
        """The deadline in UTC, or None when the anchor field is absent (or null).

        Raises ValueError when `event_time` is naive or the anchor field is not an RFC
        3339 date-time with an offset.
        """
        tzinfo = event_time.tzinfo
        # UTC (what the ledger passes) is aware without asking `utcoffset`.
        if tzinfo is not UTC and (tzinfo is None or event_time.utcoffset() is None):
            raise ValueError("event_time must be timezone-aware")
        if self.payload_field is None:
            anchor = event_time
        else:
            value = payload.get(self.payload_field)
            if value is None:
                return None
            if not isinstance(value, str):
                raise ValueError(
                    f"payload.{self.payload_field} must be an RFC 3339 string, "
                    f"not {type(value).__name__}"
                )
            try:
                anchor = parse_rfc3339(value)
            except ValueError as exc:
                raise ValueError(f"payload.{self.payload_field}: {exc}") from exc
        return (anchor + self.offset).astimezone(UTC)


def _parse_anchor(anchor: str, text: str) -> str | None:
    if anchor == EVENT_TIME_ANCHOR:
        return None
    if anchor.startswith(PAYLOAD_ANCHOR_PREFIX):
        field = anchor[len(PAYLOAD_ANCHOR_PREFIX) :]
        if _FIELD.fullmatch(field):
            return field
        raise ValueError(
            f"deadline rule {text!r}: bad payload field {field!r} "
            "(a top-level field name: lower case, digits, underscores)"
        )
    raise ValueError(
        f"deadline rule {text!r}: unknown anchor {anchor!r} "
        f"(expected {EVENT_TIME_ANCHOR!r} or 'payload.<field>')"
    )


@dataclass(frozen=True)
class TimerSpec:
    """One timer a sub-state declares (the typed form of a catalogue `timers` entry)."""

    name: str
    rule: DeadlineRule
    description_zh: str
    description_en: str
    warn_before: tuple[timedelta, ...] = ()
    disarm_on: tuple[str, ...] = ()

    @classmethod
    def from_document(cls, entry: Mapping[str, Any]) -> TimerSpec:
        """Build from a catalogue timer object. Raises ValueError for a bad rule/duration."""
        return cls(
            name=str(entry["name"]),
            rule=DeadlineRule.parse(str(entry["deadline"])),
            description_zh=str(entry["description_zh"]),
            description_en=str(entry["description_en"]),
            warn_before=tuple(parse_duration(str(w)) for w in entry.get("warn_before", ())),
            disarm_on=tuple(str(e) for e in entry.get("disarm_on", ())),
        )


@dataclass(frozen=True)
class ArmedTimer:
    """A timer with its computed deadline and warning times (all UTC, earliest first)."""

    name: str
    deadline: datetime
    warn_at: tuple[datetime, ...]


# `plan_timers` runs on every append, and a frozen dataclass's `__init__` sets each field
# through `object.__setattr__`, which cost a third of it. These two build the very same
# objects (the fields in the instance `__dict__`, in declaration order; neither class has
# a `__post_init__`), as tests/statemodel/test_hot_paths.py checks against them.
def _armed_timer(name: str, deadline: datetime, warn_at: tuple[datetime, ...]) -> ArmedTimer:
    timer = _new_object(ArmedTimer)
    fields = timer.__dict__
    fields["name"] = name
    fields["deadline"] = deadline
    fields["warn_at"] = warn_at
    return timer


def _timer_plan(disarm: tuple[str, ...], arm: tuple[ArmedTimer, ...]) -> TimerPlan:
    plan = _new_object(TimerPlan)
    fields = plan.__dict__
    fields["disarm"] = disarm
    fields["arm"] = arm
    return plan


def arm_timers(
    timers: Sequence[TimerSpec], event_time: datetime, payload: Mapping[str, Any]
) -> tuple[ArmedTimer, ...]:
    """The timers entering a sub-state arms, with deadlines; absent anchors are skipped.

    Raises ValueError as `DeadlineRule.deadline` does.
    """
    armed: list[ArmedTimer] = []
    for spec in timers:
        deadline = spec.rule.deadline(event_time, payload)
        if deadline is None:
            continue
        # No sort of an empty list: this runs on every append.
        warn_at = (
            tuple(sorted([deadline - before for before in spec.warn_before]))
            if spec.warn_before
            else ()
        )
        armed.append(_armed_timer(spec.name, deadline, warn_at))
    return tuple(armed)


@dataclass(frozen=True)
class TimerPlan:
    """What one transition does to timers: names to disarm, then timers to arm."""

    disarm: tuple[str, ...]
    arm: tuple[ArmedTimer, ...]


def plan_timers(
    *,
    from_state: str | None,
    from_timers: Sequence[TimerSpec],
    to_state: str,
    to_timers: Sequence[TimerSpec],
    event: str,
    event_time: datetime,
    payload: Mapping[str, Any],
) -> TimerPlan:
    """Apply the arming semantics of this module to one transition.

    Leaving a sub-state disarms all its timers and arms the target's. A self-loop
    disarms and re-arms only the timers whose `disarm_on` names `event`. Raises
    ValueError as `DeadlineRule.deadline` does.
    """
    if from_state != to_state:
        return _timer_plan(
            tuple([spec.name for spec in from_timers]),
            arm_timers(to_timers, event_time, payload),
        )
    reset = [spec for spec in to_timers if event in spec.disarm_on]
    return _timer_plan(
        tuple([spec.name for spec in reset]),
        arm_timers(reset, event_time, payload),
    )
