"""An order's proof bundle as the exact bytes offered for download, and what the offline
verifier says about each of its entries, as badges.

The bytes are deterministic for a given checkpoint: `exported_at` is pinned to the
checkpoint's own timestamp (not the time of the download), and the JSON is written in
one fixed layout. So the SHA-256 printed in the PDF report is the SHA-256 of every
download of the bundle until a newer checkpoint is published.

The badges come from `ledger.verify.verify_bundle`, the very function behind
`orderledger verify`, run on those bytes re-read as JSON; only the mapping of its
failures to entries and badges is here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from ledger.export import export_bundle
from ledger.service import Ledger
from ledger.verify import (
    BadCheckpoint,
    CheckpointBody,
    Failure,
    TrustSet,
    VerificationReport,
    parse_checkpoint_body,
    parse_note,
    read_json,
    verify_bundle,
)


@dataclass(frozen=True, slots=True)
class BundleDownload:
    """The bundle, its bytes, their SHA-256 (hex), and the checkpoint it is proven under."""

    bundle: dict[str, Any]
    data: bytes
    sha256: str
    checkpoint_size: int
    checkpoint_time: str | None

    def filename(self) -> str:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in
                       f"{self.bundle['tenant']}_{self.bundle['order']}")
        return f"{safe}.cp{self.checkpoint_size}.bundle.json"


def bundle_bytes(bundle: dict[str, Any]) -> bytes:
    """The download's fixed layout: UTF-8 JSON, keys in export order, one-space indent,
    Chinese as itself (the layout `orderledger export` writes), newline at the end."""
    return (json.dumps(bundle, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


def _checkpoint_head(note: str) -> tuple[int, str | None]:
    """(tree size, timestamp extension or None) of a checkpoint note, read without
    verifying it (the verifier does that). Raises BadCheckpoint when it cannot be read."""
    try:
        body: CheckpointBody = parse_checkpoint_body(parse_note(note).body)
    except (BadCheckpoint, ValueError) as exc:
        raise BadCheckpoint(f"checkpoint cannot be read: {exc}") from None
    stamp = next(
        (line.removeprefix("timestamp ") for line in body.extensions
         if line.startswith("timestamp ")),
        None,
    )
    return body.size, stamp


def download_bundle(ledger: Ledger, tenant: str, order: str) -> BundleDownload:
    """The order's bundle under the newest checkpoint, as deterministic bytes.

    Raises what `export_bundle` raises (UnknownOrder, StorageError), and BadCheckpoint
    when the stored checkpoint cannot even be parsed.
    """
    bundle = export_bundle(ledger, tenant, order)
    size, stamp = _checkpoint_head(bundle["checkpoint"])
    if stamp is not None:
        bundle["exported_at"] = stamp
    data = bundle_bytes(bundle)
    return BundleDownload(bundle, data, hashlib.sha256(data).hexdigest(), size, stamp)


# --- verification as badges ----------------------------------------------------------

#: Badge names, in the order they are shown, with the §7 rules that decide each one.
BADGES: Final[tuple[tuple[str, frozenset[int]], ...]] = (
    ("signature", frozenset({1, 3})),
    ("chain", frozenset({4})),
    ("payload", frozenset({5})),
    ("transition", frozenset({6})),
    ("inclusion", frozenset({2, 7})),
)
#: Rules whose bundle-wide failure makes a badge fail on every entry: inclusion in a
#: checkpoint that does not verify proves nothing.
_BUNDLE_WIDE: Final = {"inclusion": frozenset({2, 7})}


@dataclass(frozen=True, slots=True)
class Badge:
    """One check on one entry. `state` is "ok", "fail" or "na" (not applicable, such as
    the payload digest of a lawfully erased payload)."""

    name: str
    state: str
    label: str
    detail: str


@dataclass(frozen=True, slots=True)
class EntryVerdict:
    seq: int | None
    leaf_index: int | None
    badges: tuple[Badge, ...]
    failures: tuple[Failure, ...]

    @property
    def ok(self) -> bool:
        return not self.failures


@dataclass(frozen=True, slots=True)
class Verification:
    """The verifier's report, per entry, plus the failures about the bundle as a whole."""

    report: VerificationReport
    entries: tuple[EntryVerdict, ...]
    bundle_failures: tuple[Failure, ...]
    checkpoint_size: int
    trusted: bool

    @property
    def ok(self) -> bool:
        return self.report.ok


def _label(name: str, ok: bool, checkpoint_size: int) -> str:
    labels = {
        "signature": ("signature ✓", "signature ✗"),
        "chain": ("chain link ✓", "chain link ✗"),
        "payload": ("payload digest ✓", "payload digest ✗"),
        "transition": ("state-machine edge ✓", "state-machine edge ✗"),
        "inclusion": (f"included in checkpoint {checkpoint_size} ✓",
                      f"included in checkpoint {checkpoint_size} ✗"),
    }
    return labels[name][0 if ok else 1]


def _badges(entry: dict[str, Any], failures: Sequence[Failure],
            wide: Sequence[Failure], checkpoint_size: int) -> tuple[Badge, ...]:
    badges = []
    for name, rules in BADGES:
        mine = [f for f in failures if f.rule in rules]
        mine += [f for f in wide if f.rule in _BUNDLE_WIDE.get(name, frozenset())]
        if name == "payload" and entry.get("payload") is None and not mine:
            badges.append(Badge(name, "na", "payload erased (digest kept)",
                                "the payload was erased under retention; its salted digest "
                                "stays in the signed statement"))
            continue
        ok = not mine
        detail = "; ".join(f"rule {f.rule} {f.error}: {f.message}" for f in mine)
        badges.append(Badge(name, "ok" if ok else "fail", _label(name, ok, checkpoint_size),
                            detail or "verified by the offline verifier (evidence-format §7)"))
    return tuple(badges)


def verify_download(download: BundleDownload, trust: dict[str, Any] | None) -> Verification:
    """Run the offline verifier on the downloaded bytes (re-read as JSON, as a court
    would) and map its failures to entries and badges. `trust` is a trust set document
    (`{"log_key", "keys"}`); None verifies without one, with the verifier's warning.

    Raises MalformedBundle / MalformedTrustSet when the input cannot be read at all.
    """
    bundle = read_json(download.data)
    trust_set = None if trust is None else TrustSet.from_json(trust)
    report = verify_bundle(bundle, trust=trust_set)
    wide = tuple(f for f in report.failures if f.entry is None)
    verdicts = []
    for i, entry in enumerate(bundle["entries"]):
        statement = entry.get("statement") if isinstance(entry, dict) else None
        seq = statement.get("seq") if isinstance(statement, dict) else None
        index = entry.get("leaf_index")
        mine = tuple(f for f in report.failures if f.entry == i)
        verdicts.append(EntryVerdict(
            seq=seq if isinstance(seq, int) else None,
            leaf_index=index if isinstance(index, int) else None,
            badges=_badges(entry, mine, wide, download.checkpoint_size),
            failures=mine,
        ))
    return Verification(report, tuple(verdicts), wide, download.checkpoint_size,
                        trusted=trust is not None)
