"""Reading payload values the way rules need them: walked, parsed, never trusted.

Payloads come from outside. Every helper here accepts any JSON-like value and answers
None (or nothing) for what it cannot read, so a rule decides what an unreadable value
means instead of crashing on it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any, Final

#: China Standard Time: carriers and platforms state calendar dates in it.
CHINA_TIME: Final = timezone(timedelta(hours=8), "CST")

#: (path, nearest mapping key, scalar) of one payload leaf.
Leaf = tuple[str, str | None, Any]


def walk(value: Any, path: str = "payload") -> Iterator[Leaf]:
    """Yield (path, key, leaf) for every scalar inside a nested payload.

    `key` is the name of the nearest enclosing mapping key (list items inherit their
    list's key), so a check on "name fields" still sees names inside a list. Mappings
    and lists are descended in order; other values are leaves.
    """
    yield from _walk(value, path, None)


#: Types that are always leaves: checked by exact type first, a cheaper test than the
#: Mapping ABC for the scalars that make up almost every payload.
_SCALAR_TYPES: Final = frozenset({str, int, float, bool, type(None)})


#: Mappings checked by exact type before the Mapping ABC: a payload is one of these.
_PLAIN_MAPPINGS: Final = frozenset({dict, MappingProxyType})


def leaves_of(value: Any, path: str = "payload") -> tuple[Leaf, ...]:
    """`tuple(walk(value, path))`, built without a generator per level (Proposal calls
    it on every append)."""
    found: list[Leaf] = []
    _collect(value, path, None, found)
    return tuple(found)


def _collect(value: Any, path: str, key: str | None, found: list[Leaf]) -> None:
    kind = type(value)
    if kind in _SCALAR_TYPES:
        found.append((path, key, value))
    elif kind in _PLAIN_MAPPINGS or isinstance(value, Mapping):
        for child_key, child in value.items():
            child_path = f"{path}.{child_key}"
            # str(child_key), without the call for the usual str key (same object).
            name = child_key if type(child_key) is str else str(child_key)
            if type(child) in _SCALAR_TYPES:
                found.append((child_path, name, child))
            else:
                _collect(child, child_path, name, found)
    elif isinstance(value, list | tuple):
        for index, child in enumerate(value):
            _collect(child, f"{path}.{index}", key, found)
    else:
        found.append((path, key, value))


def _walk(value: Any, path: str, key: str | None) -> Iterator[Leaf]:
    if isinstance(value, Mapping):
        for child_key, child in value.items():
            yield from _walk(child, f"{path}.{child_key}", str(child_key))
    elif isinstance(value, list | tuple):
        for index, child in enumerate(value):
            yield from _walk(child, f"{path}.{index}", key)
    else:
        yield path, key, value


def parse_instant(value: Any) -> datetime | None:
    """An aware UTC datetime from an aware datetime or an RFC 3339 string with offset.

    Answers None for anything else, including a naive timestamp and a bare date: an
    instant without an offset is ambiguous.
    """
    if type(value) is str:  # the usual case, first: RFC 3339 text from a payload
        if not _has_time_designator(value):
            return None
        try:
            moment = datetime.fromisoformat(value.strip().replace("z", "Z"))
        except ValueError:
            return None
    elif isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and "T" in value.upper():
        try:
            moment = datetime.fromisoformat(value.strip().replace("z", "Z"))
        except ValueError:
            return None
    else:
        return None
    zone = moment.tzinfo
    if zone is None:
        return None
    # A `timezone` (what fromisoformat builds) always has an offset; ask any other kind.
    if type(zone) is not timezone and moment.utcoffset() is None:
        return None
    return moment.astimezone(UTC)


def _has_time_designator(text: str) -> bool:
    """`"T" in text.upper()`, without building the upper-cased copy for ASCII text
    (only "t" and "T" upper-case to a "T" there; a few other letters do elsewhere)."""
    return "T" in text or "t" in text or (not text.isascii() and "T" in text.upper())


def parse_calendar_date(value: Any) -> date | None:
    """A calendar date from `YYYY-MM-DD` (a bare date, as carriers promise days)."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not isinstance(value, str) or "T" in value.upper():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        return None


def parse_number(value: Any) -> float | None:
    """A finite number from an int, a float or a numeric string; None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def parse_range(value: Any) -> tuple[float, float] | None:
    """A (low, high) range from `[low, high]`, `{"min": .., "max": ..}` or `"low..high"`.

    Answers None when the value is not such a range or low > high.
    """
    low: float | None
    high: float | None
    if isinstance(value, Mapping):
        low = parse_number(_first_present(value, ("min", "low", "min_c", "from")))
        high = parse_number(_first_present(value, ("max", "high", "max_c", "to")))
    elif isinstance(value, list | tuple) and len(value) == 2:
        low, high = parse_number(value[0]), parse_number(value[1])
    elif isinstance(value, str) and ".." in value:
        left, _, right = value.partition("..")
        low, high = parse_number(left), parse_number(right)
    else:
        return None
    if low is None or high is None or low > high:
        return None
    return (low, high)


def _first_present(mapping: Mapping[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        if key in mapping:
            return mapping[key]
    return None


def is_blank(value: Any) -> bool:
    """True for None, an empty or whitespace-only string, and an empty list or mapping."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list | tuple | Mapping):
        return len(value) == 0
    return False
