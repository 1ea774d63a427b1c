"""SLA timers at scale: arm a million, sweep a hundred thousand due at once, and the sweep's
lag at a steady 1,000 breaches/s.

    scripts/postgres.sh with .venv/bin/python -m bench.sla [--backends postgres,sqlite]
        [--armed 1000000] [--due 100000] [--steady-seconds 20]

How: `--due` orders are created through the append service (each creation arms the
payment-deadline timer of M01.01, so these are real timers armed in real append
transactions); the rest of `--armed` timers are bulk-inserted rows on those orders with
deadlines far in the future (the sweep must step over them by index, not by scan). The
clock is then moved past the payment deadlines and ONE sweep fires every due timer,
each as a signed `sla_breach` record chained to its order. For the steady state, timers
fall due 1,000 per simulated second and a sweep runs each simulated second: the sweep's
wall time is the lag a breach waits for beyond its deadline. Memory is the process's
peak resident set (ru_maxrss).
"""

from __future__ import annotations

import argparse
import resource
import time
from datetime import UTC, datetime, timedelta

from bench.common import (
    backends_argument,
    bench_ledger,
    check_backends,
    header,
    latencies,
    say,
    scratch_database,
    table,
)
from ledger.append import EventRequest
from ledger.clock import FixedClock
from ledger.service import Ledger
from ledger.sla import SlaSweeper
from ledger.statement import Actor, ActorType
from ledger.store import TimerRow
from ledger.timefmt import format_time

START = datetime(2026, 6, 1, tzinfo=UTC)
BATCH = 1000


def _create_orders(ledger: Ledger, clock: FixedClock, count: int, deadline: datetime) -> float:
    """`count` orders awaiting payment (each arms one timer); returns orders/s."""
    actor = Actor(ActorType.PLATFORM, "bench")
    began = time.perf_counter()
    for first in range(0, count, BATCH):
        requests = [
            EventRequest(
                tenant="bench",
                order=f"o{n:07d}",
                event="order_placed",
                event_time=format_time(clock.now()),
                actor=actor,
                payload={"amount_due": "99.00", "currency": "CNY",
                         "payment_deadline_at": format_time(deadline)},
                create=True,
            )
            for n in range(first, min(first + BATCH, count))
        ]
        ledger.appender.append_many(requests)
    return count / (time.perf_counter() - began)


def _arm_directly(ledger: Ledger, orders: int, count: int, deadline: datetime) -> float:
    """Bulk-insert `count` armed timers spread over the orders; returns timers/s."""
    began = time.perf_counter()
    text = format_time(deadline)
    for first in range(0, count, 10 * BATCH):
        rows = [
            TimerRow(tenant="bench", order=f"o{n % orders:07d}", name=f"bench_{n}",
                     sub_state="M01.01", armed_seq=0, deadline=text, warn_at=(),
                     next_warn_at=None, state="armed", created_at=format_time(START))
            for n in range(first, min(first + 10 * BATCH, count))
        ]
        with ledger.recorder.unit_of_work() as uow:
            uow.arm_timers(rows)
    return count / (time.perf_counter() - began)


def _steady(ledger: Ledger, clock: FixedClock, seconds: int, per_second: int) -> list[float]:
    """Timers due `per_second` per simulated second; one sweep per simulated second.
    Returns each sweep's wall time (s): how long a breach waits beyond its deadline."""
    base = clock.now() + timedelta(hours=1)
    with ledger.recorder.unit_of_work() as uow:
        uow.arm_timers([
            TimerRow(tenant="bench", order=f"o{n % 50_000:07d}", name=f"steady_{n}",
                     sub_state="M01.01", armed_seq=0,
                     deadline=format_time(base + timedelta(seconds=n // per_second)),
                     warn_at=(), next_warn_at=None, state="armed",
                     created_at=format_time(START))
            for n in range(seconds * per_second)
        ])
    sweeper = SlaSweeper(ledger.recorder, ledger.appender, clock, batch_size=per_second)
    walls: list[float] = []
    for second in range(seconds):
        clock.set(base + timedelta(seconds=second))
        began = time.perf_counter()
        sweeper.sweep()
        walls.append(time.perf_counter() - began)
    return walls


def run(backend: str, armed: int, due: int, steady_seconds: int) -> list[object]:
    clock = FixedClock(START)
    with scratch_database(backend, "bench_sla") as url, bench_ledger(url, clock) as ledger:
        deadline = START + timedelta(minutes=30)
        create_rate = _create_orders(ledger, clock, due, deadline)
        arm_rate = _arm_directly(ledger, due, armed - due, START + timedelta(days=365))
        clock.set(deadline + timedelta(seconds=1))
        began = time.perf_counter()
        fired = SlaSweeper(ledger.recorder, ledger.appender, clock).sweep().fired
        sweep_s = time.perf_counter() - began
        walls = _steady(ledger, clock, steady_seconds, 1000)
        lag = latencies(walls)
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return [backend, armed, create_rate, arm_rate, len(fired), sweep_s,
                len(fired) / sweep_s, lag.median * 1000, lag.p99 * 1000,
                "yes" if max(walls) < 1.0 else "no", peak_mib]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    backends_argument(parser)
    parser.add_argument("--armed", type=int, default=1_000_000)
    parser.add_argument("--due", type=int, default=100_000)
    parser.add_argument("--steady-seconds", type=int, default=20)
    args = parser.parse_args()
    check_backends(args.backends)
    if not 0 < args.due <= args.armed:
        raise SystemExit("need 0 < --due <= --armed")
    say(header("SLA timers (bench/sla.py)", args.backends))
    rows = []
    for backend in args.backends:
        say(f"\n{backend}: {args.armed:,} armed, {args.due:,} due at once …")
        rows.append(run(backend, args.armed, args.due, args.steady_seconds))
    say()
    say(table(
        ["backend", "armed", "orders+timer/s (append)", "timers/s (bulk arm)", "fired",
         "sweep s", "breaches/s", "steady lag p50 ms", "steady lag p99 ms",
         "keeps up 1,000/s", "peak RSS MiB"],
        rows,
    ))


if __name__ == "__main__":
    main()
