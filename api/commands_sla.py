"""`orderledger sla sweep|list`: fire due SLA timers; see what is armed, due or breached."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any, TextIO

from ledger.service import open_ledger
from ledger.settings import Settings
from ledger.sla import SlaSweeper
from ledger.timefmt import format_time, parse_time
from statemodel.errors import InvalidInput
from statemodel.sla import parse_duration


def register(sub: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    sla = sub.add_parser("sla", help="SLA timers")
    sla_sub = sla.add_subparsers(dest="action", required=True, parser_class=parser_class)
    sweep = sla_sub.add_parser("sweep", help="fire every due timer once (breach records)")
    sweep.add_argument("--now", help="RFC 3339 time to sweep at (default: the clock)")
    sweep.set_defaults(handler=sla_sweep)
    listing = sla_sub.add_parser("list", help="armed timers (default), due soon, or breached")
    listing.add_argument("--tenant")
    listing.add_argument("--due-within", help="armed timers due within e.g. 2h, 30m, 1d")
    listing.add_argument("--breached", action="store_true", help="fired timers instead")
    listing.add_argument("--limit", type=int, default=200)
    listing.set_defaults(handler=sla_list)


def _moment(text: str | None, field: str) -> datetime | None:
    return None if text is None else parse_time(text, field=field)


def sla_sweep(args: argparse.Namespace, out: TextIO) -> int:
    ledger = open_ledger(Settings.from_env())
    try:
        sweeper = SlaSweeper(ledger.recorder, ledger.appender, ledger.clock)
        result = sweeper.sweep(_moment(args.now, "--now"))
    finally:
        ledger.close()
    for timer in result.fired:
        out.write(
            f"breach  {timer.tenant}/{timer.order} {timer.name} ({timer.sub_state}) "
            f"deadline {timer.deadline}\n"
        )
    for timer in result.warned:
        out.write(f"warning {timer.tenant}/{timer.order} {timer.name} deadline {timer.deadline}\n")
    out.write(f"sla sweep: {len(result.fired)} breach record(s), {len(result.warned)} warning(s)\n")
    return 0


def sla_list(args: argparse.Namespace, out: TextIO) -> int:
    if args.breached and args.due_within:
        raise InvalidInput("--breached and --due-within exclude each other", field="--breached")
    ledger = open_ledger(Settings.from_env())
    try:
        before = None
        if args.due_within:
            try:
                window = parse_duration(args.due_within)
            except ValueError as exc:
                raise InvalidInput(f"--due-within: {exc}", field="--due-within") from None
            before = format_time(ledger.clock.now() + window)
        with ledger.recorder.unit_of_work(read_only=True) as uow:
            timers = uow.list_timers(
                tenant=args.tenant,
                state="fired" if args.breached else "armed",
                deadline_before=before,
                limit=args.limit,
            )
    finally:
        ledger.close()
    out.write(
        f"{'tenant':<16} {'order':<36} {'timer':<20} {'sub-state':<9} {'deadline':<25} state\n"
    )
    for t in timers:
        out.write(
            f"{t.tenant:<16} {t.order:<36} {t.name:<20} {t.sub_state:<9} "
            f"{t.deadline:<25} {t.state}\n"
        )
    out.write(f"{len(timers)} timer(s)\n")
    return 0
