"""`orderledger retention run|runs|show` and `orderledger hold place|release|list`."""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from ledger.holds import HoldService
from ledger.keyring import published_key
from ledger.retention.report import report_verifies
from ledger.retention.runner import RetentionRunner
from ledger.service import Ledger, open_ledger
from ledger.settings import Settings
from ledger.store.retention_sql import HoldEntry, RunEntry
from ledger.timefmt import parse_time
from statemodel.errors import InvalidInput


def register(sub: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    """Add the `retention` and `hold` commands to the CLI's subparsers."""
    retention = sub.add_parser("retention", help="archive and erase payloads past retention")
    r_sub = retention.add_subparsers(dest="action", required=True, parser_class=parser_class)
    run = r_sub.add_parser("run", help="resume unfinished runs, then archive and erase")
    run.add_argument("--dry-run", action="store_true",
                     help="print what would be erased and why; change nothing")
    run.add_argument("--now", help="RFC 3339 reference time (default: the clock; a real "
                                   "run may not judge later than the clock)")
    run.set_defaults(handler=retention_run)
    r_sub.add_parser("runs", help="every run with its counts").set_defaults(
        handler=retention_runs)
    show = r_sub.add_parser("show", help="a run's signed report (JSON) and its signature check")
    show.add_argument("run", type=int)
    show.set_defaults(handler=retention_show)

    hold = sub.add_parser("hold", help="legal holds (orders under hold are never erased)")
    h_sub = hold.add_subparsers(dest="action", required=True, parser_class=parser_class)
    for name, handler, text in (("place", hold_place, "place a hold on an order or tenant"),
                                ("release", hold_release, "release a hold")):
        p = h_sub.add_parser(name, help=text)
        p.add_argument("--tenant", required=True)
        p.add_argument("--order", help="omit to hold (release) the whole tenant")
        p.add_argument("--reason", required=True, help="a case reference, not personal data")
        p.add_argument("--actor", required=True, help="who decides (recorded as a user)")
        if name == "release":
            p.add_argument("--hold", type=int, help="hold id, when the scope has several")
        p.set_defaults(handler=handler)
    listing = h_sub.add_parser("list", help="holds in force (with --all: released too)")
    listing.add_argument("--tenant")
    listing.add_argument("--all", action="store_true")
    listing.set_defaults(handler=hold_list)


def _open() -> Ledger:
    return open_ledger(Settings.from_env())


def retention_run(args: argparse.Namespace, out: TextIO) -> int:
    now = None if args.now is None else parse_time(args.now, field="--now")
    ledger = _open()
    try:
        runner = RetentionRunner(ledger)
        if args.dry_run:
            plan = runner.plan(now)
            for line in plan.lines():
                out.write(line + "\n")
            out.write(f"dry run at {args.now or 'now'}: would erase {len(plan.candidates)} "
                      f"payload(s); {len(plan.held)} order(s) held; nothing changed\n")
            return 0
        try:
            outcomes = runner.run(now)
        except InvalidInput as exc:
            raise InvalidInput(str(exc), field="--now") from None
    finally:
        ledger.close()
    for outcome in outcomes:
        report = outcome.report or {}
        archive = (report.get("archive") or {}).get("path") or "-"
        out.write(f"run {outcome.run_id}: {outcome.erased} payload(s) erased, "
                  f"{report.get('skipped', {}).get('records', 0)} skipped; archive {archive}\n")
    return 0


def retention_runs(args: argparse.Namespace, out: TextIO) -> int:
    ledger = _open()
    try:
        with ledger.recorder.unit_of_work(read_only=True) as uow:
            runs = uow.list_retention_runs()
    finally:
        ledger.close()
    out.write(f"{'run':>5} {'state':<9} {'reference_time':<25} {'finished_at':<25} "
              f"{'erased':>7} archive\n")
    for run in runs:
        erased = (run.report or {}).get("erased", {}).get("records", "-")
        out.write(f"{run.id:>5} {run.state:<9} {run.reference_time:<25} "
                  f"{run.finished_at or '-':<25} {erased!s:>7} {run.archive_path or '-'}\n")
    return 0


def retention_show(args: argparse.Namespace, out: TextIO) -> int:
    """Print the run's report and signature; exit 1 when the signature does not verify."""
    ledger = _open()
    try:
        with ledger.recorder.unit_of_work(read_only=True) as uow:
            run = uow.get_retention_run(args.run)
            keys = {row.key_id: published_key(row) for row in uow.list_keys()}
    finally:
        ledger.close()
    if run is None:
        raise InvalidInput(f"no retention run {args.run}", field="run")
    verified = _verified(run, keys)
    out.write(json.dumps({
        "run_id": run.id, "state": run.state, "report": run.report,
        "signature": run.report_signature, "key_id": run.key_id,
        "signature_verifies": verified,
    }, indent=2, ensure_ascii=False) + "\n")
    return 0 if verified or run.state != "finished" else 1


def _verified(run: RunEntry, keys: dict[str, Any]) -> bool:
    key = keys.get(run.key_id or "")
    if run.report is None or run.report_signature is None or key is None:
        return False
    return report_verifies(run.report, run.report_signature, key,
                           signed_at=run.finished_at or "")


def hold_place(args: argparse.Namespace, out: TextIO) -> int:
    ledger = _open()
    try:
        change = HoldService(ledger.recorder, ledger.appender, ledger.clock).place(
            tenant=args.tenant, order=args.order, reason=args.reason, actor=args.actor)
    finally:
        ledger.close()
    out.write(f"hold {change.hold.id} placed on {_scope(change.hold)}; "
              f"{len(change.records)} legal_hold record(s)\n")
    return 0


def hold_release(args: argparse.Namespace, out: TextIO) -> int:
    ledger = _open()
    try:
        change = HoldService(ledger.recorder, ledger.appender, ledger.clock).release(
            tenant=args.tenant, order=args.order, reason=args.reason, actor=args.actor,
            hold_id=args.hold)
    finally:
        ledger.close()
    out.write(f"hold {change.hold.id} released on {_scope(change.hold)}; "
              f"{len(change.records)} legal_hold_release record(s)\n")
    return 0


def hold_list(args: argparse.Namespace, out: TextIO) -> int:
    ledger = _open()
    try:
        holds = HoldService(ledger.recorder, ledger.appender, ledger.clock).list_holds(
            tenant=args.tenant, active_only=not args.all)
    finally:
        ledger.close()
    out.write(f"{'id':>5} {'scope':<40} {'placed_at':<25} {'released_at':<25} reason\n")
    for h in holds:
        out.write(f"{h.id:>5} {_scope(h):<40} {h.placed_at:<25} {h.released_at or '-':<25} "
                  f"{h.reason}\n")
    return 0


def _scope(hold: HoldEntry) -> str:
    return f"tenant {hold.tenant}" if hold.order is None else f"{hold.tenant}/{hold.order}"
