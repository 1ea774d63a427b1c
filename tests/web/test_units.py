"""The console's pure parts: redirect targets, the search form, the state-machine picture
and the bar charts (sessions: test_sessions.py)."""

from __future__ import annotations

import pytest

from api.web.charts import Bar, bar_chart, rate_tone
from api.web.machine_svg import render_machine_svg
from api.web.pages import safe_next
from api.web.search import parse_search
from statemodel.catalogue import load_catalogue


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("/console/orders/a/b", "/console/orders/a/b"),
        ("/console/dashboard?x=1", "/console/dashboard?x=1"),
        ("https://evil.example/console/", "/console/orders"),
        ("//evil.example/console/", "/console/orders"),
        ("/console/\\evil", "/console/orders"),
        ("/v1/api-keys", "/console/orders"),
        (None, "/console/orders"),
    ],
)
def test_redirect_targets_stay_in_the_console(given: str | None, expected: str) -> None:
    assert safe_next(given) == expected


@pytest.mark.parametrize(
    ("name", "params", "problem"),
    [
        ("empty", {}, None),
        ("all fields", {"tenant": "t", "main": "M05", "sub": "M05.01", "carrier": "sf",
                        "time_from": "2026-03-01T00:00", "time_to": "2026-03-02T00:00",
                        "breach": "yes", "findings": "no"}, None),
        ("unknown sub-state", {"sub": "M99.01"}, "unknown sub-state"),
        ("unknown main state", {"main": "M13"}, "unknown main state"),
        ("carrier with a wildcard", {"carrier": "s%"}, "not a carrier code"),
        ("bad time", {"time_from": "yesterday"}, "not a date and time"),
        ("reversed range", {"time_from": "2026-03-02T00:00", "time_to": "2026-03-01T00:00"},
         "ends before it starts"),
        ("bad choice", {"breach": "maybe"}, "choose yes, no or any"),
    ],
)
def test_search_form(name: str, params: dict[str, str], problem: str | None) -> None:
    form, query, found = parse_search(params, "scope-tenant")
    if problem is None:
        assert found is None, name
        assert query is not None
        assert query.tenant == (params.get("tenant") or "scope-tenant")
    else:
        assert query is None
        assert found is not None
        assert problem in found, name
    assert form.tenant == params.get("tenant", "")


def test_search_times_are_utc_and_canonical() -> None:
    _, query, _ = parse_search({"time_from": "2026-03-01T08:00", "time_to":
                                "2026-03-01T08:00+08:00"}, None)
    assert query is None  # 08:00+08:00 is 00:00Z, before 08:00Z
    _, query, _ = parse_search({"time_from": "2026-03-01T08:00"}, None)
    assert query is not None
    assert query.time_from == "2026-03-01T08:00:00.000Z"


def test_machine_picture_draws_every_sub_state_and_the_path() -> None:
    catalogue = load_catalogue()
    path = ["M01.01", "M01.02", "M02.01", "M02.01", "M09.03", "BOGUS"]
    svg = render_machine_svg(catalogue, path, breached=frozenset({"M09.03"}))
    assert svg.count('<g class="node') == len(catalogue.sub_states) == 41
    assert svg.count('class="node visited') == 4
    assert 'class="node visited current breached" data-code="M09.03"' in svg
    assert svg.count('class="path"') == 3  # the repeat is no move, the bogus code no node
    assert "BOGUS" not in svg
    assert render_machine_svg(catalogue, path) == render_machine_svg(catalogue, path)
    assert 'lang="zh-CN"' in svg


def test_bar_chart_carries_its_numbers_as_text() -> None:
    svg = bar_chart("on time <by> carrier", [Bar("sf", 0.5, "50% (1 met, 1 breached)", "bad"),
                                             Bar("zto", 1.0, "100%", "good")], maximum=1.0)
    assert "on time &lt;by&gt; carrier" in svg
    assert 'width="135.0"' in svg  # half of the bar track
    assert "sf: 50% (1 met, 1 breached)" in svg
    assert "no data" in bar_chart("empty", [])


@pytest.mark.parametrize(("rate", "tone"),
                         [(None, "neutral"), (1.0, "good"), (0.95, "good"), (0.9, "warn"),
                          (0.8, "warn"), (0.79, "bad")])
def test_rate_tone(rate: float | None, tone: str) -> None:
    assert rate_tone(rate) == tone
