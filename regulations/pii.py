"""Detectors for unmasked personal information in payload text (PIPL §6 minimisation).

Each detector answers whether a string still holds a raw identifier. They are
deliberately narrow: a false alarm refuses a good record, so every pattern is anchored
on boundaries that real identifiers have and look-alikes (waybill numbers, epoch
milliseconds, order numbers) do not.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final

# A mainland mobile number: 1[3-9] then nine digits, optionally behind +86 / 0086 / 86,
# with single spaces or dashes between digits ("138 1234 5678", "+86-138-1234-5678").
# It must not touch another letter or digit, so "SF13812345678" (a waybill) and
# "1771400000000" (epoch ms) do not match.
_MOBILE_DIGITS: Final = r"1[ \-]?[3-9](?:[ \-]?\d){9}"
_MOBILE: Final = re.compile(
    rf"(?<![0-9A-Za-z])(?:(?:\+|00)?86[ \-]?)?{_MOBILE_DIGITS}(?![0-9A-Za-z])"
)
#: The shortest text `_MOBILE` can match: eleven digits, no prefix, no separators.
MOBILE_MIN_LENGTH: Final = 11
# The digits alone: every match of _MOBILE contains a match of this, and a search for
# it can skip ahead to each "1" instead of testing the look-behind at every position.
_MOBILE_DIGITS_ANYWHERE: Final = re.compile(_MOBILE_DIGITS)

# An 18-digit resident identity number (GB 11643-1999): region, birth date, sequence,
# check character.
_RESIDENT_ID: Final = re.compile(r"(?<![0-9A-Za-z])([1-9]\d{16}[0-9Xx])(?![0-9A-Za-z])")
#: The length of every `_RESIDENT_ID` match.
RESIDENT_ID_LENGTH: Final = 18
_ID_WEIGHTS: Final = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK_CHARS: Final = "10X98765432"

# Characters that show a value was masked: 张*, 李**, J*** S****, 138****5678.
_MASK_CHARS: Final = frozenset("*＊×•●?")
# A pseudonym token: a prefixed reference or a long hex/base64url digest.
_PSEUDONYM: Final = re.compile(
    r"^(?:(?:tok|pseud|pseudo|pn|ref|hash|sha256)[:_\-][\w\-:.]+|[0-9a-fA-F]{16,}|[\w\-]{22,})$"
)
# 2-4 Han characters: the shape of almost every Chinese full name.
_HAN_NAME: Final = re.compile(r"^[\u4e00-\u9fff\u3400-\u4dbf·]{2,5}$")
# Two or more alphabetic words: "John Smith", "Li Wei".
_LATIN_NAME: Final = re.compile(r"^[A-Za-z][A-Za-z'\-.]*(?:\s+[A-Za-z][A-Za-z'\-.]*)+$")
# Roles written where a name would go; they identify nobody.
ROLE_WORDS: Final = frozenset(
    {
        "本人", "家人", "同事", "邻居", "门卫", "前台", "物业", "保安", "收发室", "代收点",
        "快递柜", "智能柜", "驿站", "菜鸟驿站", "快递驿站", "管理处", "传达室",
    }
)  # fmt: skip
# Key fragments that mark a field as naming a natural person.
_PERSON_KEY_PARTS: Final = (
    "recipient", "receiver", "consignee", "buyer", "sender", "shipper", "proxy", "signer",
    "signee", "courier", "contact", "customer", "technician", "inspector", "person",
    "addressee", "user", "driver", "holder",
)  # fmt: skip


def find_mobile_numbers(text: str) -> list[str]:
    """Every unmasked mainland mobile number in `text`, as written."""
    return [match.group(0) for match in _MOBILE.finditer(text)]


def may_hold_mobile_number(text: str) -> bool:
    """False only when `find_mobile_numbers(text)` is surely empty (one regex search).

    Also true of a text made of parts joined by line breaks whenever one part holds a
    number: the pattern neither matches a line break nor takes it for a letter or digit.
    """
    return _MOBILE_DIGITS_ANYWHERE.search(text) is not None


def may_hold_resident_id(text: str) -> bool:
    """False only when `find_resident_ids(text)` is surely empty (the checksum is not
    tested). Joined parts behave as for `may_hold_mobile_number`."""
    return _RESIDENT_ID.search(text) is not None


def resident_id_checksum_ok(candidate: str) -> bool:
    """True when an 18-character id has the ISO 7064 MOD 11-2 check character."""
    if len(candidate) != 18 or not candidate[:17].isdigit():
        return False
    digits = (int(digit) for digit in candidate[:17])
    total = sum(digit * weight for digit, weight in zip(digits, _ID_WEIGHTS, strict=True))
    return _ID_CHECK_CHARS[total % 11] == candidate[17].upper()


def find_resident_ids(text: str) -> list[str]:
    """Every 18-digit resident identity number in `text` whose check character is valid.

    A checksum failure is not reported: most 18-digit strings (order numbers) fail it,
    and a number that fails it identifies nobody.
    """
    return [
        match.group(1)
        for match in _RESIDENT_ID.finditer(text)
        if resident_id_checksum_ok(match.group(1))
    ]


def is_person_name_key(key: str | None) -> bool:
    """True for a field key that names a natural person (`proxy_name`, `buyerName`).

    Names of places and things (`hub_name`, `facility_name`) are not person names.
    """
    if key is None:
        return False
    return _is_person_name_key(key)


# Payload keys come from the catalogue's schemas: a few dozen distinct ones, asked about
# on every append. The bound only guards against a flood of made-up keys.
@lru_cache(maxsize=2048)
def _is_person_name_key(key: str) -> bool:
    lowered = key.lower()
    if "name" not in lowered:
        return False
    return lowered in {"name", "full_name", "fullname", "real_name", "realname"} or any(
        part in lowered for part in _PERSON_KEY_PARTS
    )


def is_masked_or_pseudonymised(text: str) -> bool:
    """True when the text shows masking characters or is a pseudonym token."""
    stripped = text.strip()
    return any(char in _MASK_CHARS for char in stripped) or bool(_PSEUDONYM.match(stripped))


def looks_like_full_name(text: str) -> bool:
    """True when an unmasked value in a person-name field has the shape of a full name.

    Role words (门卫, 前台, 驿站 …) and masked or pseudonymised values are not names.
    """
    stripped = text.strip()
    if not stripped or stripped in ROLE_WORDS or is_masked_or_pseudonymised(stripped):
        return False
    return bool(_HAN_NAME.match(stripped) or _LATIN_NAME.match(stripped))
