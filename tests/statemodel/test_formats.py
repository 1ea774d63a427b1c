"""Shared value formats: RFC 3339 times, data element names, plain-JSON checks."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from statemodel.formats import (
    REPRESENTATION_TERMS,
    is_rfc3339_datetime,
    json_type_problem,
    make_format_checker,
    parse_data_element_name,
    parse_rfc3339,
)

GOOD_TIMES = [
    ("2026-03-02T15:40:00+08:00", datetime.datetime(2026, 3, 2, 7, 40, tzinfo=datetime.UTC)),
    ("2026-03-02T07:40:00Z", datetime.datetime(2026, 3, 2, 7, 40, tzinfo=datetime.UTC)),
    ("2026-03-02t07:40:00z", datetime.datetime(2026, 3, 2, 7, 40, tzinfo=datetime.UTC)),
    ("2026-03-02T07:40:00.5-01:00",
     datetime.datetime(2026, 3, 2, 8, 40, 0, 500000, tzinfo=datetime.UTC)),
]


@pytest.mark.parametrize(("text", "instant"), GOOD_TIMES)
def test_good_rfc3339(text: str, instant: datetime.datetime) -> None:
    assert parse_rfc3339(text) == instant
    assert is_rfc3339_datetime(text)


BAD_TIMES = ["2026-03-02T15:40:00", "2026-03-02 15:40:00+08:00", "2026-03-02",
             "2026-13-02T15:40:00Z", "2026-03-02T24:00:00Z", "2026-03-02T15:40:60Z",
             "2026-03-02T15:40+08:00", "2026-03-02T15:40:00+0800", "15:40"]


@pytest.mark.parametrize("text", BAD_TIMES)
def test_bad_rfc3339(text: str) -> None:
    with pytest.raises(ValueError):
        parse_rfc3339(text)
    assert not is_rfc3339_datetime(text)
    assert not make_format_checker().conforms(text, "date-time")


def test_format_checker_checks_dates_and_ignores_non_strings() -> None:
    checker = make_format_checker()
    assert checker.conforms("2026-03-04", "date")
    assert not checker.conforms("2026-02-30", "date")
    assert not checker.conforms("2026-3-4", "date")
    assert checker.conforms(20260304, "date-time")  # `type` is the schema's job


GOOD_NAMES = [("Parcel.Waybill.Identifier", ("Parcel", "Waybill", "Identifier")),
              ("Facility.ExpectedRecovery.DateTime", ("Facility", "ExpectedRecovery", "DateTime")),
              ("Contact.VirtualPhone.Identifier", ("Contact", "VirtualPhone", "Identifier"))]


@pytest.mark.parametrize(("name", "parts"), GOOD_NAMES)
def test_good_data_element_name(name: str, parts: tuple[str, str, str]) -> None:
    assert parse_data_element_name(name) == parts


@pytest.mark.parametrize("name", ["Parcel.Waybill", "Parcel.Waybill.Identifier.Extra",
                                  "parcel.Waybill.Identifier", "Parcel.Waybill.ID",
                                  "Parcel.Way_bill.Identifier", "Parcel..Identifier",
                                  "Parcel.Waybill.Money"])
def test_bad_data_element_name(name: str) -> None:
    with pytest.raises(ValueError):
        parse_data_element_name(name)


def test_representation_terms_are_the_agreed_list() -> None:
    assert set(REPRESENTATION_TERMS) == {
        "Code", "Identifier", "DateTime", "Date", "Amount", "Quantity", "Number", "Text",
        "Name", "Indicator", "Measure", "Percent", "Hash", "Reference"}


JSON_PROBLEMS: list[tuple[str, Any, str | None]] = [
    ("plain", {"a": [1, 2.5, "x", None, True]}, None),
    ("date", {"a": [datetime.date(2026, 3, 1)]}, "$.a[0]: date is not a JSON value"),
    ("nan", {"a": float("nan")}, "$.a: nan is not a finite number"),
    ("int key", {1: "x"}, "$: key 1 is not a string"),
    ("set", {"a": {1}}, "$.a: set is not a JSON value"),
]


@pytest.mark.parametrize(("value", "problem"), [j[1:] for j in JSON_PROBLEMS],
                         ids=[j[0] for j in JSON_PROBLEMS])
def test_json_type_problem(value: Any, problem: str | None) -> None:
    found = json_type_problem(value)
    assert found == problem if problem is None else (found or "").startswith(problem)


def test_registry_admits_exactly_the_same_representation_terms() -> None:
    """The metadata registry keeps a term -> data type map; its keys must be our list."""
    from statemodel.registry_rules import REPRESENTATION_TERMS as REGISTRY_TERMS

    assert set(REGISTRY_TERMS) == set(REPRESENTATION_TERMS)
