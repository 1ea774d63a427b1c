"""Checks of the default pack on the order's life: consent, delivery, cooling-off,
returns and refunds, time order, retention and the cold chain.

These read `OrderFacts` (what happened before) beside the proposal. Checks that need a
threshold are built by a factory taking it, so a pack version can change the number
without touching the logic.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Final

from regulations.cn_actionable import PLACEHOLDERS
from regulations.facts import (
    COLD_CHAIN_BREACH,
    COMPLETED,
    CONFIRMED_EXCLUSION,
    COOLING_OFF,
    REFUNDED,
    RETURN_RECEIVED,
    RETURN_REQUESTED,
    SIGNED_BY_PROXY,
    SIGNED_STATES,
    OrderFacts,
    cooling_off_end,
    declared_range,
)
from regulations.model import TRANSITIONS, CheckFunction, Scope, Violation
from regulations.proposal import Proposal
from regulations.retention import add_months
from regulations.values import is_blank, parse_number

AT_LOCKER_OR_STATION: Final = "M07.03"
CONSENT_STATES: Final = frozenset({AT_LOCKER_OR_STATION, SIGNED_BY_PROXY})
NO_REASON_RETURN: Final = "no_reason_7day"
RETURN_REJECTED: Final = "return_rejected"
NOT_INTACT: Final = "not_intact"
ARCHIVED: Final = "M12.03"
# The records each lifecycle check can find anything in (see regulations.model.Scope):
# each check opens with `if not ITS_SCOPE.covers(proposal): return`, and the pack
# (cn_2026) gives its Check the same scope so that it is not even called elsewhere.
CONSENT_SCOPE: Final = Scope(to_states=CONSENT_STATES)
SIGNATURE_SCOPE: Final = Scope(to_states=SIGNED_STATES)
COOLING_OFF_SCOPE: Final = Scope(to_states=frozenset({COOLING_OFF}))
COMPLETION_SCOPE: Final = Scope(to_states=frozenset({COMPLETED}),
                                from_states=frozenset({COOLING_OFF}))
REJECTION_SCOPE: Final = Scope(events=frozenset({RETURN_REJECTED}))
RETURN_REQUEST_SCOPE: Final = Scope(to_states=frozenset({RETURN_REQUESTED}))
REFUND_SCOPE: Final = Scope(to_states=frozenset({REFUNDED}))
RETENTION_SCOPE: Final = Scope(to_states=frozenset({COMPLETED, ARCHIVED}))
TIME_SCOPE: Final = TRANSITIONS
#: The payload keys the cold-chain checks read (their `Check.keys`): a record with none
#: of them reports no excursion. The required-range keys are among them because reading
#: a declared range may raise (a number too large for a float), which must still block.
EXCURSION_KEYS: Final = frozenset(
    {"observed_min_c", "observed_max_c", "excursion_minutes", "required_min_c",
     "required_max_c", "required_range_c", "temp_class"}
)
# Fields that record when something already HAPPENED: none may lie in the future.
OCCURRENCE_FIELDS: Final = frozenset(
    {
        "paid_at", "pick_started_at", "detected_at", "picked_up_at", "failed_at",
        "scanned_at", "rerouted_at", "declared_at", "released_at", "arrived_at",
        "deposited_at", "attempted_at", "signed_at", "exclusion_confirmed_at",
        "last_scan_at", "declared_lost_at", "requested_at", "dispatched_at", "received_at",
        "resolved_at", "completed_at", "cancelled_at", "archived_at",
    }
)  # fmt: skip


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def consent_recorded(proposal: Proposal, facts: OrderFacts) -> Iterator[Violation]:
    """Locker/station delivery and proxy or point signatures carry a consent reference."""
    if not CONSENT_SCOPE.covers(proposal):
        return
    consent = proposal.payload.get("consent_ref")
    if is_blank(consent):
        yield Violation("payload.consent_ref", f"{proposal.to_state} needs the recipient's "
                        "consent to a proxy, locker or station; consent_ref is missing")
    elif not isinstance(consent, str) or consent.strip().lower() in PLACEHOLDERS:
        yield Violation("payload.consent_ref", f"consent_ref {consent!r} does not refer to "
                        "a recorded consent")


def signature_fixes_delivery(proposal: Proposal, facts: OrderFacts) -> Iterator[Violation]:
    """A signature record states a readable `signed_at` no earlier than the order itself:
    it becomes the legal delivery time and starts the cooling-off window."""
    if not SIGNATURE_SCOPE.covers(proposal):
        return
    raw = proposal.payload.get("signed_at")
    signed_at = proposal.instant("signed_at")
    if signed_at is None:
        yield Violation("payload.signed_at", f"signature time {raw!r} is not an RFC 3339 "
                        "time with an offset; it is the legal delivery time")
    elif facts.placed_at is not None and signed_at < facts.placed_at:
        yield Violation("payload.signed_at", f"signature time {_iso(signed_at)} is before "
                        f"the order was placed ({_iso(facts.placed_at)})")


def cooling_off_window_complete(proposal: Proposal, facts: OrderFacts) -> Iterator[Violation]:
    """The cooling-off record runs from the recorded signature for at least 7 days."""
    if not COOLING_OFF_SCOPE.covers(proposal):
        return
    if facts.delivered_at is None:
        yield Violation("to", "the cooling-off window opens only after a signature "
                        "(M08.01/M08.02) has fixed the delivery time")
        return
    stated_start = proposal.instant("signed_at")
    if stated_start != facts.delivered_at:
        yield Violation("payload.signed_at", f"window must start at the recorded signature "
                        f"time {_iso(facts.delivered_at)}, got "
                        f"{proposal.payload.get('signed_at')!r}")
    legal_end = cooling_off_end(facts.delivered_at)
    stated_end = proposal.instant("window_end_at")
    if stated_end is None or stated_end < legal_end:
        yield Violation("payload.window_end_at", f"window must stay open at least until "
                        f"{_iso(legal_end)} (7 days from signature), got "
                        f"{proposal.payload.get('window_end_at')!r}")


def completion_after_cooling_off(proposal: Proposal, facts: OrderFacts) -> Iterator[Violation]:
    """Closing the cooling-off window (M08.03 -> completed) happens no earlier than 7×24 h
    after the signature, so no return request inside the window is cut off."""
    if not COMPLETION_SCOPE.covers(proposal) or facts.cooling_off_ends_at is None:
        return
    if proposal.event_time < facts.cooling_off_ends_at:
        yield Violation("event_time", f"the cooling-off window is open until "
                        f"{_iso(facts.cooling_off_ends_at)}; the order cannot complete at "
                        f"{_iso(proposal.event_time)}")


def exclusion_confirmed_at_purchase(proposal: Proposal, facts: OrderFacts) -> Iterator[Violation]:
    """Goods marked ineligible for no-reason return carry a lawful exclusion: a statutory
    category, or the buyer's confirmation made at or before the purchase."""
    if not COOLING_OFF_SCOPE.covers(proposal):
        return
    if proposal.payload.get("eligible") is not False:
        return
    reason = proposal.payload.get("exclusion_reason_code")
    if reason != CONFIRMED_EXCLUSION:
        if is_blank(reason):
            yield Violation("payload.exclusion_reason_code", "goods marked ineligible "
                            "without an exclusion reason")
        return
    confirmed = proposal.instant("exclusion_confirmed_at")
    purchase = facts.purchased_at
    if confirmed is None:
        yield Violation("payload.exclusion_confirmed_at", "exclusion by the buyer's "
                        "confirmation needs the time it was confirmed at purchase")
    elif purchase is None or confirmed > purchase:
        when = "unknown" if purchase is None else _iso(purchase)
        yield Violation("payload.exclusion_confirmed_at", f"exclusion confirmed at "
                        f"{_iso(confirmed)}, after the purchase ({when}): it does not count")


def _no_reason_request_protected(facts: OrderFacts) -> bool:
    requested = facts.return_requested_at
    return (
        facts.return_request_type == NO_REASON_RETURN
        and requested is not None
        and facts.in_cooling_off(requested)
        and not facts.cooling_off_excluded
    )


def no_reason_return_not_refused(proposal: Proposal, facts: OrderFacts) -> Iterator[Violation]:
    """A no-reason return requested inside the window, for goods not excluded, is not
    rejected; after inspection it may be rejected only for goods found not intact."""
    if not REJECTION_SCOPE.covers(proposal):
        return
    if not _no_reason_request_protected(facts):
        return
    if proposal.from_state == RETURN_RECEIVED and facts.return_inspection_result == NOT_INTACT:
        return
    yield Violation("event", "a 7-day no-reason return requested inside the cooling-off "
                    "window cannot be rejected unless an exclusion was confirmed at purchase "
                    "or the returned goods were found not intact")


def _request_inside_window(proposal: Proposal, facts: OrderFacts) -> bool | None:
    requested = proposal.instant("requested_at") or proposal.event_time
    if facts.delivered_at is None:
        return None
    return facts.in_cooling_off(requested)


def cooling_off_not_understated(proposal: Proposal, facts: OrderFacts) -> Iterator[Violation]:
    """A return request made inside the window is not recorded as outside it."""
    if not RETURN_REQUEST_SCOPE.covers(proposal):
        return
    if _request_inside_window(proposal, facts) and proposal.payload.get("in_cooling_off") is False:
        yield Violation("payload.in_cooling_off", "the request lies inside the 7-day window "
                        "that the signature opened; in_cooling_off must be true")


def cooling_off_not_overstated(proposal: Proposal, facts: OrderFacts) -> Iterator[Violation]:
    """A return request recorded as inside the window really lies inside it."""
    if not RETURN_REQUEST_SCOPE.covers(proposal):
        return
    inside = _request_inside_window(proposal, facts)
    if proposal.payload.get("in_cooling_off") is True and not inside:
        why = "no signature is recorded" if inside is None else "the window has closed"
        yield Violation("payload.in_cooling_off", f"in_cooling_off is true but {why}")


def refund_within_period(proposal: Proposal, facts: OrderFacts) -> Iterator[Violation]:
    """A refund after a received return is paid within 7 days of receiving it."""
    if not REFUND_SCOPE.covers(proposal):
        return
    if proposal.payload.get("resolution_type") == "exchange" or facts.refund_due_at is None:
        return
    refunded = proposal.instant("resolved_at") or proposal.event_time
    if refunded > facts.refund_due_at:
        late = refunded - facts.refund_due_at
        yield Violation("payload.resolved_at", f"refund at {_iso(refunded)} is {late} after "
                        f"it fell due ({_iso(facts.refund_due_at)}, 7 days from receiving "
                        "the return)")


def time_runs_back(*, beyond: timedelta, up_to: timedelta | None) -> CheckFunction:
    """A check that a transition's event time is not more than `beyond` (and, when
    `up_to` is given, at most `up_to`) behind the latest event time of the order."""

    def check(proposal: Proposal, facts: OrderFacts) -> Iterator[Violation]:
        latest = facts.latest_event_time
        if not TIME_SCOPE.covers(proposal) or latest is None:
            return
        behind = latest - proposal.event_time
        if behind > beyond and (up_to is None or behind <= up_to):
            yield Violation("event_time", f"event time {_iso(proposal.event_time)} runs "
                            f"{behind} behind the order's latest event ({_iso(latest)}); "
                            f"tolerance {beyond}")

    return check


def not_in_future(*, skew: timedelta) -> CheckFunction:
    """A check that neither the event time nor any occurrence time in the payload lies
    more than `skew` after the ledger's clock."""

    def check(proposal: Proposal, facts: OrderFacts) -> Iterator[Violation]:
        limit = proposal.now + skew
        if proposal.event_time > limit:
            yield Violation("event_time", f"event time {_iso(proposal.event_time)} is in the "
                            f"future (ledger clock {_iso(proposal.now)}, tolerance {skew})")
        for key in _occurrence_keys(tuple(proposal.payload)):
            moment = proposal.instant(key)
            if moment is not None and moment > limit:
                yield Violation(f"payload.{key}", f"{key} {_iso(moment)} has not happened "
                                f"yet (ledger clock {_iso(proposal.now)}, tolerance {skew})")

    return check


# Payload key sets come from the catalogue's schemas (a few per sub-state); the bound
# only guards against a flood of made-up ones.
@lru_cache(maxsize=1024)
def _occurrence_keys(keys: tuple[str, ...]) -> tuple[str, ...]:
    """The keys among `keys` that are `OCCURRENCE_FIELDS`, in order."""
    return tuple(key for key in keys if key in OCCURRENCE_FIELDS)


def retention_not_shortened(*, transaction_months: int) -> CheckFunction:
    """A check that completion and archive records keep transaction information at least
    `transaction_months` from the transaction's completion (电子商务法 §31)."""

    def check(proposal: Proposal, facts: OrderFacts) -> Iterator[Violation]:
        if not RETENTION_SCOPE.covers(proposal):
            return
        if proposal.to_state == COMPLETED:
            field, closed = "retention_until", proposal.instant("completed_at")
            closed = closed or proposal.event_time
        else:
            field, closed = "delete_after_at", facts.closed_at or proposal.event_time
        minimum = add_months(closed, transaction_months)
        stated = proposal.instant(field)
        if stated is None or stated < minimum:
            yield Violation(f"payload.{field}", f"must be at least {_iso(minimum)} "
                            f"({transaction_months} months after completion at "
                            f"{_iso(closed)}), got {proposal.payload.get(field)!r}")

    return check


def _in_breach_after(proposal: Proposal) -> bool:
    if proposal.is_transition:
        return proposal.to_state == COLD_CHAIN_BREACH
    return proposal.from_state == COLD_CHAIN_BREACH


def _breach_reachable(proposal: Proposal) -> bool:
    # Only a transition can move the order; other kinds always keep their state.
    return proposal.is_transition and any(
        source == proposal.from_state and target == COLD_CHAIN_BREACH
        for _event, source, target in proposal.catalogue.edges()
    )


def _excursion(proposal: Proposal, facts: OrderFacts) -> tuple[str, str, float | None] | None:
    """(field, description, minutes) of a reported excursion outside the required range;
    None when the record reports none (or no range is known for the goods)."""
    payload = proposal.payload
    allowed = declared_range(proposal) or facts.cold_chain_range_c
    observed_min, observed_max = payload.get("observed_min_c"), payload.get("observed_max_c")
    if observed_min is None and observed_max is None:
        return None  # nothing observed (parse_number(None) is None): no excursion
    low = parse_number(observed_min)
    high = parse_number(observed_max)
    if allowed is None:
        return None
    if high is not None and high > allowed[1]:
        field = "payload.observed_max_c"
    elif low is not None and low < allowed[0]:
        field = "payload.observed_min_c"
    else:
        return None
    span = f"observed {low}..{high} °C outside the required {allowed[0]}..{allowed[1]} °C"
    return field, span, parse_number(payload.get("excursion_minutes"))


def cold_chain_must_breach(*, threshold: timedelta) -> CheckFunction:
    """A check that a record reporting an excursion longer than `threshold` moves the
    order to the breach sub-state whenever the catalogue lets it (GB 31605-2020)."""
    limit = threshold.total_seconds() / 60

    def check(proposal: Proposal, facts: OrderFacts) -> Iterator[Violation]:
        # The excursion test reads two payload fields; the reachability test walks the
        # catalogue's edges, so it only runs for records that report an excursion.
        found = _excursion(proposal, facts)
        if found is None or _in_breach_after(proposal) or not _breach_reachable(proposal):
            return
        if found[2] is not None and found[2] > limit:
            field, span, minutes = found
            yield Violation(field, f"{span} for {minutes:g} min (threshold {limit:g} min): "
                            f"the record must move the order to {COLD_CHAIN_BREACH} "
                            "(cold-chain breach)")

    return check


def cold_chain_unresolved(*, threshold: timedelta) -> CheckFunction:
    """A check for excursions the breach rule cannot settle: the duration is not stated,
    or the order cannot move to the breach sub-state from where it is."""
    limit = threshold.total_seconds() / 60

    def check(proposal: Proposal, facts: OrderFacts) -> Iterator[Violation]:
        if _in_breach_after(proposal):
            return
        found = _excursion(proposal, facts)
        if found is None:
            return
        field, span, minutes = found
        if minutes is None:
            yield Violation("payload.excursion_minutes", f"{span} for an unstated time")
        elif minutes > limit and not _breach_reachable(proposal):
            yield Violation(field, f"{span} for {minutes:g} min (threshold {limit:g} min), "
                            f"but {proposal.from_state} has no edge to {COLD_CHAIN_BREACH}: "
                            "quarantine and QA disposition must be arranged outside the "
                            "order's state machine")

    return check
