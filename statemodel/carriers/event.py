"""The normalised carrier event every webhook parser produces, and its dedupe key.

A CarrierEvent is one scan or status of one waybill as the source reported it, before any
mapping: raw code(s), raw text, when (an aware datetime in the source's local offset),
where, and the raw message kept as evidence. Mapping it to a catalogue event is
`statemodel.carriers.draft.to_append`.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from statemodel.canonical import canonical_json, sha256_hex

# Domain separation of the two kinds of dedupe key, so that an event id can never
# collide with a scan's content tuple.
_ID_KEY_TAG = "orderledger.carrier-event.id.v1"
_SCAN_KEY_TAG = "orderledger.carrier-event.scan.v1"


def utc_text(moment: datetime) -> str:
    """The instant as `YYYY-MM-DDTHH:MM:SS.ffffffZ` (UTC). Raises ValueError if naive."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment!r} has no UTC offset")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def dedupe_key(
    source: str, waybill_no: str, raw_code: str, occurred_at: datetime, event_id: str | None = None
) -> str:
    """Hex SHA-256 that identifies one carrier event across retries and re-deliveries.

    With a per-event id from the source: H(JCS([tag, source, event_id])). Without one:
    H(JCS([tag, source, waybill_no, raw_code, occurred_at in UTC])), so the same scan
    re-sent in a later push (Kuaidi100 and AfterShip resend the whole history) gets the
    same key. The instant, not its local spelling, is hashed: 14:00+08:00 == 06:00Z.
    Raises ValueError for a naive `occurred_at`.
    """
    if event_id:
        return sha256_hex(canonical_json([_ID_KEY_TAG, source, event_id]))
    return sha256_hex(
        canonical_json([_SCAN_KEY_TAG, source, waybill_no, raw_code, utc_text(occurred_at)])
    )


@dataclass(frozen=True, eq=False)
class CarrierEvent:
    """One carrier scan or status, normalised; `raw_message` is the source's own item.

    `raw_code` is the most specific code; `fallback_codes` are coarser codes of the same
    message (e.g. the AfterShip tag behind a subtag), tried in order when the specific
    one is unknown or unmappable. `event_id` is a per-event id from the source (used for
    the dedupe key); `notification_id` identifies the push that carried it (AfterShip's
    webhook event_id), evidence only.
    """

    source: str
    raw_code: str
    raw_text: str
    occurred_at: datetime
    waybill_no: str
    dedupe_key: str
    carrier_code: str | None = None
    fallback_codes: tuple[str, ...] = ()
    location_name: str | None = None
    location_admin_code: str | None = None
    event_id: str | None = None
    notification_id: str | None = None
    raw_message: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        if self.occurred_at.tzinfo is None or self.occurred_at.utcoffset() is None:
            raise ValueError("CarrierEvent.occurred_at must be an aware datetime")

    @property
    def codes(self) -> tuple[str, ...]:
        """Raw codes to look up, most specific first."""
        return (self.raw_code, *(c for c in self.fallback_codes if c != self.raw_code))

    @classmethod
    def build(
        cls,
        *,
        source: str,
        raw_code: str,
        raw_text: str,
        occurred_at: datetime,
        waybill_no: str,
        raw_message: Mapping[str, Any],
        carrier_code: str | None = None,
        fallback_codes: tuple[str, ...] = (),
        location_name: str | None = None,
        location_admin_code: str | None = None,
        event_id: str | None = None,
        notification_id: str | None = None,
    ) -> CarrierEvent:
        """A CarrierEvent with its dedupe key computed (see `dedupe_key`)."""
        return cls(
            source=source,
            raw_code=raw_code,
            raw_text=raw_text,
            occurred_at=occurred_at,
            waybill_no=waybill_no,
            dedupe_key=dedupe_key(source, waybill_no, raw_code, occurred_at, event_id),
            carrier_code=carrier_code,
            fallback_codes=fallback_codes,
            location_name=location_name,
            location_admin_code=location_admin_code,
            event_id=event_id,
            notification_id=notification_id,
            raw_message=MappingProxyType(copy.deepcopy(dict(raw_message))),
        )
