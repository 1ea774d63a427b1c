"""The erasure receipt: a signed report of one retention run.

The report counts what the run erased per tenant and record class, names the oldest and
newest record erased, and says which holds it respected and what it skipped. It is
signed by the ledger's record key over `REPORT_SIGNATURE_PREFIX || JCS(report)` and kept
in `retention_runs`, so `orderledger retention show RUN` can prove it later.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ledger import verify
from ledger.keys import LocalKey, PublishedKey
from ledger.store.retention_sql import RunEntry, RunItemEntry

REPORT_FORMAT: Final = "orderledger.retention-report.v1"
REPORT_SIGNATURE_PREFIX: Final = b"orderledger.retention-report.v1\x00"


def build_report(
    run: RunEntry,
    items: Iterable[RunItemEntry],
    *,
    log: str,
    finished_at: str,
    plan: Mapping[str, Any],
) -> dict[str, Any]:
    """The report of a run whose items are final, from one pass over `items` (any
    iterable, grouped by order as `run_items` and `run_items_page` return them, so a
    run's items can come page by page and memory stays bounded). `plan` is
    the summary stored when the run was planned and archived (holds respected at
    planning, archive)."""
    erased = skipped = erased_orders = 0
    last_erased_order: tuple[str, str] | None = None
    skipped_orders: set[str] = set()
    by_tenant: dict[str, dict[str, int]] = {}
    oldest: RunItemEntry | None = None
    newest: RunItemEntry | None = None
    for item in items:
        if not item.erased:
            skipped += 1
            skipped_orders.add(f"{item.tenant}/{item.order}")
            continue
        erased += 1
        # Items come grouped by order: counting changes of order counts the orders
        # without remembering them.
        if (item.tenant, item.order) != last_erased_order:
            erased_orders += 1
            last_erased_order = (item.tenant, item.order)
        per_tenant = by_tenant.setdefault(item.tenant, {})
        per_tenant[item.record_class] = per_tenant.get(item.record_class, 0) + 1
        if oldest is None or _age(item) < _age(oldest):
            oldest = item
        if newest is None or _age(item) >= _age(newest):
            newest = item
    return {
        "format": REPORT_FORMAT,
        "run_id": run.id,
        "log": log,
        "reference_time": run.reference_time,
        "started_at": run.started_at,
        "finished_at": finished_at,
        "archive": plan.get("archive"),
        "erased": {
            "records": erased,
            "orders": erased_orders,
            "by_tenant": by_tenant,
            "oldest": None if oldest is None else _ref(oldest),
            "newest": None if newest is None else _ref(newest),
        },
        "holds": plan.get("holds", {}),
        # Planned and archived, but held (or no longer erasable) when their order's turn
        # came: a hold placed while the run went on.
        "skipped": {
            "records": skipped,
            "orders": sorted(skipped_orders),
        },
    }


def _age(item: RunItemEntry) -> tuple[str, str, str, int]:
    return (item.recorded_at, item.tenant, item.order, item.seq)


def _ref(item: RunItemEntry) -> dict[str, Any]:
    return {"tenant": item.tenant, "order": item.order, "seq": item.seq,
            "recorded_at": item.recorded_at}


def sign_report(report: Mapping[str, Any], key: LocalKey) -> str:
    """b64 Ed25519 signature over REPORT_SIGNATURE_PREFIX || JCS(report)."""
    raw = key.sign_raw(REPORT_SIGNATURE_PREFIX + verify.canonical_json(report))
    return base64.b64encode(raw).decode("ascii")


def report_verifies(
    report: Mapping[str, Any], signature: str, key: PublishedKey, *, signed_at: str
) -> bool:
    """True when `signature` is `key`'s over the report and `key` could sign at
    `signed_at` (the run's finish). Malformed input gives False."""
    try:
        raw = verify.b64decode_strict(signature, length=64)
        Ed25519PublicKey.from_public_bytes(key.public_key).verify(
            raw, REPORT_SIGNATURE_PREFIX + verify.canonical_json(report)
        )
    except (ValueError, InvalidSignature):
        return False
    return key.may_sign_at(signed_at)
