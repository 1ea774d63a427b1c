"""CLI commands that open the ledger database."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TextIO

from api.demo import load_demo
from api.output import emit
from ledger.audit import audit_ledger
from ledger.compliance import compliance_report as build_compliance_report
from ledger.compliance import render_report
from ledger.service import Ledger, open_ledger
from ledger.settings import Settings
from ledger.timefmt import format_time, parse_time


def _open() -> Ledger:
    return open_ledger(Settings.from_env())


def keys_list(args: argparse.Namespace, out: TextIO) -> int:
    ledger = _open()
    try:
        rows = ledger.keyring.published()
        out.write(f"{'purpose':<8} {'key_id':<17} {'not_before':<25} {'not_after':<25} state\n")
        for row in sorted(rows, key=lambda r: (r.purpose, r.not_before)):
            state = "active" if row.not_after is None else "retired"
            out.write(
                f"{row.purpose:<8} {row.key_id:<17} {row.not_before:<25} "
                f"{row.not_after or '-':<25} {state}\n"
            )
        out.write(f"\nlog verifier key (signed-note vkey):\n{ledger.keyring.log_vkey()}\n")
    finally:
        ledger.close()
    return 0


def keys_rotate(args: argparse.Namespace, out: TextIO) -> int:
    ledger = _open()
    try:
        row = ledger.keyring.rotate()
        out.write(f"new record signing key {row.key_id}, signing from {row.not_before}\n")
    finally:
        ledger.close()
    return 0


def keys_export(args: argparse.Namespace, out: TextIO) -> int:
    ledger = _open()
    try:
        trust = ledger.keyring.trust_set()
    finally:
        ledger.close()
    emit(json.dumps(trust, indent=2), args.output, out)
    return 0


def demo(args: argparse.Namespace, out: TextIO) -> int:
    ledger = _open()
    try:
        summary = load_demo(ledger)
    finally:
        ledger.close()
    out.write(summary)
    return 0


def audit(args: argparse.Namespace, out: TextIO) -> int:
    ledger = _open()

    def progress(orders: int, records: int) -> None:
        if not args.quiet:
            print(f"audit: {orders} orders, {records} records checked", file=sys.stderr)

    try:
        report = audit_ledger(ledger.recorder, progress=progress)
    finally:
        ledger.close()
    for problem in report.problems:
        out.write(f"{problem}\n")
    verdict = "clean" if report.ok else f"{len(report.problems)} problem(s)"
    out.write(f"audit: {report.orders} orders, {report.records} records: {verdict}\n")
    return 0 if report.ok else 1


def compliance_report(args: argparse.Namespace, out: TextIO) -> int:
    since = None
    if args.since:
        text = args.since if "T" in args.since else f"{args.since}T00:00:00Z"
        since = format_time(parse_time(text, field="--since"))
    ledger = _open()
    try:
        report = build_compliance_report(ledger.recorder, tenant=args.tenant, since=since)
    finally:
        ledger.close()
    if args.format == "json":
        out.write(json.dumps({t: f.to_json() for t, f in report.items()}, indent=2) + "\n")
    else:
        out.write(render_report(report))
    return 0
