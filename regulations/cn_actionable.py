"""Checks of the default pack on payload content: actionable detail and personal data.

Each function takes (proposal, facts) and yields one `Violation` per offending field,
named by its dotted path (`payload.hub_admin_code`). They read the payload defensively
(regulations.values): an unreadable value is reported, never a crash.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from typing import Any, Final

from regulations.facts import OrderFacts
from regulations.model import TRANSITIONS, Violation
from regulations.pii import (
    MOBILE_MIN_LENGTH,
    RESIDENT_ID_LENGTH,
    find_mobile_numbers,
    find_resident_ids,
    is_person_name_key,
    looks_like_full_name,
    may_hold_mobile_number,
    may_hold_resident_id,
)
from regulations.proposal import Proposal
from regulations.values import (
    CHINA_TIME,
    Leaf,
    is_blank,
    parse_calendar_date,
)

# Times a sender ESTIMATES or SETS at the moment of its record: they must lie after it.
# Promises carried forward from earlier records (ship_by_at, carrier_cutoff_at) and
# contractual deadlines (claim_deadline_at) may truthfully have passed, so they are not here.
# Every `expected_*` key is an estimate too.
ESTIMATE_FIELDS: Final = frozenset(
    {
        "payment_deadline_at", "pickup_window_end_at", "next_window_start_at",
        "next_window_end_at", "edd_at", "revised_edd_at", "next_node_eta_at", "eta_at",
        "submission_deadline_at", "delivery_window_end_at", "hold_until", "next_attempt_at",
        "window_end_at", "appointment_start_at", "appointment_end_at",
    }
)  # fmt: skip
ESTIMATE_DATE_FIELDS: Final = frozenset({"planned_delivery_date"})
# Windows whose start must come before their end.
WINDOW_PAIRS: Final = (
    ("pickup_window_start_at", "pickup_window_end_at"),
    ("next_window_start_at", "next_window_end_at"),
    ("delivery_window_start_at", "delivery_window_end_at"),
    ("appointment_start_at", "appointment_end_at"),
)

_WINDOW_KEYS: Final = frozenset(key for pair in WINDOW_PAIRS for key in pair)

# GB/T 2260 province-level prefixes (31 provinces, Taiwan 71, Hong Kong 81, Macao 82).
PROVINCE_PREFIXES: Final = frozenset(
    {
        "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36",
        "37", "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62",
        "63", "64", "65", "71", "81", "82",
    }
)  # fmt: skip
# `\Z`, not `$` (which also matches before a final line break); ASCII digits, not `\d`.
_ADMIN_CODE: Final = re.compile(r"^[0-9]{6}\Z")

_CARRIER_CODE: Final = re.compile(r"^[a-z][a-z0-9_]{1,31}\Z")
# Values that fill the field without naming anybody.
PLACEHOLDERS: Final = frozenset(
    {"unknown", "other", "none", "null", "nil", "na", "n_a", "tbd", "todo", "test", "xxx"}
)
_WAYBILL: Final = re.compile(r"^[A-Z0-9]{8,32}\Z")
MIN_WAYBILL_DIGITS: Final = 6
#: `str.translate` table that deletes the ASCII digits (counted by what it removes).
_WITHOUT_ASCII_DIGITS: Final = str.maketrans("", "", "0123456789")


#: Key endings of the coded fields the two checks below read.
_CODED_KEY_ENDINGS: Final = ("admin_code", "carrier_code", "waybill_no")
#: What `_key_role` answers: bits for the leaf checks that read a leaf under that key.
_CODED: Final = 1
_PERSON_NAME: Final = 2


# Leaf keys come from the catalogue's schemas: a few dozen distinct ones, asked about on
# every append. The bound only guards against a flood of made-up keys.
@lru_cache(maxsize=2048)
def _key_role(key: str) -> int:
    role = _CODED if key.endswith(_CODED_KEY_ENDINGS) else 0
    return role | _PERSON_NAME if is_person_name_key(key) else role


def _keyed_leaves(proposal: Proposal) -> tuple[tuple[Leaf, ...], tuple[Leaf, ...]]:
    """The leaves the coded-field checks read (key ending in a `_CODED_KEY_ENDINGS`),
    and the string leaves `no_full_names` reads (person-name key), each in leaf order:
    one pass for the three checks."""
    coded: list[Leaf] = []
    named: list[Leaf] = []
    for leaf in proposal.leaves:
        key = leaf[1]
        if key is None:
            continue
        role = _key_role(key)
        if role:
            if role & _CODED:
                coded.append(leaf)
            if role & _PERSON_NAME and isinstance(leaf[2], str):
                named.append(leaf)
    return tuple(coded), tuple(named)


def required_fields_present(proposal: Proposal, facts: OrderFacts) -> Iterator[Violation]:
    """Every required actionable field of the target sub-state is present and not blank.

    Blank means null, an empty or whitespace-only string, or an empty list/object:
    the JSON Schema's `required` alone accepts all of those.
    """
    if not TRANSITIONS.covers(proposal):
        return
    sub_state = proposal.catalogue.sub_states.get(proposal.to_state)
    if sub_state is None:
        yield Violation("to", f"sub-state {proposal.to_state!r} is not in the catalogue")
        return
    payload = proposal.payload
    for name in sub_state.required_fields:
        if name not in payload:
            yield Violation(f"payload.{name}", f"required actionable field of "
                            f"{sub_state.code} ({sub_state.name_en}) is missing")
            continue
        value = payload[name]
        # A non-blank string is the usual case: answer it without the general test.
        if type(value) is str and value.strip():
            continue
        if is_blank(value):
            yield Violation(f"payload.{name}", f"required actionable field of "
                            f"{sub_state.code} ({sub_state.name_en}) is blank")


def estimates_after_event(proposal: Proposal, facts: OrderFacts) -> Iterator[Violation]:
    """Expected times and deadlines set by this record lie after its event time, and
    every window starts before it ends."""
    event_time = proposal.event_time
    payload = proposal.payload
    keys = tuple(payload)
    known = _estimate_keys(keys)
    for key, is_date in _estimate_roles(keys) if known is None else known:
        value = payload[key]
        path = f"payload.{key}"
        if not is_date:
            moment = proposal.instant(key)
            if moment is None:
                yield Violation(path, f"expected time {value!r} is not an RFC 3339 time "
                                "with an offset")
            elif moment <= event_time:
                yield Violation(path, f"expected time {value} is not after the event time "
                                f"{event_time.isoformat()}")
            continue
        day = parse_calendar_date(value)
        event_day = event_time.astimezone(CHINA_TIME).date()
        if day is None:
            yield Violation(path, f"expected date {value!r} is not a YYYY-MM-DD date")
        elif day < event_day:
            yield Violation(path, f"expected date {day} is before the event's date "
                            f"{event_day} (China time)")
    if _WINDOW_KEYS.isdisjoint(keys):
        return  # no window in this record (an absent key reads as no time)
    for start_key, end_key in WINDOW_PAIRS:
        start = proposal.instant(start_key)
        end = proposal.instant(end_key)
        if start is not None and end is not None and start >= end:
            yield Violation(f"payload.{end_key}", f"window ends ({end.isoformat()}) before "
                            f"it starts ({start.isoformat()}, {start_key})")


def _estimate_roles(keys: tuple[str, ...]) -> Iterator[tuple[str, bool]]:
    """Of a payload's keys, in order, those `estimates_after_event` reads, each with
    whether it holds a date (else a time). Raises AttributeError for a key that is not
    a string, when it comes to it."""
    for key in keys:
        if key in ESTIMATE_FIELDS or key.startswith("expected_"):
            yield key, False
        elif key in ESTIMATE_DATE_FIELDS:
            yield key, True


# Payload key sets come from the catalogue's schemas (a few per sub-state); the bound
# only guards against a flood of made-up ones.
@lru_cache(maxsize=1024)
def _estimate_keys(keys: tuple[str, ...]) -> tuple[tuple[str, bool], ...] | None:
    """`_estimate_roles(keys)`, remembered; None unless every key is a `str` (then the
    check classifies as it goes, to fail where it always did)."""
    if not all(type(key) is str for key in keys):
        return None
    return tuple(_estimate_roles(keys))


def admin_codes_plausible(proposal: Proposal, facts: OrderFacts) -> Iterator[Violation]:
    """Every `*admin_code` is a GB/T 2260 code: six digits under a real province prefix."""
    for path, key, value in proposal.derived(_keyed_leaves)[0]:
        if key is None or not key.endswith("admin_code"):
            continue
        text = value if isinstance(value, str) else repr(value)
        if not _ADMIN_CODE.match(text):
            yield Violation(path, f"GB/T 2260 administrative code must be six digits, "
                            f"got {text!r}")
        elif text[:2] not in PROVINCE_PREFIXES:
            yield Violation(path, f"GB/T 2260 code {text} has no province-level prefix "
                            f"{text[:2]}")


def carrier_and_waybill_plausible(proposal: Proposal, facts: OrderFacts) -> Iterator[Violation]:
    """Carrier codes name a carrier (lower-case code, no placeholder) and waybill numbers
    have a trackable form (8-32 upper-case letters and digits, at least six digits, not
    one repeated character)."""
    for path, key, value in proposal.derived(_keyed_leaves)[0]:
        if key is None:
            continue
        if key.endswith("carrier_code"):
            found = _carrier_code(path, value)
        elif key.endswith("waybill_no"):
            found = _waybill(path, value)
        else:
            continue
        if found is not None:
            yield found


def _carrier_code(path: str, value: Any) -> Violation | None:
    if not isinstance(value, str) or not _CARRIER_CODE.match(value):
        return Violation(path, f"carrier code must be a lower-case code such as sf, zto, "
                         f"jd, got {value!r}")
    if value in PLACEHOLDERS:
        return Violation(path, f"carrier code {value!r} is a placeholder, not a carrier")
    return None


def _waybill(path: str, value: Any) -> Violation | None:
    if not isinstance(value, str) or not _WAYBILL.match(value):
        return Violation(path, f"waybill number must be 8-32 upper-case letters and digits, "
                         f"got {value!r}")
    # The value matched _WAYBILL: ASCII letters and digits only, so its digits are the
    # ASCII ones translate drops.
    if len(value) - len(value.translate(_WITHOUT_ASCII_DIGITS)) < MIN_WAYBILL_DIGITS:
        return Violation(path, f"waybill number {value} has fewer than "
                         f"{MIN_WAYBILL_DIGITS} digits")
    if len(set(value)) == 1:
        return Violation(path, f"waybill number {value} repeats one character")
    return None


def _is_virtual_number_field(key: str | None, text: str) -> bool:
    # The catalogue's privacy numbers (courier_virtual_phone: 17012345678-1234) are
    # pseudonyms by design: they only ever carry an extension and route via the carrier.
    return key is not None and "virtual_phone" in key and bool(
        re.fullmatch(r"(95\d{3,4}|1\d{10})-\d{3,6}", text)
    )


def no_raw_mobile_numbers(proposal: Proposal, facts: OrderFacts) -> Iterator[Violation]:
    """No mainland mobile number appears unmasked anywhere in the payload."""
    if not proposal.derived(_may_hold_mobile_number):
        return
    for path, key, value in proposal.leaves:
        text = _scalar_text(value)
        if text is None or _is_virtual_number_field(key, text):
            continue
        for number in find_mobile_numbers(text):
            yield Violation(path, f"holds an unmasked mobile number ({_redact(number)}); "
                            "mask it (138****5678) or replace it with a pseudonym")


def no_raw_resident_ids(proposal: Proposal, facts: OrderFacts) -> Iterator[Violation]:
    """No 18-digit resident identity number (valid check character) appears unmasked."""
    if not proposal.derived(_may_hold_resident_id):
        return
    for path, _key, value in proposal.leaves:
        text = _scalar_text(value)
        if text is None:
            continue
        for number in find_resident_ids(text):
            yield Violation(path, f"holds an unmasked resident identity number "
                            f"({_redact(number)}); mask or pseudonymise it")


def no_full_names(proposal: Proposal, facts: OrderFacts) -> Iterator[Violation]:
    """Fields that name a person hold a masked name (张**) or a pseudonym, never a full name."""
    for path, _key, value in proposal.derived(_keyed_leaves)[1]:
        if looks_like_full_name(value):
            yield Violation(path, "holds an unmasked personal name; mask it (张**) or "
                            "replace it with a pseudonym")


def _long_texts(proposal: Proposal) -> tuple[str, ...]:
    # The leaf texts the identifier checks scan, less those too short to hold even a
    # mobile number (most codes and names).
    texts: list[str] = []
    for _path, _key, value in proposal.leaves:
        text = value if type(value) is str else _scalar_text(value)
        if text is not None and len(text) >= MOBILE_MIN_LENGTH:
            texts.append(text)
    return tuple(texts)


# The two checks first search all long texts at once, one per line: the detectors'
# patterns neither match a line break nor count it as a letter or digit, so an
# identifier in one leaf is found in the joined text too. Only a hit makes a check go
# leaf by leaf (to name the field).
def _may_hold_mobile_number(proposal: Proposal) -> bool:
    return may_hold_mobile_number("\n".join(proposal.derived(_long_texts)))


def _may_hold_resident_id(proposal: Proposal) -> bool:
    # Only a text with 18 characters, 17 of them digits, can hold an identity number:
    # most records hold none (a time has 14 digits), and skip the join and the search.
    texts = [text for text in proposal.derived(_long_texts)
             if len(text) >= RESIDENT_ID_LENGTH and _enough_digits_for_an_id(text)]
    return bool(texts) and may_hold_resident_id("\n".join(texts))



def _enough_digits_for_an_id(text: str) -> bool:
    # False only when `text` surely has fewer digits than an identity number's 17. Only
    # an ASCII text is counted (cheaply, in C); `\d` also matches other scripts' digits.
    return not text.isascii() or (
        len(text) - len(text.translate(_WITHOUT_ASCII_DIGITS)) >= RESIDENT_ID_LENGTH - 1
    )


def _scalar_text(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    return None


def _redact(identifier: str) -> str:
    # Findings are stored and shown: they must not repeat the identifier they report.
    digits = re.sub(r"\D", "", identifier)
    return f"{digits[:3]}****{digits[-2:]}" if len(digits) >= 7 else "****"
