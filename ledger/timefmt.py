"""RFC 3339 timestamps as the evidence format writes them.

Statements carry UTC times with `Z` and exactly millisecond precision
(`2026-02-16T15:40:00.000Z`): one fixed width, so the text sorts like the instant and
a value read back from storage hashes to the same bytes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

from statemodel.errors import InvalidInput

_FORMAT: Final = "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ"


def format_time(moment: datetime) -> str:
    """Format an aware datetime as UTC RFC 3339 with milliseconds and `Z`.

    Raises ValueError for a naive datetime: a moment without an offset is ambiguous.
    """
    utc = moment
    if moment.tzinfo is not UTC:  # the append path's times are UTC already
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError("naive datetime: an offset is required")
        utc = moment.astimezone(UTC)
    # %-formatting of the fields truncates to milliseconds like the format requires and
    # pads the year to four digits (strftime's %Y does not on glibc); it costs half of
    # isoformat(timespec=...) and a tenth of strftime (three calls per appended record).
    return _FORMAT % (utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second,
                      utc.microsecond // 1000)


def parse_time(text: str, *, field: str = "time") -> datetime:
    """Parse an RFC 3339 timestamp that carries an offset (`Z` or `+08:00`).

    Raises InvalidInput naming `field` when the text is not such a timestamp.
    """
    if not isinstance(text, str) or "T" not in text.upper():
        raise InvalidInput(f"{field}: expected an RFC 3339 timestamp, got {text!r}", field=field)
    try:
        moment = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise InvalidInput(
            f"{field}: expected an RFC 3339 timestamp, got {text!r}", field=field
        ) from None
    if moment.tzinfo is None:
        raise InvalidInput(f"{field}: timestamp {text!r} has no UTC offset", field=field)
    return moment.astimezone(UTC)


def normalize_time(text: str, *, field: str = "time") -> str:
    """Parse then format: any RFC 3339 input to the statement's canonical form."""
    return format_time(parse_time(text, field=field))
