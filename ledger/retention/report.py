"""The erasure receipt: a signed report of one retention run.

The report counts what the run erased per tenant and record class, names the oldest and
newest record erased, and says which holds it respected and what it skipped. It is
signed by the ledger's record key over `REPORT_SIGNATURE_PREFIX || JCS(report)` and kept
in `retention_runs`, so `orderledger retention show RUN` can prove it later.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
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
    items: Sequence[RunItemEntry],
    *,
    log: str,
    finished_at: str,
    plan: Mapping[str, Any],
) -> dict[str, Any]:
    """The report of a run whose items are final. `plan` is the summary stored when the
    run was planned and archived (holds respected at planning, archive)."""
    erased = [i for i in items if i.erased]
    skipped = [i for i in items if not i.erased]
    by_tenant: dict[str, dict[str, int]] = {}
    for item in erased:
        per_tenant = by_tenant.setdefault(item.tenant, {})
        per_tenant[item.record_class] = per_tenant.get(item.record_class, 0) + 1
    by_age = sorted(erased, key=lambda i: (i.recorded_at, i.tenant, i.order, i.seq))
    return {
        "format": REPORT_FORMAT,
        "run_id": run.id,
        "log": log,
        "reference_time": run.reference_time,
        "started_at": run.started_at,
        "finished_at": finished_at,
        "archive": plan.get("archive"),
        "erased": {
            "records": len(erased),
            "orders": len({(i.tenant, i.order) for i in erased}),
            "by_tenant": by_tenant,
            "oldest": _ref(by_age[0]) if by_age else None,
            "newest": _ref(by_age[-1]) if by_age else None,
        },
        "holds": plan.get("holds", {}),
        # Planned and archived, but held (or no longer erasable) when their order's turn
        # came: a hold placed while the run went on.
        "skipped": {
            "records": len(skipped),
            "orders": sorted({f"{i.tenant}/{i.order}" for i in skipped}),
        },
    }


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
