"""`orderledger alerts subscribe|list|disable|deliver|dead-letters|retry`: SLA alert
webhooks from the command line."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from ledger.alerts import (
    ALERT_KINDS,
    DEFAULT_TIMEOUT_SECONDS,
    AlertDeliverer,
    DeliveryDetail,
    WebhookSubscriptions,
)
from ledger.service import Ledger, open_ledger
from ledger.settings import Settings
from ledger.timefmt import parse_time


def register(sub: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    """Add the `alerts` command and its subcommands to the CLI's subparsers."""
    alerts = sub.add_parser("alerts", help="SLA alert webhooks: subscriptions and delivery")
    alerts_sub = alerts.add_subparsers(dest="action", required=True, parser_class=parser_class)

    subscribe = alerts_sub.add_parser(
        "subscribe", help="POST a tenant's alerts to a URL; prints its secret once"
    )
    subscribe.add_argument("--tenant", required=True)
    subscribe.add_argument("--url", required=True, help="http:// or https:// webhook URL")
    subscribe.add_argument(
        "--events",
        help=f"comma-separated alert kinds (default: all of {','.join(ALERT_KINDS)})",
    )
    subscribe.set_defaults(handler=alerts_subscribe)

    listing = alerts_sub.add_parser("list", help="subscriptions (never their secrets)")
    listing.add_argument("--tenant")
    listing.set_defaults(handler=alerts_list)

    disable = alerts_sub.add_parser(
        "disable", help="stop a subscription; its pending deliveries become dead letters"
    )
    disable.add_argument("id", type=int, help="subscription id (from `alerts list`)")
    disable.set_defaults(handler=alerts_disable)

    deliver = alerts_sub.add_parser(
        "deliver", help="one delivery round: fan out new alerts, attempt what is due"
    )
    deliver.add_argument("--now", help="RFC 3339 time to deliver at (default: the clock)")
    deliver.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_SECONDS,
        help=f"seconds per network step of a request (default {DEFAULT_TIMEOUT_SECONDS:g})",
    )
    deliver.set_defaults(handler=alerts_deliver)

    dead = alerts_sub.add_parser("dead-letters", help="deliveries that gave up")
    dead.add_argument("--tenant")
    dead.add_argument("--limit", type=int, default=200)
    dead.set_defaults(handler=alerts_dead_letters)

    retry = alerts_sub.add_parser("retry", help="move a dead delivery back to pending")
    retry.add_argument("id", type=int, help="delivery id (from `alerts dead-letters`)")
    retry.set_defaults(handler=alerts_retry)


def _open() -> Ledger:
    return open_ledger(Settings.from_env())


def alerts_subscribe(args: argparse.Namespace, out: TextIO) -> int:
    """Create a subscription and print its secret once. Bad tenant, URL or events:
    InvalidInput (exit 2)."""
    ledger = _open()
    try:
        row = WebhookSubscriptions(ledger.recorder, ledger.clock).subscribe(
            args.tenant, args.url, args.events
        )
    finally:
        ledger.close()
    out.write(
        f"subscription {row.id} for tenant {row.tenant!r}: {row.url} "
        f"(events: {','.join(row.events)})\n"
    )
    out.write("Signing secret (shown once, store it now):\n")
    out.write(f"{row.secret}\n")
    return 0


def alerts_list(args: argparse.Namespace, out: TextIO) -> int:
    ledger = _open()
    try:
        rows = WebhookSubscriptions(ledger.recorder, ledger.clock).list(args.tenant)
    finally:
        ledger.close()
    out.write(f"{'id':>4} {'tenant':<16} {'events':<24} {'created_at':<25} {'state':<33} url\n")
    for row in rows:
        state = "active" if row.active else f"disabled {row.disabled_at}"
        out.write(
            f"{row.id:>4} {row.tenant:<16} {','.join(row.events):<24} {row.created_at:<25} "
            f"{state:<33} {row.url}\n"
        )
    out.write(f"{len(rows)} subscription(s)\n")
    return 0


def alerts_disable(args: argparse.Namespace, out: TextIO) -> int:
    """Disable a subscription. Unknown id: UnknownSubscription (exit 2)."""
    ledger = _open()
    try:
        row = WebhookSubscriptions(ledger.recorder, ledger.clock).disable(args.id)
    finally:
        ledger.close()
    out.write(f"subscription {row.id} disabled at {row.disabled_at}\n")
    return 0


def alerts_deliver(args: argparse.Namespace, out: TextIO) -> int:
    """One delivery round; prints every attempt and a summary. Exit 0 even when
    receivers failed: failures are retried (or dead-lettered) by the policy."""
    now = None if args.now is None else parse_time(args.now, field="--now")
    ledger = _open()
    try:
        deliverer = AlertDeliverer(ledger.recorder, ledger.clock, timeout=args.timeout)
        result = deliverer.run_round(now)
    finally:
        ledger.close()
    for attempt in result.attempts:
        answer = attempt.outcome.status or attempt.outcome.error
        retry = f", next attempt {attempt.next_attempt_at}" if attempt.next_attempt_at else ""
        out.write(
            f"delivery {attempt.delivery_id} (alert {attempt.alert_id} -> subscription "
            f"{attempt.subscription_id}) attempt {attempt.number}: {answer} -> "
            f"{attempt.state}{retry}\n"
        )
    out.write(
        f"alerts deliver: {result.fanned_out} new delivery(ies), {len(result.attempts)} "
        f"attempt(s): {result.count('delivered')} delivered, {result.count('pending')} to "
        f"retry, {result.count('dead')} dead\n"
    )
    return 0


def alerts_dead_letters(args: argparse.Namespace, out: TextIO) -> int:
    ledger = _open()
    try:
        rows = AlertDeliverer(ledger.recorder, ledger.clock).dead_letters(
            args.tenant, limit=args.limit
        )
    finally:
        ledger.close()
    out.write(
        f"{'id':>5} {'tenant':<16} {'kind':<12} {'order':<24} {'attempts':>8} "
        f"{'status':>6} {'updated_at':<25} error / url\n"
    )
    for row in rows:
        out.write(_dead_letter_line(row))
    out.write(f"{len(rows)} dead letter(s)\n")
    return 0


def _dead_letter_line(row: DeliveryDetail) -> str:
    d = row.delivery
    order = str(row.alert.body.get("order", "-"))
    return (
        f"{d.id:>5} {row.subscription.tenant:<16} {row.alert.kind:<12} {order:<24} "
        f"{d.attempts:>8} {d.last_status or '-':>6} {d.updated_at:<25} "
        f"{d.last_error or '-'} / {row.subscription.url}\n"
    )


def alerts_retry(args: argparse.Namespace, out: TextIO) -> int:
    """Requeue a dead delivery. Unknown id, not dead, or subscription disabled:
    InvalidInput (exit 2)."""
    ledger = _open()
    try:
        row = AlertDeliverer(ledger.recorder, ledger.clock).retry(args.id)
    finally:
        ledger.close()
    out.write(f"delivery {row.id} is pending again, due {row.next_attempt_at}\n")
    return 0
