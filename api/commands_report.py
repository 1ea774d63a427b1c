"""`orderledger report --tenant T --order O -o FILE.pdf [--bundle FILE.json]`: the
evidence report of one order (PDF) and the bundle whose SHA-256 it prints.

The report and the bundle are one piece of evidence: the report names the bundle's hash,
so both are written together (the bundle beside the PDF, under the file name the report
gives it, unless `--bundle` says where). The web console's download runs the same code,
so both give the same report.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

from api.report_pdf import render_report
from api.web.timeline import order_evidence, trust_set
from ledger.service import open_ledger
from ledger.settings import Settings
from ledger.timefmt import format_time


def report(args: argparse.Namespace, out: TextIO) -> int:
    """Write the PDF to `args.output` and the bundle to `args.bundle` (default: beside the
    PDF, named as the report names it); print both paths and the bundle's SHA-256.
    Returns 0 even when verification fails: a report of a tampered order is evidence too,
    and says so on its first page.

    Raises UnknownOrder, StorageError as the export does, ReportFontMissing without a
    CJK font, OSError when a file cannot be written.
    """
    pdf_path: Path = args.output
    ledger = open_ledger(Settings.from_env())
    try:
        evidence = order_evidence(ledger, args.tenant, args.order, trust=trust_set(ledger))
        pdf = render_report(evidence, generated_at=format_time(ledger.clock.now()),
                            generated_by="orderledger report (command line)")
    finally:
        ledger.close()
    # By default the bundle keeps the name the report gives it, beside the PDF.
    bundle_path: Path = args.bundle or pdf_path.parent / evidence.download.filename()
    bundle_path.write_bytes(evidence.download.data)
    pdf_path.write_bytes(pdf)
    verdict = "verifies" if evidence.verification.ok else (
        f"FAILS verification ({len(evidence.verification.report.failures)} failures)")
    out.write(f"report  {pdf_path}\n")
    out.write(f"bundle  {bundle_path}  sha256 {evidence.download.sha256}\n")
    out.write(f"order {args.tenant}/{args.order}: {len(evidence.records)} records, "
              f"checkpoint {evidence.download.checkpoint_size}, {verdict}\n")
    return 0
