"""What the rules need to know about an order's past, folded record by record.

Rules must not re-read a whole chain on every append. `OrderFacts` is the small,
frozen summary they read instead: `OrderFacts.initial()` before seq 0 and
`facts.advance(proposal)` after each ACCEPTED record. The fold is pure and
deterministic, so the ledger stores the facts beside the order head and an audit
recomputes them from the chain with the same fold and compares.

The fold only reads the catalogue's stable sub-state codes (DOMAIN.md §7) and payload
fields; a payload value it cannot read falls back to the record's event time, so the
fold never fails on data the append service already accepted.
"""

from __future__ import annotations

from _json import encode_basestring
from contextlib import suppress
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from operator import attrgetter
from typing import Any, Final

from regulations.proposal import Proposal
from regulations.values import parse_instant, parse_number, parse_range
from statemodel.canonical import MAX_SAFE_INTEGER, canonical_json

PAID: Final = "M01.02"
SIGNED_BY_RECIPIENT: Final = "M08.01"
SIGNED_BY_PROXY: Final = "M08.02"
SIGNED_STATES: Final = frozenset({SIGNED_BY_RECIPIENT, SIGNED_BY_PROXY})
COOLING_OFF: Final = "M08.03"
COLD_CHAIN_BREACH: Final = "M09.06"
RETURN_REQUESTED: Final = "M10.01"
RETURN_RECEIVED: Final = "M10.03"
REFUNDED: Final = "M10.04"
CANCELLED: Final = "M12.01"
COMPLETED: Final = "M12.02"
#: Entering one of these closes the transaction: the 3-year clock of 电子商务法 §31 starts.
TRANSACTION_CLOSING_STATES: Final = frozenset({CANCELLED, COMPLETED})

#: 消保法 §25: seven days from receipt, and a refund within seven days of the return.
COOLING_OFF_DAYS: Final = 7
REFUND_PERIOD: Final = timedelta(days=7)
#: Exclusion reasons that the law itself names (消保法 §25 ¶1 (1)-(4)); only the catch-all
#: "other goods the consumer confirmed as unsuitable" needs a confirmation at purchase.
STATUTORY_EXCLUSIONS: Final = frozenset(
    {"custom_made", "perishable", "digital_opened", "periodical"}
)
CONFIRMED_EXCLUSION: Final = "consumer_confirmed_unsuitable"
#: Lowest temperature the catalogue can measure (its schema minimum): the open lower
#: bound of a frozen class, written as a number so the range stays JSON.
COLDEST_MEASURABLE_C: Final = -100.0
#: Required temperature range of each catalogue temperature class (`temp_class`).
TEMPERATURE_CLASS_RANGES: Final = {
    "chilled_0_4c": (0.0, 4.0),
    "chilled_2_8c": (2.0, 8.0),
    "frozen_minus18c": (COLDEST_MEASURABLE_C, -18.0),
    "deep_frozen_minus60c": (COLDEST_MEASURABLE_C, -60.0),
}


def cooling_off_end(delivered_at: datetime) -> datetime:
    """When the 7-day no-reason window closes for goods signed for at `delivered_at`.

    Seven times 24 hours from the signature (消保法 §25 "自收到商品之日起七日"; the
    catalogue's M08.03 timer counts the same). 《网络购买商品七日无理由退货暂行办法》 may
    count from the day after signing, which would end later; that text is not verified
    (DOMAIN.md §4), so a platform that grants the longer window states it in M08.03
    `window_end_at` and the fold keeps the later end.
    """
    return delivered_at + timedelta(days=COOLING_OFF_DAYS)


_TIME_FIELDS: Final = frozenset(
    {
        "placed_at", "paid_at", "last_event_time", "latest_event_time", "delivered_at",
        "cooling_off_ends_at", "exclusion_confirmed_at", "return_requested_at",
        "return_received_at", "refund_due_at", "refunded_at", "closed_at", "completed_at",
    }
)  # fmt: skip


#: The payload keys `required_range` reads.
_RANGE_KEYS: Final = frozenset(
    {"required_min_c", "required_max_c", "required_range_c", "temp_class"}
)


def declared_range(proposal: Proposal) -> tuple[float, float] | None:
    """`required_range(proposal.payload)`, computed once per proposal (the fold and both
    cold-chain rules read it)."""
    return proposal.derived(_declared_range)


def _declared_range(proposal: Proposal) -> tuple[float, float] | None:
    return required_range(proposal.payload)


def required_range(payload: Any) -> tuple[float, float] | None:
    """The required temperature range a payload declares, if any.

    Read from `required_min_c`/`required_max_c` (M09.06), a `required_range_c` range,
    or a cold `temp_class` (M03.02); None when the payload declares none.
    """
    if payload.keys().isdisjoint(_RANGE_KEYS):
        return None  # declares nothing (what the reads below answer for absent keys)
    low, high = parse_number(payload.get("required_min_c")), parse_number(
        payload.get("required_max_c")
    )
    if low is not None and high is not None and low <= high:
        return (low, high)
    declared = parse_range(payload.get("required_range_c"))
    if declared is not None:
        return declared
    temp_class = payload.get("temp_class")
    return TEMPERATURE_CLASS_RANGES.get(temp_class) if isinstance(temp_class, str) else None


# Not slotted on purpose: the fold, `to_json` and `from_json` copy or fill all 21 fields
# at once through the instance dict (one C call each, see `_built`), where 21 slot
# stores or reads cost more than the rest of the fold. Frozen all the same.
@dataclass(frozen=True)
class OrderFacts:
    """The facts of one order after its accepted records (see module docstring).

    Times are aware UTC datetimes. `latest_event_time` is the highest event time of any
    transition so far (the high-water mark that later events must not run far behind);
    `last_event_time` is the event time of the latest transition. `delivered_at` is the
    FIRST signature's `signed_at` (电子商务法 §51); `closed_at`/`completed_at` are the
    LATEST closure, so retention counted from them is never too short.
    """

    records: int = 0
    current_state: str | None = None
    states_visited: tuple[str, ...] = ()
    placed_at: datetime | None = None
    paid_at: datetime | None = None
    last_event_time: datetime | None = None
    latest_event_time: datetime | None = None
    delivered_at: datetime | None = None
    delivery_state: str | None = None
    cooling_off_ends_at: datetime | None = None
    exclusion_reason_code: str | None = None
    exclusion_confirmed_at: datetime | None = None
    return_requested_at: datetime | None = None
    return_request_type: str | None = None
    return_received_at: datetime | None = None
    return_inspection_result: str | None = None
    refund_due_at: datetime | None = None
    refunded_at: datetime | None = None
    cold_chain_range_c: tuple[float, float] | None = None
    closed_at: datetime | None = None
    completed_at: datetime | None = None

    @classmethod
    def initial(cls) -> OrderFacts:
        """The facts of an order before its first record."""
        return cls()

    @property
    def purchased_at(self) -> datetime | None:
        """When the purchase was made: payment if recorded, else placement (COD orders)."""
        return self.paid_at or self.placed_at

    @property
    def cooling_off_excluded(self) -> bool:
        """True when no-reason return does not apply to these goods.

        A statutory exclusion (custom-made, perishable, opened digital goods,
        periodicals) applies by law. The catch-all exclusion counts only when the buyer
        confirmed it at or before the purchase (消保法 §25 "消费者在购买时确认"); a
        confirmation after the purchase, or with no purchase time known, does not.
        """
        if self.exclusion_reason_code in STATUTORY_EXCLUSIONS:
            return True
        purchase, confirmed = self.purchased_at, self.exclusion_confirmed_at
        return (
            self.exclusion_reason_code == CONFIRMED_EXCLUSION
            and confirmed is not None
            and purchase is not None
            and confirmed <= purchase
        )

    def in_cooling_off(self, moment: datetime) -> bool:
        """True when `moment` lies inside the no-reason window opened by the signature."""
        if self.delivered_at is None or self.cooling_off_ends_at is None:
            return False
        return self.delivered_at <= moment < self.cooling_off_ends_at

    def advance(self, proposal: Proposal) -> OrderFacts:
        """The facts after `proposal` was accepted. Pure: `self` is unchanged.

        Only call this for records the pack and the ledger accepted; a refused proposal
        must leave the stored facts as they were. Records of other kinds than
        `transition` only count.
        """
        if not proposal.is_transition:
            return self._replace({"records": self.records + 1})
        payload = proposal.payload
        at = proposal.event_time
        if at.tzinfo is not UTC:  # astimezone(UTC) of a UTC time is that time itself
            at = at.astimezone(UTC)
        to_state = proposal.to_state
        changes: dict[str, Any] = {
            "records": self.records + 1,
            "current_state": to_state,
            "last_event_time": at,
            "latest_event_time": at if self.latest_event_time is None
            else max(at, self.latest_event_time),
        }
        if to_state not in self.states_visited:
            changes["states_visited"] = (*self.states_visited, to_state)
        if proposal.is_creation and self.placed_at is None:
            changes["placed_at"] = at
        if to_state == PAID and self.paid_at is None:
            changes["paid_at"] = _time_or(proposal.instant("paid_at"), at)
        if to_state in SIGNED_STATES and self.delivered_at is None:
            delivered = _time_or(proposal.instant("signed_at"), at)
            changes |= {
                "delivered_at": delivered,
                "delivery_state": to_state,
                "cooling_off_ends_at": cooling_off_end(delivered),
            }
        if to_state == COOLING_OFF:
            changes |= self._cooling_off(proposal, changes)
        if to_state == RETURN_REQUESTED:
            request_type = payload.get("request_type")
            changes |= {
                "return_requested_at": _time_or(proposal.instant("requested_at"), at),
                "return_request_type": request_type if isinstance(request_type, str) else None,
                "return_received_at": None,
                "return_inspection_result": None,
                "refund_due_at": None,
            }
        if to_state == RETURN_RECEIVED:
            received = _time_or(proposal.instant("received_at"), at)
            result = payload.get("inspection_result")
            changes |= {
                "return_received_at": received,
                "return_inspection_result": result if isinstance(result, str) else None,
                "refund_due_at": received + REFUND_PERIOD,
            }
        if to_state == REFUNDED:
            changes["refunded_at"] = _time_or(proposal.instant("resolved_at"), at)
        declared = declared_range(proposal)
        if declared is not None:
            changes["cold_chain_range_c"] = declared
        if to_state in TRANSACTION_CLOSING_STATES:
            changes["closed_at"] = at
        if to_state == COMPLETED:
            changes["completed_at"] = _time_or(proposal.instant("completed_at"), at)
        return self._replace(changes)

    def _replace(self, changes: dict[str, Any]) -> OrderFacts:
        # dataclasses.replace, without its walk over the field specs.
        values = _field_values(self)
        values.update(changes)
        return _built(values)

    def _cooling_off(self, proposal: Proposal, changes: dict[str, Any]) -> dict[str, Any]:
        payload = proposal.payload
        found: dict[str, Any] = {}
        # A platform may keep the window open longer than the law; it may never shorten it.
        stated_end = proposal.instant("window_end_at")
        legal_end = changes.get("cooling_off_ends_at", self.cooling_off_ends_at)
        if stated_end is not None and legal_end is not None and stated_end > legal_end:
            found["cooling_off_ends_at"] = stated_end
        if payload.get("eligible") is False:
            reason = payload.get("exclusion_reason_code")
            found["exclusion_reason_code"] = reason if isinstance(reason, str) else None
            found["exclusion_confirmed_at"] = proposal.instant("exclusion_confirmed_at")
        return found

    def to_json(self) -> dict[str, Any]:
        """Plain JSON (times as RFC 3339 UTC with `Z`, full precision); `from_json` inverts it."""
        document = _field_values(self)
        for name, value in document.items():  # replaces values only: the keys stay put
            if value is None:
                continue  # None stays None, whatever the field (most are, most of the time)
            if name in _TIME_FIELDS:
                # The fold's times are all UTC: skip `_format`'s test for naive ones.
                document[name] = (_format_aware(value) if value.tzinfo is UTC
                                  else _format(value))
            elif isinstance(value, tuple):
                document[name] = list(value)
        return document

    def canonical_text(self) -> str:
        """The RFC 8785 text of `to_json()`, as `canonical_json` writes it.

        The keys are the fields' names, fixed and ASCII, so their order is too: the text
        is written field by field (the store writes an order's facts once per unit of
        work that moves it, and canonical_json's checks, sort and encoder cost ~13 µs a
        time). Strings go through the C escaper of canonical_json's fast path. A value
        written otherwise (a float, as in a cold-chain range), a string that is not valid
        Unicode or a subclass goes to `canonical_json`, which raises as it does;
        tests/regulations/test_facts.py holds both byte-equal.
        """
        if type(self) is OrderFacts:
            values = self.__dict__
            parts = []
            for name, key in _CANONICAL_KEYS:
                value = values[name]
                kind = type(value)
                if value is None:
                    parts.append(key + "null")
                elif kind is str:
                    parts.append(key + encode_basestring(value))
                elif kind is datetime:
                    text = _format_aware(value) if value.tzinfo is UTC else _format(value)
                    parts.append(f'{key}"{text}"')
                elif kind is int and -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
                    parts.append(key + str(value))
                elif kind is tuple and all(type(item) is str for item in value):
                    parts.append(f"{key}[{','.join(map(encode_basestring, value))}]")
                else:
                    break  # the reference writes it, or says why it cannot
            else:
                text = "{" + ",".join(parts) + "}"
                with suppress(UnicodeEncodeError):  # a lone surrogate: the reference raises
                    text.encode()
                    return text
        return canonical_json(self.to_json()).decode()

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> OrderFacts:
        """Facts from `to_json` output. Raises ValueError for unknown keys or bad times."""
        if not document.keys() <= _FIELD_NAME_SET:
            unknown = sorted(set(document) - _FIELD_NAME_SET)
            raise ValueError(f"unknown order-facts fields: {unknown}")
        if cls is OrderFacts:
            # The loop below is the reference: it says why a document is refused.
            with suppress(Exception):
                return _facts_of_document(document)
        values: dict[str, Any] = dict(_DEFAULTS) if cls is OrderFacts else {}
        for name, value in document.items():
            if name in _TIME_FIELDS and value is not None:
                moment = _stored_instant(value) if type(value) is str else parse_instant(value)
                if moment is None:
                    raise ValueError(f"order facts {name}: not an RFC 3339 time: {value!r}")
                value = moment
            elif name == "states_visited":
                value = tuple(value)
            elif name == "cold_chain_range_c" and value is not None:
                value = (float(value[0]), float(value[1]))
            values[name] = value
        return _built(values) if cls is OrderFacts else cls(**values)


#: The fields in declaration order (the order `to_json` writes), read once: looking them
#: up with `dataclasses.fields` on every append cost more than the conversion itself.
_FIELD_NAMES: Final = tuple(spec.name for spec in fields(OrderFacts))
_FIELD_NAME_SET: Final = frozenset(_FIELD_NAMES)
#: The time fields, in `_FIELD_NAMES` order.
_TIME_NAMES: Final = tuple(name for name in _FIELD_NAMES if name in _TIME_FIELDS)
#: (field, its JSON key and colon) in RFC 8785 order: the names are ASCII, so sorting
#: them by code point sorts them by UTF-16 code unit.
_CANONICAL_KEYS: Final = tuple((name, f'"{name}":') for name in sorted(_FIELD_NAMES))
#: Every field's value, in `_FIELD_NAMES` order, in one call.
_read_fields: Final = attrgetter(*_FIELD_NAMES)
#: Each field's default, by name, in `_FIELD_NAMES` order (all immutable).
_DEFAULTS: Final = tuple(zip(_FIELD_NAMES, _read_fields(OrderFacts()), strict=True))
if hasattr(OrderFacts, "__post_init__"):  # `_built` would skip it
    raise TypeError("OrderFacts gained a __post_init__: _built must call it")


def _facts_of_document(document: dict[str, Any]) -> OrderFacts:
    """`OrderFacts.from_json(document)` for a well-formed document: the defaults, updated
    with the document in one step, then the few fields that need converting. Raises
    (something) for any document `from_json`'s loop refuses; that loop then tells why."""
    if not document.keys() <= _FIELD_NAME_SET:
        raise ValueError("unknown fields")  # never shown: from_json's own check words it
    values = dict(_DEFAULTS)
    values.update(document)
    for name in _TIME_NAMES:
        value = values[name]
        if value is not None:
            moment = _stored_instant(value) if type(value) is str else parse_instant(value)
            if moment is None:
                raise ValueError(name)
            values[name] = moment
    values["states_visited"] = tuple(values["states_visited"])
    declared = values["cold_chain_range_c"]
    if declared is not None:
        values["cold_chain_range_c"] = (float(declared[0]), float(declared[1]))
    return _built(values)


def _built(values: dict[str, Any]) -> OrderFacts:
    """`OrderFacts(**values)` for a fresh dict of every field, by name, in declaration
    order (the dict becomes the instance's own: the caller must not keep it).

    The frozen dataclass's __init__ sets each of the 21 fields through
    object.__setattr__; handing over the whole instance dict is one call, and the fold
    and `from_json` build facts on every append. OrderFacts has no __post_init__ to skip
    (checked above) and no field is computed, so the result is the same: the same
    attributes, in the same order, as __init__ would have stored.
    """
    facts = object.__new__(OrderFacts)
    object.__setattr__(facts, "__dict__", values)
    return facts


def _field_values(facts: OrderFacts) -> dict[str, Any]:
    """A new dict of every field's value, by name, in declaration order.

    An OrderFacts' instance dict holds just that (its __init__ and `_built` store the
    fields in that order, and it is frozen), so it is copied in one call; a subclass
    may hold more, so its fields are read one by one.
    """
    if type(facts) is OrderFacts:
        return facts.__dict__.copy()
    return dict(zip(_FIELD_NAMES, _read_fields(facts), strict=True))


# An order's stored facts repeat the same few times (placed_at, paid_at, the previous
# event's time) from one record to the next: remember their parses. A datetime is
# immutable, so sharing one is safe; an exception is not remembered (lru_cache).
@lru_cache(maxsize=4096)
def _stored_instant(text: str) -> datetime | None:
    return parse_instant(text)


def _time_or(moment: datetime | None, fallback: datetime) -> datetime:
    return fallback if moment is None else moment


def _format(moment: datetime) -> str:
    if moment.utcoffset() is None:  # naive: never in facts the fold built
        return _format_utc(moment)
    return _format_aware(moment)


# Formatting is most of `to_json`'s cost, and an order's facts carry the same times from
# one record to the next. Equal aware datetimes are the same instant, so they format to
# the same UTC text whatever their offset: the cache may answer for either.
@lru_cache(maxsize=4096)
def _format_aware(moment: datetime) -> str:
    return _format_utc(moment)


def _format_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
