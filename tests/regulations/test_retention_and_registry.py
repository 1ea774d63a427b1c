"""Retention minima as data, and choosing packs by id and by effective date."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from regulations import cn_2026
from regulations.errors import NoPackInForce, RegulationError, UnknownPack
from regulations.pack import DEFAULT_PACK, PackId
from regulations.registry import PackRegistry, all_packs, get_pack, pack_in_force
from regulations.retention import ClockStart, RecordClass, add_months
from statemodel.errors import InvalidInput

POLICY = get_pack(str(DEFAULT_PACK)).retention_policy()
RECORDED = datetime(2026, 3, 5, 8, 0, tzinfo=UTC)
CLOSED = datetime(2026, 4, 1, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "start", "months", "expected"),
    [
        ("same day", datetime(2026, 3, 5, tzinfo=UTC), 18, datetime(2027, 9, 5, tzinfo=UTC)),
        ("month end clamps", datetime(2026, 8, 31, tzinfo=UTC), 18,
         datetime(2028, 2, 29, tzinfo=UTC)),
        ("three years", datetime(2026, 2, 28, tzinfo=UTC), 36, datetime(2029, 2, 28, tzinfo=UTC)),
        ("across a year end", datetime(2026, 12, 15, tzinfo=UTC), 1,
         datetime(2027, 1, 15, tzinfo=UTC)),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_add_months(name: str, start: datetime, months: int, expected: datetime) -> None:
    assert add_months(start, months) == expected


def test_minima_are_exposed_as_data() -> None:
    operation = POLICY.rules[RecordClass.OPERATION]
    transaction = POLICY.rules[RecordClass.TRANSACTION]
    assert (operation.minimum_months, operation.clock_start) == (18, ClockStart.RECORDED_AT)
    assert (transaction.minimum_months, transaction.clock_start) == (
        36, ClockStart.TRANSACTION_CLOSED)
    assert str(transaction.citation) == "电子商务法 §31"
    rows = POLICY.to_json()["rules"]
    assert isinstance(rows, list)
    assert {row["record_class"] for row in rows} == {"operation", "transaction"}


@pytest.mark.parametrize(
    ("name", "kind", "sub_state", "expected"),
    [
        ("hub scan", "transition", "M05.02", RecordClass.OPERATION),
        ("payment", "transition", "M01.02", RecordClass.TRANSACTION),
        ("signature", "transition", "M08.01", RecordClass.TRANSACTION),
        ("refund", "transition", "M10.04", RecordClass.TRANSACTION),
        ("SLA breach during returns", "sla_breach", "M10.03", RecordClass.OPERATION),
        ("unknown main state defaults to the longer", "transition", "M99.01",
         RecordClass.TRANSACTION),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_record_classes(name: str, kind: str, sub_state: str, expected: RecordClass) -> None:
    assert POLICY.class_of(kind, sub_state) is expected


def test_every_catalogue_main_state_is_classified() -> None:
    from tests.regulations.lifecycle import catalogue

    assert set(catalogue().main_states) == set(POLICY.main_states)


@pytest.mark.parametrize(
    ("name", "sub_state", "closed", "expected"),
    [
        ("operation: 18 months from recording", "M05.02", None,
         datetime(2027, 9, 5, 8, tzinfo=UTC)),
        ("transaction, order still open", "M08.01", None, None),
        ("transaction: 3 years from close", "M08.01", CLOSED, datetime(2029, 4, 1, tzinfo=UTC)),
        ("transaction closed long before: 18 months still hold", "M08.01",
         datetime(2020, 1, 1, tzinfo=UTC), datetime(2027, 9, 5, 8, tzinfo=UTC)),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_earliest_erasure(name: str, sub_state: str, closed: datetime | None,
                          expected: datetime | None) -> None:
    assert POLICY.earliest_erasure(kind="transition", sub_state=sub_state, recorded_at=RECORDED,
                                   transaction_closed_at=closed) == expected


def test_default_pack_in_force_from_its_effective_date() -> None:
    start = cn_2026.EFFECTIVE_FROM
    assert str(pack_in_force(start)) == "cn-fulfilment-2026@1.0.0"
    assert str(pack_in_force(datetime(2031, 6, 1, tzinfo=UTC))) == str(DEFAULT_PACK)
    with pytest.raises(NoPackInForce):
        pack_in_force(start - timedelta(microseconds=1))
    with pytest.raises(InvalidInput):
        pack_in_force(datetime(2026, 6, 1))


def test_get_pack_and_all_packs() -> None:
    assert get_pack("cn-fulfilment-2026@1.0.0").pack_id == PackId("cn-fulfilment-2026", "1.0.0")
    assert [str(pack) for pack in all_packs()] == ["cn-fulfilment-2026@1.0.0"]
    with pytest.raises(UnknownPack) as caught:
        get_pack("cn-fulfilment-2026@9.9.9")
    assert caught.value.field == "rules"


def two_versions() -> PackRegistry:
    switch = datetime(2027, 1, 1, tzinfo=cn_2026.EFFECTIVE_FROM.tzinfo)
    old = cn_2026.build_pack(effective_until=switch)
    new = cn_2026.build_pack(
        cn_2026.Cn2026Thresholds(backwards_flag_after=timedelta(minutes=30)),
        pack_id=PackId("cn-fulfilment-2026", "1.1.0"), effective_from=switch)
    return PackRegistry([new, old])


def test_new_version_applies_from_its_effective_date_old_stays_available() -> None:
    registry = two_versions()
    switch = datetime(2027, 1, 1, tzinfo=cn_2026.EFFECTIVE_FROM.tzinfo)
    assert registry.pack_in_force(switch - timedelta(seconds=1)).version == "1.0.0"
    assert registry.pack_in_force(switch).version == "1.1.0"
    assert registry.get_pack("cn-fulfilment-2026@1.0.0").version == "1.0.0"
    assert [p.version for p in registry.all_packs()] == ["1.0.0", "1.1.0"]


def test_open_ended_versions_resolve_to_the_latest_start() -> None:
    later = cn_2026.build_pack(pack_id=PackId("cn-fulfilment-2026", "2.0.0"),
                               effective_from=datetime(2028, 1, 1, tzinfo=UTC))
    registry = PackRegistry([cn_2026.build_pack(), later])
    assert registry.pack_in_force(datetime(2029, 1, 1, tzinfo=UTC)).version == "2.0.0"
    assert registry.pack_in_force(datetime(2027, 1, 1, tzinfo=UTC)).version == "1.0.0"


def test_the_remembered_answer_follows_every_edge_in_any_order() -> None:
    """pack_in_force remembers its last answer for the span between two pack edges; asked
    in any order, at and around the edges, it answers as a registry that never answered."""
    gap_start, gap_end = datetime(2027, 6, 1, tzinfo=UTC), datetime(2027, 9, 1, tzinfo=UTC)
    packs = [
        cn_2026.build_pack(effective_until=gap_start),
        cn_2026.build_pack(pack_id=PackId("cn-fulfilment-2026", "1.1.0"), effective_from=gap_end,
                           effective_until=datetime(2028, 1, 1, tzinfo=UTC)),
        cn_2026.build_pack(pack_id=PackId("cn-fulfilment-2026", "2.0.0"),
                           effective_from=datetime(2028, 1, 1, tzinfo=UTC)),
    ]
    edges = [cn_2026.EFFECTIVE_FROM, gap_start, gap_end, datetime(2028, 1, 1, tzinfo=UTC)]
    instants = [e + d for e in edges for d in (-timedelta(microseconds=1), timedelta(0),
                                               timedelta(microseconds=1), timedelta(days=30))]

    def answer(registry: PackRegistry, at: datetime) -> str:
        try:
            return registry.pack_in_force(at).version
        except NoPackInForce:
            return "none"

    expected = {at: answer(PackRegistry(packs), at) for at in instants}
    assert {"1.0.0", "1.1.0", "2.0.0", "none"} <= set(expected.values())
    remembering = PackRegistry(packs)
    for order in (instants, instants[::-1], instants[::2] + instants[1::2]):
        assert {at: answer(remembering, at) for at in order} == expected
        assert [answer(remembering, at) for at in order] == [expected[at] for at in order]


@pytest.mark.parametrize(
    ("name", "packs", "message"),
    [
        ("no packs", [], "at least one pack"),
        ("same id twice", [cn_2026.build_pack(), cn_2026.build_pack()], "registered twice"),
        ("two versions, same start",
         [cn_2026.build_pack(), cn_2026.build_pack(pack_id=PackId("cn-fulfilment-2026", "1.0.1"))],
         "start at"),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_ambiguous_registries_are_refused(name: str, packs: list[object], message: str) -> None:
    with pytest.raises(RegulationError, match=message):
        PackRegistry(packs)  # type: ignore[arg-type]


def test_thresholds_must_be_ordered() -> None:
    with pytest.raises(RegulationError):
        cn_2026.Cn2026Thresholds(backwards_flag_after=timedelta(days=2))
    with pytest.raises(RegulationError):
        cn_2026.Cn2026Thresholds(future_skew=timedelta(0))
