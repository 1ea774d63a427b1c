"""CLI commands for evidence: export, verify (offline), checkpoint."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, TextIO

from api.output import emit
from ledger.export import export_bundle
from ledger.service import open_ledger
from ledger.settings import Settings
from ledger.verify import TrustSet, verify_bundle


class InputUnreadable(Exception):
    """A file given to `verify` cannot be read as JSON: exit 2."""


def export(args: argparse.Namespace, out: TextIO) -> int:
    ledger = open_ledger(Settings.from_env())
    try:
        bundle = export_bundle(ledger, args.tenant, args.order)
    finally:
        ledger.close()
    emit(json.dumps(bundle, ensure_ascii=False, indent=1), args.output, out)
    return 0


def checkpoint(args: argparse.Namespace, out: TextIO) -> int:
    ledger = open_ledger(Settings.from_env())
    try:
        with ledger.recorder.unit_of_work() as uow:
            latest = uow.latest_checkpoint()
    finally:
        ledger.close()
    if latest is None:
        out.write("no checkpoint yet: nothing has been integrated into the log\n")
        return 1
    out.write(latest.note)
    return 0


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputUnreadable(f"cannot read {what} {path}: {exc.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputUnreadable(f"{what} {path} is not JSON: {exc}") from None


def verify(args: argparse.Namespace, out: TextIO) -> int:
    """Offline: no settings, no database, no network."""
    bundle = _read_json(args.bundle, "bundle")
    trust = TrustSet.from_json(_read_json(args.trust, "trust set")) if args.trust else None
    old_checkpoint = None
    proof = None
    if args.checkpoint or args.consistency_proof:
        if not (args.checkpoint and args.consistency_proof):
            raise InputUnreadable("--checkpoint and --consistency-proof go together")
        try:
            old_checkpoint = args.checkpoint.read_text(encoding="utf-8")
        except OSError as exc:
            raise InputUnreadable(
                f"cannot read checkpoint {args.checkpoint}: {exc.strerror}"
            ) from None
        proof = _read_json(args.consistency_proof, "consistency proof")
    report = verify_bundle(
        bundle, trust=trust, old_checkpoint=old_checkpoint, consistency_proof=proof
    )
    for warning in report.warnings:
        out.write(f"warning: {warning}\n")
    for failure in report.failures:
        out.write(f"FAIL {failure}\n")
    if report.ok:
        out.write(
            f"OK: bundle of {bundle.get('tenant')}/{bundle.get('order')} verifies "
            f"({len(bundle.get('entries', []))} entries)\n"
        )
        return 0
    out.write(f"FAILED: {len(report.failures)} rule violation(s)\n")
    return 1
