"""CLI commands for evidence: export, verify (offline), checkpoint, proofs on demand."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO, TypeVar

from api.output import emit
from ledger import proofs
from ledger.export import export_bundle
from ledger.sequencer import sequencer_for
from ledger.service import Ledger, open_ledger
from ledger.settings import Settings
from ledger.store import UnitOfWork
from ledger.verify import MalformedBundle, TrustSet, read_json, verify_bundle

T = TypeVar("T")


class InputUnreadable(Exception):
    """A file given to `verify` cannot be read as JSON: exit 2."""


def _with_ledger(work: Callable[[Ledger], T]) -> T:
    ledger = open_ledger(Settings.from_env())
    try:
        return work(ledger)
    finally:
        ledger.close()


def _read_only(read: Callable[[UnitOfWork], T]) -> Callable[[Ledger], T]:
    """`read` in one read-only unit of work."""

    def work(ledger: Ledger) -> T:
        with ledger.recorder.unit_of_work(read_only=True) as uow:
            return read(uow)

    return work


def _integrated_then(read: Callable[[UnitOfWork], T]) -> Callable[[Ledger], T]:
    """Integrate what is queued (so a record just appended has its leaf), then `read` in
    one read-only unit of work."""

    def work(ledger: Ledger) -> T:
        sequencer_for(ledger).integrate_all()
        return _read_only(read)(ledger)

    return work


def export(args: argparse.Namespace, out: TextIO) -> int:
    bundle = _with_ledger(lambda ledger: export_bundle(ledger, args.tenant, args.order))
    emit(json.dumps(bundle, ensure_ascii=False, indent=1), args.output, out)
    return 0


def checkpoint(args: argparse.Namespace, out: TextIO) -> int:
    """The newest checkpoint (after integrating what is queued), or the stored one of
    `--size`. Exit 1 when the log has no checkpoint yet, 2 for a size never stored."""
    if args.size is None:

        def newest(uow: UnitOfWork) -> str | None:
            latest = uow.latest_checkpoint()
            return None if latest is None else latest.note

        note = _with_ledger(_integrated_then(newest))
    else:
        note = _with_ledger(_read_only(lambda uow: proofs.checkpoint_at(uow, args.size).note))
    if note is None:
        out.write("no checkpoint yet: nothing has been integrated into the log\n")
        return 1
    emit(note, args.output, out)
    return 0


def proof_inclusion(args: argparse.Namespace, out: TextIO) -> int:
    """Inclusion proof of a record (--tenant/--order/--seq) or a leaf (--leaf-index) under
    the newest checkpoint or the one of --size, as JSON with the checkpoint note."""
    by_record = (args.tenant, args.order, args.seq)
    if args.leaf_index is not None:
        if any(v is not None for v in by_record):
            raise InputUnreadable("give either --leaf-index or --tenant/--order/--seq")

        def read(uow: UnitOfWork) -> proofs.InclusionProof:
            return proofs.leaf_inclusion(uow, args.leaf_index, size=args.size)
    else:
        if any(v is None for v in by_record):
            raise InputUnreadable("--tenant, --order and --seq go together")

        def read(uow: UnitOfWork) -> proofs.InclusionProof:
            return proofs.record_inclusion(uow, args.tenant, args.order, args.seq,
                                           size=args.size)

    proof = _with_ledger(_integrated_then(read))
    emit(json.dumps(proof.to_json(), indent=1), args.output, out)
    return 0


def proof_consistency(args: argparse.Namespace, out: TextIO) -> int:
    """`{"old_size", "new_size", "proof"}` from --old to --new (default: the newest
    checkpoint): the file `verify --consistency-proof` reads."""
    proof = _with_ledger(
        _integrated_then(lambda uow: proofs.consistency(uow, args.old, args.new))
    )
    emit(json.dumps(proof.to_json(), indent=1), args.output, out)
    return 0


def _read_text(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputUnreadable(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise InputUnreadable(f"{what} {path} is not UTF-8 text: {exc}") from None


def _read_json(path: Path, what: str) -> Any:
    """The JSON value in `path`; duplicate keys and NaN/Infinity make it unreadable (a
    document that two readers may read differently is no evidence)."""
    try:
        return read_json(_read_text(path, what), what)
    except MalformedBundle as exc:
        raise InputUnreadable(f"{path}: {exc}") from None


def verify(args: argparse.Namespace, out: TextIO) -> int:
    """Offline: no settings, no database, no network. Exit 0 when every rule holds, 1
    when any fails (each failure printed with its rule and entry), 2 when an input cannot
    be read (missing file, not JSON, not a bundle object, bad trust set)."""
    bundle = _read_json(args.bundle, "bundle")
    trust = TrustSet.from_json(_read_json(args.trust, "trust set")) if args.trust else None
    old_checkpoint = None
    proof = None
    if args.checkpoint or args.consistency_proof:
        if not (args.checkpoint and args.consistency_proof):
            raise InputUnreadable("--checkpoint and --consistency-proof go together")
        old_checkpoint = _read_text(args.checkpoint, "checkpoint")
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
