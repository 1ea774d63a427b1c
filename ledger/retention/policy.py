"""When a record's payload may be erased, and whether an erased payload was erased lawfully.

Both the retention run and `orderledger audit` judge with the functions here, from the
statements of one order's chain alone, so what the run erases is exactly what audit
accepts:

- A record's retention comes from the regulation pack that judged it (its `rules`
  field), never from the pack in force today: `earliest_erasure` of that pack's policy,
  for the record's class (by kind, else by sub-state).
- The transaction clock (电子商务法 §31, "from completion") starts when the order last
  ENTERED the closed main state (M12: cancelled, completed, archived) and stops again
  if a later transition leaves it (after-sales reopened the order). The moment counted
  is the later of the record's `event_time` and `recorded_at`, so the period is never
  counted from before the ledger knew of the closure.
- Records of the ledger's own control kinds (`retention_purge`, `legal_hold`,
  `legal_hold_release`) are never erased: their payloads are what proves every other
  erasure lawful, and they hold no order data.
- An erased payload is lawful only if a LATER `retention_purge` record of the same order
  lists its seq in `erased_seqs`, the record was past its minimum at that purge
  record's `recorded_at` (judged on the chain before the purge record), and no legal
  hold recorded in the chain was in force then.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from ledger.statement import Kind, Statement
from ledger.store import StoredRecord
from ledger.timefmt import format_time, parse_time
from ledger.verify import PURGE_ERASED_SEQS_FIELD
from regulations.errors import RegulationError
from regulations.facts import TRANSACTION_CLOSING_STATES
from regulations.registry import get_pack
from regulations.retention import RecordClass, RetentionRule

#: Kinds whose payloads are kept for good (see the module docstring).
KEPT_KINDS: Final = frozenset({Kind.RETENTION_PURGE, Kind.LEGAL_HOLD, Kind.LEGAL_HOLD_RELEASE})
#: The main states in which an order's transaction counts as closed.
CLOSED_MAIN_STATES: Final = frozenset(code.split(".", 1)[0] for code in TRANSACTION_CLOSING_STATES)
#: Payload field of a `retention_purge` record that lists the seqs it erased.
ERASED_SEQS_FIELD: Final = PURGE_ERASED_SEQS_FIELD
#: Payload field of `legal_hold` / `legal_hold_release` records naming the hold.
HOLD_ID_FIELD: Final = "hold_id"


@dataclass(frozen=True, slots=True)
class Eligibility:
    """How long one record's payload must be kept: the rule that governs it (from the
    pack that judged the record) and the first instant erasure is lawful (None while
    the transaction is open, so its clock has not started)."""

    pack: str
    record_class: RecordClass
    rule: RetentionRule
    erasable_from: datetime | None

    def allows_at(self, moment: datetime) -> bool:
        return self.erasable_from is not None and self.erasable_from <= moment

    def to_json(self) -> dict[str, Any]:
        return {
            "rules": self.pack,
            "record_class": self.record_class.value,
            "minimum_months": self.rule.minimum_months,
            "clock_start": self.rule.clock_start.value,
            "citation": str(self.rule.citation),
            "erasable_from": None
            if self.erasable_from is None
            else format_time(self.erasable_from),
        }


def is_closed(sub_state: str | None) -> bool:
    return sub_state is not None and sub_state.split(".", 1)[0] in CLOSED_MAIN_STATES


def transaction_closed_at(statements: Iterable[Statement]) -> datetime | None:
    """When the order's transaction closed, as of the end of `statements` (one order's
    chain or a prefix of it, in seq order); None while it is open."""
    closed_at: datetime | None = None
    for st in statements:
        if st.kind is not Kind.TRANSITION:
            continue
        if not is_closed(st.to_state):
            closed_at = None
        elif not is_closed(st.from_state):
            closed_at = max(parse_time(st.event_time), parse_time(st.recorded_at))
    return closed_at


def eligibility(statement: Statement, closed_at: datetime | None) -> Eligibility:
    """The retention of one record, by the pack that judged it. Raises RegulationError
    (UnknownPack) when that pack is not shipped with this build."""
    policy = get_pack(statement.rules).retention_policy()
    kind, sub_state = statement.kind.value, statement.to_state
    return Eligibility(
        pack=statement.rules,
        record_class=policy.class_of(kind, sub_state),
        rule=policy.rule_for(kind, sub_state),
        erasable_from=policy.earliest_erasure(
            kind=kind,
            sub_state=sub_state,
            recorded_at=parse_time(statement.recorded_at),
            transaction_closed_at=closed_at,
        ),
    )


def holds_in_force(records: Iterable[StoredRecord]) -> set[Any]:
    """Ids of the legal holds that the chain's hold records leave in force."""
    held: set[Any] = set()
    for record in records:
        payload = record.payload or {}
        if record.statement.kind is Kind.LEGAL_HOLD:
            held.add(payload.get(HOLD_ID_FIELD))
        elif record.statement.kind is Kind.LEGAL_HOLD_RELEASE:
            held.discard(payload.get(HOLD_ID_FIELD))
    return held


class ErasureJudge:
    """Judges the erased payloads of one order's chain (records in seq order)."""

    def __init__(self, chain: Sequence[StoredRecord]) -> None:
        self._chain = chain
        # seq -> index of the first later purge record that names it.
        self._purged_by: dict[int, int] = {}
        for index, record in enumerate(chain):
            if record.statement.kind is not Kind.RETENTION_PURGE:
                continue
            for seq in _erased_seqs(record.payload):
                if seq < record.statement.seq:
                    self._purged_by.setdefault(seq, index)

    def problem(self, record: StoredRecord) -> str | None:
        """Why the erasure of `record`'s payload is unlawful, or None when it is lawful."""
        st = record.statement
        if st.kind in KEPT_KINDS:
            return f"the payload of a {st.kind.value} record is never erased"
        index = self._purged_by.get(st.seq)
        if index is None:
            return "payload erased without a retention_purge record that names it"
        purge = self._chain[index]
        before = self._chain[:index]
        purged_at = parse_time(purge.statement.recorded_at)
        try:
            judged = eligibility(st, transaction_closed_at(r.statement for r in before))
        except RegulationError as exc:
            return f"cannot tell its retention: {exc}"
        if not judged.allows_at(purged_at):
            until = "the transaction closes" if judged.erasable_from is None else (
                format_time(judged.erasable_from)
            )
            return (
                f"payload erased by the retention_purge record seq {purge.statement.seq} at "
                f"{purge.statement.recorded_at}, inside its retention ({judged.record_class.value}"
                f" records are kept until {until})"
            )
        held = holds_in_force(before)
        if held:
            return (
                f"payload erased by the retention_purge record seq {purge.statement.seq} "
                f"while legal hold(s) {sorted(map(str, held))} were in force"
            )
        return None


def _erased_seqs(payload: Mapping[str, Any] | None) -> list[int]:
    seqs = (payload or {}).get(ERASED_SEQS_FIELD)
    if not isinstance(seqs, list):
        return []
    return [s for s in seqs if type(s) is int]
