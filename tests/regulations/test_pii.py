"""Personal-information detectors: written forms found, look-alikes left alone."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from regulations.pack import PackId
from regulations.pii import (
    find_mobile_numbers,
    find_resident_ids,
    is_person_name_key,
    looks_like_full_name,
    resident_id_checksum_ok,
)

SURROUNDINGS = st.sampled_from(["", " ", "电话", "联系人：", "tel: ", "(", "，", "派件员 张师傅 "])
SEPARATORS = st.sampled_from(["", " ", "-"])


@settings(max_examples=60, deadline=None)
@given(
    second=st.integers(min_value=3, max_value=9),
    rest=st.text(alphabet="0123456789", min_size=9, max_size=9),
    prefix=st.sampled_from(["", "+86", "+86 ", "0086-", "86 "]),
    separator=SEPARATORS,
    before=SURROUNDINGS,
    after=st.sampled_from(["", " ", "。", " 正在派件", ")"]),
)
def test_every_written_form_of_a_mobile_number_is_found(
    second: int, rest: str, prefix: str, separator: str, before: str, after: str
) -> None:
    digits = f"1{second}{rest}"
    written = separator.join([digits[:3], digits[3:7], digits[7:]])
    found = find_mobile_numbers(f"{before}{prefix}{written}{after}")
    assert len(found) == 1
    assert found[0].endswith(written)


@settings(max_examples=40, deadline=None)
@given(
    rest=st.text(alphabet="0123456789", min_size=9, max_size=9),
    mask_at=st.integers(min_value=3, max_value=7),
)
def test_masked_numbers_are_not_found(rest: str, mask_at: int) -> None:
    digits = f"13{rest}"
    masked = digits[:mask_at] + "****" + digits[mask_at + 4:]
    assert find_mobile_numbers(masked) == []


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("waybill with a letter prefix", "SF13812345678"),
        ("landline", "021-62345678"),
        ("second digit 2", "12812345678"),
        ("twelve digits", "138123456789"),
        ("epoch milliseconds", "1771400000000"),
        ("timestamp", "2026-03-05T14:30:00+08:00"),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_look_alikes_are_not_mobile_numbers(name: str, text: str) -> None:
    assert find_mobile_numbers(text) == []


@pytest.mark.parametrize(
    ("name", "candidate", "valid"),
    [
        ("check digit X", "11010519491231002X", True),
        ("check digit x", "11010519491231002x", True),
        ("numeric check digit", "440524188001010014", True),
        ("wrong check digit", "110105194912310021", False),
        ("seventeen digits", "11010519491231002", False),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_resident_id_checksum(name: str, candidate: str, valid: bool) -> None:
    assert resident_id_checksum_ok(candidate) is valid


def test_resident_ids_found_inside_text() -> None:
    assert find_resident_ids("身份证11010519491231002X号") == ["11010519491231002X"]
    assert find_resident_ids("order A11010519491231002X") == []


@pytest.mark.parametrize(
    ("key", "person"),
    [("proxy_name", True), ("recipient_name", True), ("buyerName", True), ("name", True),
     ("hub_name", False), ("station_name", False), ("facility_name", False),
     ("courier_ref", False), (None, False)],
)
def test_person_name_keys(key: str | None, person: bool) -> None:
    assert is_person_name_key(key) is person


@pytest.mark.parametrize(
    ("value", "full_name"),
    [("张三", True), ("欧阳娜娜", True), ("John Smith", True), ("张**", False),
     ("J*** S****", False), ("门卫", False), ("tok_9f2c1e77aa", False), ("", False),
     ("reception", False)],
)
def test_full_names(value: str, full_name: bool) -> None:
    assert looks_like_full_name(value) is full_name


def test_pack_id_parse() -> None:
    assert PackId.parse("cn-fulfilment-2026@1.0.0") == PackId("cn-fulfilment-2026", "1.0.0")
    for bad in ("cn-fulfilment-2026", "@1.0.0", "a@", "a@b@c"):
        with pytest.raises(ValueError, match="name@version"):
            PackId.parse(bad)
