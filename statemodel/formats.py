"""Value formats the catalogue relies on: RFC 3339 times, data element names, strict YAML.

Kept apart from the catalogue loader so that the machine (payload validation), the SLA
rules and the metadata registry share one definition of each format.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import yaml
from jsonschema import FormatChecker

# ISO/IEC 11179-5 representation terms a data element name may end with. The one list:
# the catalogue loader checks every `x-data-element` against it.
REPRESENTATION_TERMS: tuple[str, ...] = (
    "Code",
    "Identifier",
    "DateTime",
    "Date",
    "Amount",
    "Quantity",
    "Number",
    "Text",
    "Name",
    "Indicator",
    "Measure",
    "Percent",
    "Hash",
    "Reference",
)

DATA_ELEMENT_KEYWORD = "x-data-element"
_UPPER_CAMEL = r"[A-Z][a-z0-9]*(?:[A-Z][a-z0-9]*)*"
# `\Z`, not `$`, in every pattern here: `$` also matches before a final "\n".
_DATA_ELEMENT_NAME = re.compile(rf"^({_UPPER_CAMEL})\.({_UPPER_CAMEL})\.({_UPPER_CAMEL})\Z")

# RFC 3339 §5.6 date-time; the offset is mandatory (`Z` or ±hh:mm).
_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})\Z"
)
# The strict subset that `datetime.fromisoformat` reads exactly as `parse_rfc3339` does
# (ASCII digits, upper-case `T`, at most microseconds, `Z` or ±hh:mm), which is what
# every feed and the ledger itself write: checked with one fullmatch, it skips the
# normalising of the general path.
_RFC3339_PLAIN = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?(?:Z|[+-][0-9]{2}:[0-9]{2})"
)
#: The text `parse_rfc3339` read last (the very object) and its value. An append parses
#: the same payload field twice in a row: the payload gate's `date-time` check, then the
#: SLA deadline anchored on it. One tuple, replaced whole, so threads may share it; only
#: the same object hits (str is immutable), so no input can read another's value.
_last_parsed: tuple[object, datetime] = (object(), datetime.min)
_FULL_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}\Z")

# The string formats payload schemas may use: exactly those our FormatChecker checks
# (jsonschema silently accepts formats it has no checker for).
CHECKED_FORMATS: frozenset[str] = frozenset({"date-time", "date"})


def parse_data_element_name(name: str) -> tuple[str, str, str]:
    """Split `ObjectClass.Property.RepresentationTerm` into its three parts.

    Raises ValueError when the name is not three UpperCamelCase parts or when the last
    part is not one of REPRESENTATION_TERMS.
    """
    match = _DATA_ELEMENT_NAME.match(name)
    if match is None:
        raise ValueError(
            f"data element name {name!r} is not ObjectClass.Property.RepresentationTerm "
            "in UpperCamelCase"
        )
    object_class, prop, term = match.groups()
    if term not in REPRESENTATION_TERMS:
        raise ValueError(
            f"data element name {name!r} ends in {term!r}, not a representation term "
            f"({', '.join(REPRESENTATION_TERMS)})"
        )
    return object_class, prop, term


def parse_rfc3339(text: str) -> datetime:
    """Parse an RFC 3339 date-time that carries an offset into an aware datetime.

    Fractions beyond microseconds are truncated. Raises ValueError for anything else
    (no offset, a space instead of `T`, out-of-range fields, leap second 60).
    """
    global _last_parsed
    last_text, last_moment = _last_parsed
    if text is last_text:
        return last_moment
    moment: datetime | None = None
    if _RFC3339_PLAIN.fullmatch(text) is not None:
        try:
            # `Z` reads as UTC, like the `+00:00` the general path puts in its place.
            moment = datetime.fromisoformat(text)
        except ValueError:
            moment = None  # an out-of-range field: the general path words the error
    if moment is None:  # outside any `except`, so its error carries no other context
        moment = _parse_general(text)
    _last_parsed = (text, moment)
    return moment


def _parse_general(text: str) -> datetime:
    """`parse_rfc3339` for every form RFC 3339 allows, and the one that words refusals."""
    match = _RFC3339.match(text)
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


def is_rfc3339_datetime(value: object) -> bool:
    """True for a string that `parse_rfc3339` accepts (non-strings are not our business)."""
    if not isinstance(value, str):
        return True
    try:
        parse_rfc3339(value)
    except ValueError:
        return False
    return True


def _is_full_date(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if _FULL_DATE.match(value) is None:
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def format_predicates() -> dict[str, Callable[[object], bool]]:
    """The check of each format in CHECKED_FORMATS (True: the value conforms; values
    that are not strings are not the format's business)."""
    return {"date-time": is_rfc3339_datetime, "date": _is_full_date}


def make_format_checker() -> FormatChecker:
    """A FormatChecker that really checks `date-time` (offset required) and `date`.

    jsonschema's own date-time check needs an optional package; without it the format
    would be accepted unchecked, so we register our own and nothing else.
    """
    checker = FormatChecker(formats=())
    for name, predicate in format_predicates().items():
        checker.checks(name)(predicate)
    return checker


# libyaml's parser when PyYAML was built with it (several times faster), else pure Python.
_SafeLoaderBase: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _StrictSafeLoader(_SafeLoaderBase):  # type: ignore[valid-type,misc]
    """SafeLoader that refuses duplicate mapping keys (PyYAML silently keeps the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *anchor` may be overridden by explicit keys
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"found duplicate key {key!r}",
                    key_node.start_mark,
                )
            seen.add(key)
        mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        return mapping


def load_yaml(text: str) -> Any:
    """Parse YAML (or JSON) text with safe types only, refusing duplicate keys.

    Raises yaml.YAMLError on syntax errors and duplicate keys.
    """
    return yaml.load(text, Loader=_StrictSafeLoader)  # noqa: S506 - a SafeLoader subclass


def json_type_problem(value: Any, path: str = "$") -> str | None:
    """Where `value` stops being plain JSON (e.g. a YAML date object), or None.

    Returns a message naming the JSON path of the first offending value.
    """
    if value is None or isinstance(value, (bool, str, int)):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{path}: {value!r} is not a finite number"
    if isinstance(value, list):
        for index, item in enumerate(value):
            problem = json_type_problem(item, f"{path}[{index}]")
            if problem is not None:
                return problem
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return f"{path}: key {key!r} is not a string"
            problem = json_type_problem(item, f"{path}.{key}")
            if problem is not None:
                return problem
        return None
    hint = " (quote dates and times in YAML)" if isinstance(value, (date, datetime)) else ""
    return f"{path}: {type(value).__name__} is not a JSON value{hint}"
