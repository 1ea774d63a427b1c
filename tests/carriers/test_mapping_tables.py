"""The packaged mapping tables, their loader checks, and lookups."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from statemodel.carriers.mapping import (
    DATA_DIR,
    Mapped,
    MappingBook,
    MappingInvalid,
    UnknownMappingSource,
    Unmappable,
    load_mappings,
    mapping_book_from_documents,
    version_key,
)
from statemodel.carriers.report import BEGIN_MARKER, END_MARKER, render_summary
from statemodel.catalogue import load_catalogue
from statemodel.errors import PayloadInvalid
from statemodel.formats import load_yaml

REQUIRED_SOURCES = {"kuaidi100", "17track", "aftership", "cainiao", "karrio", "shippo", "easypost"}
# Pinned so that a silently dropped or added code shows up in review.
EXPECTED_TOTALS = {
    "17track": 38,
    "aftership": 56,
    "cainiao": 117,
    "easypost": 38,
    "karrio": 47,
    "kuaidi100": 35,
    "shippo": 33,
}
DOC = Path(__file__).parents[2] / "docs" / "carrier-mapping.md"


@pytest.fixture(scope="module")
def book() -> MappingBook:
    return load_mappings()


def _document(source: str) -> dict[str, Any]:
    loaded: dict[str, Any] = load_yaml((DATA_DIR / f"{source}.yaml").read_text("utf-8"))
    return loaded


def test_every_required_source_has_a_table(book: MappingBook) -> None:
    assert set(book.sources()) >= REQUIRED_SOURCES


def test_counts_per_source_and_in_total(book: MappingBook) -> None:
    counts = book.counts()
    assert {source: c.total for source, c in counts.items()} == EXPECTED_TOTALS
    assert book.total().total == sum(EXPECTED_TOTALS.values())
    assert book.total().total >= 300
    for source, c in counts.items():
        assert c.mapped > c.unmappable, f"{source} maps fewer codes than it gives up on"


def test_every_code_is_mapped_to_a_real_event_or_unmappable_with_a_reason(
    book: MappingBook,
) -> None:
    catalogue = book.catalogue
    triggers = {t.event for t in catalogue.transitions}
    for source in book.sources():
        for code, entry in book.table(source).entries.items():
            assert entry.raw_code == code
            assert entry.text_en
            assert entry.citation
            if isinstance(entry, Mapped):
                assert entry.event in catalogue.events, (source, code)
                assert entry.event in triggers, f"{source} {code}: {entry.event} triggers nothing"
                if entry.responsible_party is not None:
                    assert entry.responsible_party in catalogue.responsible_parties
                if entry.reason_code is not None:
                    assert entry.reason_code in book.reason_codes
            else:
                assert isinstance(entry, Unmappable)
                assert len(entry.reason) >= 10
                assert entry.known


def test_mapped_field_constants_are_valid_in_the_target_sub_state(book: MappingBook) -> None:
    from statemodel.machine import get_machine

    machine = get_machine(book.catalogue)
    for source in book.sources():
        for entry in book.table(source).entries.values():
            if isinstance(entry, Mapped) and entry.fields:
                (target,) = book.targets(entry.event)
                properties = book.catalogue.payload_schema(target)["properties"]
                assert set(entry.fields) <= set(properties), (source, entry.raw_code)
                with pytest.raises(PayloadInvalid, match="missing required") as caught:
                    machine.validate_payload(target, dict(entry.fields))
                # Only required fields may be missing: no constant itself is invalid.
                errors = caught.value.errors
                assert all(
                    message == "missing required actionable field" for _path, message in errors
                ), (source, entry.raw_code, errors)


@pytest.mark.parametrize(
    ("source", "code", "event", "reason_code"),
    [
        pytest.param(
            "aftership",
            "Exception_016",
            "facility_fault",
            "carrier_processing",
            id="as-016-facility-fault",
        ),
        pytest.param(
            "aftership", "Exception_017", "weather_delay", "weather_delay", id="as-017-weather"
        ),
        pytest.param(
            "aftership",
            "Exception_018",
            "customs_documents_required",
            "customs_documentation",
            id="as-018-customs-documents",
        ),
        pytest.param("kuaidi100", "205", "delivery_failed", None, id="k100-locker-overdue"),
        pytest.param(
            "kuaidi100", "209", "damage_reported", "carrier_damaged_parcel", id="k100-damaged"
        ),
        pytest.param(
            "cainiao",
            "GTMS_STA_SIGNED",
            "deposited_at_point",
            None,
            id="cainiao-station-sign-in-is-not-delivery",
        ),
        pytest.param(
            "17track",
            "InTransit_CustomsReleased",
            "customs_released",
            None,
            id="17track-customs-released",
        ),
    ],
)
def test_known_codes_map_as_documented(
    book: MappingBook, source: str, code: str, event: str, reason_code: str | None
) -> None:
    entry = book.lookup(source, code)
    assert isinstance(entry, Mapped)
    assert (entry.event, entry.reason_code) == (event, reason_code)


def test_kuaidi100_problem_code_without_sub_code_is_unmappable(book: MappingBook) -> None:
    entry = book.lookup("kuaidi100", "2")
    assert isinstance(entry, Unmappable)
    assert "ambiguous" in entry.reason


def test_unknown_code_is_none_and_unknown_source_or_version_raises(book: MappingBook) -> None:
    assert book.lookup("kuaidi100", "999") is None
    assert book.lookup("aftership", "exception_016") is None  # codes are case-sensitive
    with pytest.raises(UnknownMappingSource) as source_error:
        book.lookup("dhl", "1")
    assert source_error.value.field == "source"
    with pytest.raises(UnknownMappingSource) as version_error:
        book.lookup("kuaidi100", "1", mapping_version="2025.9")
    assert version_error.value.field == "mapping_version"


def test_resolve_prefers_the_first_code_that_maps(book: MappingBook) -> None:
    weather = book.resolve("karrio", ["reason.weather_delay", "delivery_delayed"])
    assert isinstance(weather, Mapped)
    assert weather.event == "weather_delay"
    # The reason is unmappable, the status maps: the status wins.
    fallback = book.resolve("karrio", ["reason.unknown", "delivery_failed"])
    assert isinstance(fallback, Mapped)
    assert fallback.raw_code == "delivery_failed"
    neither = book.resolve("karrio", ["reason.unknown", "no-such-code"])
    assert isinstance(neither, Unmappable)
    assert neither.raw_code == "reason.unknown"
    assert book.resolve("karrio", ["no-such-code"]) is None


def test_versions_coexist_and_the_highest_is_current() -> None:
    catalogue = load_catalogue()
    old = _document("kuaidi100")
    new = copy.deepcopy(old)
    new["mapping_version"] = "2026.10"
    new["codes"] = [c for c in new["codes"] if c["code"] != "209"]
    newer_than_nine = copy.deepcopy(old)
    newer_than_nine["mapping_version"] = "2026.9"
    book = mapping_book_from_documents([new, old, newer_than_nine], catalogue)
    assert book.versions("kuaidi100") == ("2026.1", "2026.9", "2026.10")
    assert book.current_version("kuaidi100") == "2026.10"
    assert book.lookup("kuaidi100", "209") is None
    assert isinstance(book.lookup("kuaidi100", "209", mapping_version="2026.1"), Mapped)
    assert version_key("2026.10") > version_key("2026.9")


def test_default_book_is_cached() -> None:
    assert load_mappings() is load_mappings()


def _set(path: tuple[Any, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        target: Any = document
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value

    return change


def _code(code: str, **changes: Any) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        entry = next(c for c in document["codes"] if c["code"] == code)
        for key, value in changes.items():
            if value is None:
                entry.pop(key, None)
            else:
                entry[key] = value

    return change


def _duplicate_first(document: dict[str, Any]) -> None:
    document["codes"].append(copy.deepcopy(document["codes"][0]))


DOCTORED = [
    pytest.param(_set(("format",), "v0"), "fails its schema", id="wrong-format"),
    pytest.param(_set(("mapping_version",), "latest"), "fails its schema", id="bad-version"),
    pytest.param(_set(("codes",), []), "fails its schema", id="no-codes"),
    pytest.param(_code("203", event=None), "fails its schema", id="neither-event-nor-unmappable"),
    pytest.param(
        _code("203", unmappable="ambiguous without context"),
        "fails its schema",
        id="both-event-and-unmappable",
    ),
    pytest.param(_code("2", unmappable="short"), "fails its schema", id="reason-too-short"),
    pytest.param(_code("203", color="red"), "fails its schema", id="unknown-key"),
    pytest.param(_code("203", text_en=None), "fails its schema", id="no-description"),
    pytest.param(_code("203", event="delivery_fail"), "not a catalogue event", id="unknown-event"),
    pytest.param(
        _code("203", event="order_placed"),
        "triggers no catalogue transition",
        id="creation-only-event",
    ),
    pytest.param(
        _code("203", responsible_party="COURIER"), "not in the catalogue", id="unknown-party"
    ),
    pytest.param(
        _code("203", reason_code="made_up_reason"), "not a known reason code", id="unknown-reason"
    ),
    pytest.param(
        _code("203", fields={"fail_reason_code": "dog_ate_it"}),
        "is not valid in M07.04",
        id="field-value-outside-enum",
    ),
    pytest.param(
        _code("203", fields={"hub_name": "杭州转运中心"}),
        "declared by no sub-state",
        id="field-of-another-sub-state",
    ),
    pytest.param(
        _code("203", fields={"reason_code": "consignee_refused"}),
        "its own key",
        id="reserved-field",
    ),
    pytest.param(_code("203", cite="nowhere"), "not in citations", id="unknown-citation"),
    pytest.param(_duplicate_first, "duplicate raw code", id="duplicate-code"),
    pytest.param(
        _set(("catalogue_version",), "2025.1"), "targets catalogue", id="other-catalogue-version"
    ),
]


@pytest.mark.parametrize(("doctor", "message"), DOCTORED)
def test_doctored_table_is_rejected_at_load(
    doctor: Callable[[dict[str, Any]], None], message: str
) -> None:
    document = _document("kuaidi100")
    doctor(document)
    with pytest.raises(MappingInvalid, match=message):
        mapping_book_from_documents([document], load_catalogue())


def test_undoctored_copy_loads() -> None:
    """The doctored cases fail because of their change, not because of the copy."""
    book = mapping_book_from_documents([_document("kuaidi100")], load_catalogue())
    assert book.table("kuaidi100").counts.total == EXPECTED_TOTALS["kuaidi100"]


def test_two_tables_for_one_source_and_version_are_rejected() -> None:
    document = _document("17track")
    with pytest.raises(MappingInvalid, match=r"two mapping tables for 17track@2026\.1"):
        mapping_book_from_documents([document, copy.deepcopy(document)], load_catalogue())


def test_a_broken_file_in_a_data_dir_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "kuaidi100.yaml").write_text("source: [unclosed", encoding="utf-8")
    with pytest.raises(MappingInvalid, match="not valid YAML"):
        load_mappings(tmp_path, load_catalogue())
    with pytest.raises(MappingInvalid, match="no mapping tables"):
        load_mappings(tmp_path / "empty", load_catalogue())


def test_docs_summary_matches_the_tables(book: MappingBook) -> None:
    text = DOC.read_text(encoding="utf-8")
    start, end = text.index(BEGIN_MARKER), text.index(END_MARKER) + len(END_MARKER)
    assert text[start:end] == render_summary(book), (
        "docs/carrier-mapping.md is stale: run python -m statemodel.carriers.report"
    )
