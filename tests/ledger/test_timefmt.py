"""The statement time format: UTC, `Z`, exactly milliseconds, fixed width."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from ledger.timefmt import format_time, normalize_time, parse_time
from statemodel.errors import InvalidInput

CST = timezone(timedelta(hours=8))


@pytest.mark.parametrize(
    ("name", "moment", "text"),
    [
        ("whole second", datetime(2026, 2, 16, 15, 40, tzinfo=UTC), "2026-02-16T15:40:00.000Z"),
        ("microseconds are truncated, not rounded",
         datetime(2026, 2, 16, 15, 40, 0, 999_999, tzinfo=UTC), "2026-02-16T15:40:00.999Z"),
        ("an offset is converted to UTC",
         datetime(2026, 2, 17, 7, 40, 0, 1_000, tzinfo=CST), "2026-02-16T23:40:00.001Z"),
        ("the year keeps four digits", datetime(5, 1, 1, tzinfo=UTC), "0005-01-01T00:00:00.000Z"),
    ],
)
def test_format_time(name: str, moment: datetime, text: str) -> None:
    assert format_time(moment) == text, name
    assert len(format_time(moment)) == 24


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        format_time(datetime(2026, 2, 16, 15, 40))


def test_parse_then_format_gives_the_canonical_text() -> None:
    assert normalize_time("2026-02-17T07:40:00.5+08:00") == "2026-02-16T23:40:00.500Z"
    assert parse_time("2026-02-16T23:40:00Z") == datetime(2026, 2, 16, 23, 40, tzinfo=UTC)
    with pytest.raises(InvalidInput, match="no UTC offset"):
        parse_time("2026-02-16T23:40:00", field="event_time")
