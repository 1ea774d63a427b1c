"""Retention minima as data: which record class a record belongs to, how long it must be
kept, and what starts the clock. The retention jobs read this; they never hard-code law.

Periods are calendar periods (months, years), not fixed day counts: "3 years from
completion" ends on the same calendar day three years later (clamped to the month's
last day), which is how a court counts it.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType

from regulations.citation import Citation
from regulations.errors import RegulationError
from regulations.proposal import require_aware


class RecordClass(StrEnum):
    """What a record is evidence of, for retention."""

    OPERATION = "operation"
    """A record of an operation (scan, hold, timer breach): kept from when it was recorded."""
    TRANSACTION = "transaction"
    """Goods, service or transaction information (电子商务法 §31): kept from completion."""


class ClockStart(StrEnum):
    """The moment a retention period is counted from."""

    RECORDED_AT = "recorded_at"
    """The record's own `recorded_at`."""
    TRANSACTION_CLOSED = "transaction_closed"
    """When the order reached a final sub-state (completed or cancelled); until then the
    period has not started and the record cannot be erased."""


def add_months(moment: datetime, months: int) -> datetime:
    """`moment` plus whole calendar months, the day clamped to the target month's end."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


@dataclass(frozen=True, slots=True)
class RetentionRule:
    """One minimum: records of `record_class` are kept `minimum_months` after `clock_start`."""

    record_class: RecordClass
    minimum_months: int
    clock_start: ClockStart
    citation: Citation
    note: str = ""

    def __post_init__(self) -> None:
        if self.minimum_months <= 0:
            raise RegulationError(f"retention minimum for {self.record_class} must be positive")

    def kept_until(self, start: datetime) -> datetime:
        """The first instant at which the minimum has run out, counted from `start`."""
        return add_months(require_aware(start, field="start"), self.minimum_months)


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """The retention minima of a pack and how records map onto them.

    A record's class comes from its kind (`kinds`), else from its sub-state's main state
    (`main_states`, e.g. `M10` for every return sub-state), else `default_class`.
    Every record is at least an operation record, so a transaction record is kept until
    both its own minimum and the operation minimum have run out.
    """

    rules: Mapping[RecordClass, RetentionRule]
    main_states: Mapping[str, RecordClass]
    kinds: Mapping[str, RecordClass]
    default_class: RecordClass = RecordClass.TRANSACTION

    def __post_init__(self) -> None:
        missing = {RecordClass.OPERATION, self.default_class} - set(self.rules)
        missing |= (set(self.main_states.values()) | set(self.kinds.values())) - set(self.rules)
        if missing:
            names = ", ".join(sorted(missing))
            raise RegulationError(f"retention policy names classes without a minimum: {names}")
        object.__setattr__(self, "rules", MappingProxyType(dict(self.rules)))
        object.__setattr__(self, "main_states", MappingProxyType(dict(self.main_states)))
        object.__setattr__(self, "kinds", MappingProxyType(dict(self.kinds)))

    def class_of(self, kind: str, sub_state: str) -> RecordClass:
        """The record class of a record of `kind` in (or moving to) `sub_state`."""
        if kind in self.kinds:
            return self.kinds[kind]
        main = sub_state.split(".", 1)[0]
        return self.main_states.get(main, self.default_class)

    def rule_for(self, kind: str, sub_state: str) -> RetentionRule:
        """The retention minimum that governs such a record."""
        return self.rules[self.class_of(kind, sub_state)]

    def earliest_erasure(
        self,
        *,
        kind: str,
        sub_state: str,
        recorded_at: datetime,
        transaction_closed_at: datetime | None,
    ) -> datetime | None:
        """The first instant at which no retention minimum of this pack still holds the
        record's payload; None while a minimum has not even started (the order is open).

        Legal holds are not this function's business: the caller must check them too.
        Raises InvalidInput for naive datetimes.
        """
        operation = self.rules[RecordClass.OPERATION].kept_until(recorded_at)
        rule = self.rule_for(kind, sub_state)
        if rule.clock_start is ClockStart.RECORDED_AT:
            return max(operation, rule.kept_until(recorded_at))
        if transaction_closed_at is None:
            return None
        return max(operation, rule.kept_until(transaction_closed_at))

    def to_json(self) -> dict[str, object]:
        """The policy as plain JSON, for docs, the API and the retention job's log."""
        return {
            "rules": [
                {
                    "record_class": rule.record_class.value,
                    "minimum_months": rule.minimum_months,
                    "clock_start": rule.clock_start.value,
                    "citation": str(rule.citation),
                    "citation_status": rule.citation.status.value,
                    "note": rule.note,
                }
                for rule in self.rules.values()
            ],
            "main_states": dict(sorted(self.main_states.items())),
            "kinds": dict(sorted(self.kinds.items())),
            "default_class": self.default_class.value,
        }
