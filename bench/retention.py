"""Retention at scale: one run over `--records` signed records of which half are due;
records/s archived and erased, the purge records it appends, its memory.

    scripts/postgres.sh with .venv/bin/python -m bench.retention [--backends postgres,sqlite]
        [--records 1000000] [--records-per-order 20] [--orders-per-transaction 50]

How (setup, timed but not the figure of interest): `--records / --records-per-order`
orders are brought to M05.02 (in transit at a hub) by the domestic happy path's first
ten steps, then `hub_scan` self-loops are appended round-robin over them. Every record is
real: validated, judged by the regulation pack, chained, signed, stored by
`AppendService.append_many` in batches of 1,000, by `--setup-workers` processes each
appending to its own orders through its own ledger on the same database (default 2 on
PostgreSQL; 1 on SQLite, which writes one transaction at a time and whose append
transactions hold the write lock while they judge and sign). The ledger's FixedClock starts 20
months before the run's reference time ("now"): the prefixes and the first scans are
recorded there (the clock moves 1 s a batch), then the clock jumps to 1 month before now
for the remaining scans. The first scans are exactly as many as make half of all records
due: operation records (M03–M05) older than 18 months are due; the order's M01/M02
records are transaction records of an open order and stay; the recent scans stay. The
Merkle log is integrated during setup, as the sequencer would have done long before.

Then, at now: a dry-run plan (`RetentionRunner.plan`), then the real run
(`RetentionRunner.run`): plan, archive (records with payloads and inclusion proofs,
signed manifest), erase order by order with one `retention_purge` record per order,
signed report. The run's wall time is split in place by thin timing wrappers (exclusive
time per step). Memory is the peak resident set of each step (VmHWM, reset before it);
the run reads, archives and erases a page of orders at a time, so its peak should not
grow with the number of records (the dry-run plan holds every candidate: it prints them).

Prints figures; asserts nothing about speed. The machine is small and shared: compare
ratios within one run.
"""

from __future__ import annotations

import argparse
import re
import resource
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Final

import ledger.merkle as merkle_module
import ledger.retention.runner as runner_module
from bench.common import (
    LOG_ORIGIN,
    ExclusiveTimer,
    Patch,
    backends_argument,
    bench_ledger,
    check_backends,
    header,
    patched,
    say,
    scratch_database,
    table,
)
from ledger.append import Appended, AppendService, EventRequest
from ledger.clock import FixedClock
from ledger.errors import InvalidInput
from ledger.retention.archive import ArchiveWriter
from ledger.retention.runner import ARCHIVES_DIR, RetentionRunner
from ledger.sequencer import Sequencer, sequencer_for
from ledger.service import Ledger, open_ledger
from ledger.settings import Settings
from ledger.statement import Actor, ActorType
from ledger.store.core import SqlUnitOfWork
from ledger.timefmt import format_time
from regulations.registry import pack_in_force
from regulations.retention import RecordClass, add_months
from statemodel.scenarios import DOMESTIC_HAPPY_PATH, Step

#: The run's reference time; the records are made before it (see the module docstring).
NOW: Final = datetime(2028, 1, 1, tzinfo=UTC)
OLD_AT: Final = add_months(NOW, -20)  # past the 18-month operation minimum
RECENT_AT: Final = add_months(NOW, -1)  # well inside it
BATCH: Final = 1000
BATCH_STEP: Final = timedelta(seconds=1)  # the clock's move after each batch
SCAN_DELAY: Final = timedelta(minutes=1)  # a scan's event time before its recording
TENANT: Final = "bench"
CARRIER: Final = Actor(ActorType.CARRIER, "deppon")
PLATFORM: Final = Actor(ActorType.PLATFORM, TENANT)
MIB: Final = 2**20


def _prefix() -> tuple[Step, ...]:
    """The happy path up to its first M05.02 (the hub scan that loops there)."""
    steps = DOMESTIC_HAPPY_PATH.steps
    return steps[: next(i for i, s in enumerate(steps) if s.expect == "M05.02") + 1]


PREFIX: Final = _prefix()
HUB_SCAN: Final = PREFIX[-1]


# --- the records ---------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Layout:
    """How `records` records are made so that exactly `due` of them are due at NOW."""

    orders: int
    prefix_kept: int  # transaction-class records of one order's prefix (never due here)
    old_scans: int  # hub scans recorded at OLD_AT (due)
    new_scans: int  # hub scans recorded at RECENT_AT (kept)

    @property
    def prefix_records(self) -> int:
        return self.orders * len(PREFIX)

    @property
    def records(self) -> int:
        return self.prefix_records + self.old_scans + self.new_scans

    @property
    def due(self) -> int:
        return self.orders * (len(PREFIX) - self.prefix_kept) + self.old_scans


def plan_layout(records: int, per_order: int) -> Layout:
    """The layout for `records` records in chains of about `per_order`. Raises SystemExit
    when half of them cannot be made due (chains too short for the prefix)."""
    orders = max(1, records // per_order)
    policy = pack_in_force(OLD_AT).retention_policy()
    kept = sum(policy.class_of("transition", s.expect) is RecordClass.TRANSACTION
               for s in PREFIX)
    old_scans = records // 2 - orders * (len(PREFIX) - kept)
    new_scans = records - orders * len(PREFIX) - old_scans
    if old_scans < 0 or new_scans < 0:
        raise SystemExit(
            f"cannot make half of {records:,} records due with {orders:,} orders of "
            f"{len(PREFIX)} setup records ({kept} never due): choose --records-per-order "
            f"of at least {2 * (len(PREFIX) - kept)}"
        )
    return Layout(orders, kept, old_scans, new_scans)


def _order(index: int) -> str:
    return f"o{index:07d}"


def _prefix_request(index: int) -> EventRequest:
    """The `index`-th request of all prefixes, order after order."""
    order, position = divmod(index, len(PREFIX))
    step = PREFIX[position]
    return EventRequest(
        tenant=TENANT, order=_order(order), event=step.event, event_time=step.at,
        actor=CARRIER if step.event == HUB_SCAN.event else PLATFORM,
        payload=step.payload, create=position == 0,
    )


def _scan_request(index: int, layout: Layout, at: datetime) -> EventRequest:
    """The `index`-th hub scan (round-robin over the orders), scanned at `at`."""
    scanned = format_time(at)
    lap = index // layout.orders
    payload = {**HUB_SCAN.payload, "scanned_at": scanned,
               "scan_type": "arrival" if lap % 2 else "departure"}
    return EventRequest(
        tenant=TENANT, order=_order(index % layout.orders), event=HUB_SCAN.event,
        event_time=scanned, actor=CARRIER, payload=payload,
    )


def _append(
    ledger: Ledger, clock: FixedClock, indices: Sequence[int],
    request: Callable[[int], EventRequest],
) -> None:
    """Append the requests of `indices` in batches; the clock moves BATCH_STEP after
    each. Raises RuntimeError when the service refuses one (a bug in the workload)."""
    for first in range(0, len(indices), BATCH):
        results = ledger.appender.append_many(
            [request(i) for i in indices[first:first + BATCH]]
        )
        _require_appended(results)
        clock.advance(BATCH_STEP)


def _require_appended(results: Sequence[Appended | InvalidInput]) -> None:
    refused = [r for r in results if isinstance(r, InvalidInput)]
    if refused:
        raise RuntimeError(f"{len(refused)} requests refused, first: {refused[0]!r}")


@dataclass(frozen=True, slots=True)
class Setup:
    created_per_s: float
    integrated_per_s: float
    workers: int


@dataclass(frozen=True, slots=True)
class SetupTask:
    """One worker's share of one setup phase: the orders `order % workers == worker`."""

    url: str
    data_dir: str
    layout: Layout
    workers: int
    worker: int
    phase: str  # "old": prefixes, then the old scans; "new": the recent scans


def _mine(task: SetupTask, order: int) -> bool:
    return order % task.workers == task.worker


def append_share(task: SetupTask) -> None:
    """Append one worker's share of a phase through its own ledger on the same database
    and key directory: every record goes the real append path (validated, judged,
    chained, signed). Orders are split between workers, so their chains never meet."""
    layout = task.layout
    clock = FixedClock(OLD_AT if task.phase == "old" else RECENT_AT)
    settings = Settings(database_url=task.url, data_dir=Path(task.data_dir),
                        log_origin=LOG_ORIGIN)
    ledger = open_ledger(settings, clock=clock)
    try:
        if task.phase == "old":
            _append(ledger, clock,
                    [i for i in range(layout.prefix_records)
                     if _mine(task, i // len(PREFIX))],
                    _prefix_request)
            _append(ledger, clock,
                    [i for i in range(layout.old_scans) if _mine(task, i % layout.orders)],
                    lambda i: _scan_request(i, layout, clock.now() - SCAN_DELAY))
        else:
            first = layout.old_scans
            _append(ledger, clock,
                    [i for i in range(first, first + layout.new_scans)
                     if _mine(task, i % layout.orders)],
                    lambda i: _scan_request(i, layout, clock.now() - SCAN_DELAY))
    finally:
        ledger.close()


def create_records(ledger: Ledger, clock: FixedClock, layout: Layout, workers: int) -> Setup:
    """Make the layout's records (clock at OLD_AT, then RECENT_AT) with `workers`
    processes (1: in this process) and integrate them into the log; leaves the clock at
    NOW."""
    sequencer = sequencer_for(ledger)
    appending = integrating = 0.0
    url = ledger.settings.database_url
    data_dir = str(ledger.settings.data_dir)

    def phase(name: str) -> None:
        nonlocal appending, integrating
        tasks = [SetupTask(url, data_dir, layout, workers, w, name) for w in range(workers)]
        began = time.perf_counter()
        if workers == 1:
            append_share(tasks[0])
        else:
            with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
                list(pool.map(append_share, tasks))
        appending += time.perf_counter() - began
        began = time.perf_counter()
        sequencer.integrate_all()
        integrating += time.perf_counter() - began

    phase("old")
    phase("new")
    clock.set(NOW)
    return Setup(layout.records / appending, layout.records / integrating, workers)


# --- measuring -----------------------------------------------------------------------

_CLEAR_REFS: Final = Path("/proc/self/clear_refs")
_STATUS: Final = Path("/proc/self/status")


def reset_peak_rss() -> bool:
    """Reset the process's peak resident set (Linux: VmHWM); False when not possible."""
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


def peak_rss_mib() -> float:
    """The peak resident set since the last reset (else since the start), in MiB."""
    try:
        found = re.search(r"^VmHWM:\s+(\d+) kB", _STATUS.read_text(), re.MULTILINE)
    except OSError:
        found = None
    if found is None:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return int(found.group(1)) / 1024


#: The run's steps, timed inclusively (one does not call another).
PHASES: Final = (("_plan_run", "plan"), ("_start", "store plan"), ("_archive", "archive"),
                 ("_erase", "erase"), ("_seal", "report"))


class StepMeter(ExclusiveTimer):
    """Wall time and peak resident set of each step, for steps that do not nest (a
    step's peak includes what earlier steps still hold)."""

    def __init__(self) -> None:
        super().__init__()
        self.peak_mib: dict[str, float] = {}

    def call(self, category: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        reset_peak_rss()
        try:
            return super().call(category, fn, *args, **kwargs)
        finally:
            self.peak_mib[category] = max(self.peak_mib.get(category, 0.0), peak_rss_mib())


def phase_patches(meter: StepMeter) -> list[Patch]:
    return [Patch(RetentionRunner, name, label, timer=meter) for name, label in PHASES]


def split_patches(ledger: Ledger, timer: ExclusiveTimer) -> list[Patch]:
    """Exclusive time of the calls a run makes; each step's own remainder is "… rest"."""
    uow = SqlUnitOfWork
    patches = [
        Patch(RetentionRunner, "_plan_run", "plan: rest (walk orders, build plan)"),
        Patch(RetentionRunner, "_start", "store plan: rest (run items)"),
        Patch(RetentionRunner, "_archive", "archive: rest (pages, checkpoint, keys)"),
        Patch(RetentionRunner, "_erase", "erase: rest"),
        Patch(RetentionRunner, "_seal", "report (build, sign, store)"),
        Patch(runner_module, "erasable", "judge records (policy)"),
        Patch(uow, "chains_of", "read chains (a page of orders)"),
        Patch(uow, "add_run_items", "store plan: insert run items"),
        Patch(uow, "run_items_page", "read run items (a page of orders)"),
        Patch(Sequencer, "integrate_all", "archive: log integration"),
        Patch(uow, "leaves_of", "archive: leaf indices (a page)"),
        Patch(merkle_module, "inclusion_proofs", "archive: inclusion proofs (a page)"),
        Patch(ArchiveWriter, "add", "archive: write lines"),
        Patch(ArchiveWriter, "finish", "archive: fsync, manifest, rename"),
        Patch(uow, "lock_heads", "erase: lock heads"),
        Patch(uow, "list_holds", "erase: read holds"),
        Patch(uow, "erase_payloads", "erase: erase payloads (UPDATE)"),
        Patch(AppendService, "append_in", "erase: append purge records"),
        Patch(uow, "mark_items_erased_many", "erase: mark run items"),
        Patch(ledger.recorder, "unit_of_work", "BEGIN/COMMIT", context=True),
    ]
    for patch in patches:
        patch.timer = timer
    return patches


def archive_bytes(ledger: Ledger) -> int:
    folder = ledger.settings.data_dir / ARCHIVES_DIR
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


@dataclass(frozen=True, slots=True)
class Result:
    backend: str
    layout: Layout
    setup: Setup
    planned: int
    plan_s: float
    plan_rss: float
    run_s: float
    run_rss: float
    erased: int
    purge_records: int
    archive_bytes: int
    phases: dict[str, float]
    phase_peak_mib: dict[str, float]
    split: dict[str, float]
    split_calls: dict[str, int]

    def row(self) -> list[object]:
        archive_s, erase_s = self.phases["archive"], self.phases["erase"]
        return [
            self.backend, self.layout.records, self.layout.orders, self.setup.created_per_s,
            self.planned, self.plan_s, self.run_s, self.erased, self.erased / self.run_s,
            archive_s, self.planned / archive_s, self.archive_bytes / MIB, erase_s,
            self.erased / erase_s, self.purge_records, self.plan_rss, self.run_rss,
        ]


RESULT_HEADERS: Final = [
    "backend", "records", "orders", "created/s (setup)", "due (dry-run plan)",
    "dry-run plan s", "run s", "erased", "erased/s (whole run)", "archive s",
    "archived/s", "archive MiB", "erase s", "erased/s (erase step)", "purge records",
    "peak RSS MiB plan", "peak RSS MiB run",
]


def run(backend: str, layout: Layout, orders_per_transaction: int, workers: int) -> Result:
    """Set up a fresh database with the layout's records and run retention once at NOW.
    Raises RuntimeError when the plan or the run does not erase exactly the due records."""
    clock = FixedClock(OLD_AT)  # keys are valid from their creation: before every record
    with scratch_database(backend, "bench_retention") as url, \
            bench_ledger(url, clock) as ledger:
        setup = create_records(ledger, clock, layout, workers)
        say(f"  setup: {layout.records:,} records in {layout.orders:,} orders, "
            f"{setup.created_per_s:,.0f} records/s appended by {workers} process(es), "
            f"{setup.integrated_per_s:,.0f} leaves/s integrated")
        runner = RetentionRunner(ledger, orders_per_transaction=orders_per_transaction)
        reset_peak_rss()
        began = time.perf_counter()
        plan = runner.plan(NOW)
        plan_s, plan_rss = time.perf_counter() - began, peak_rss_mib()
        planned = len(plan.candidates)
        del plan
        say(f"  dry-run plan: {planned:,} due in {plan_s:,.1f} s")
        if planned != layout.due:
            raise RuntimeError(f"the plan finds {planned:,} due records, not {layout.due:,}")
        phases, split = StepMeter(), ExclusiveTimer()
        reset_peak_rss()
        with patched(phase_patches(phases)), patched(split_patches(ledger, split)):
            began = time.perf_counter()
            outcomes = runner.run(NOW)
            run_s = time.perf_counter() - began
        # The steps reset the peak as they start: the run's peak is the largest of theirs.
        run_rss = max([peak_rss_mib(), *phases.peak_mib.values()])
        erased = sum(o.erased for o in outcomes)
        if erased != layout.due:
            raise RuntimeError(f"the run erased {erased:,} records, not {layout.due:,}")
        report = outcomes[-1].report or {}
        result = Result(
            backend=backend, layout=layout, setup=setup, planned=planned, plan_s=plan_s,
            plan_rss=plan_rss, run_s=run_s, run_rss=run_rss, erased=erased,
            purge_records=int(report.get("erased", {}).get("orders", 0)),
            archive_bytes=archive_bytes(ledger), phases=dict(phases.own),
            phase_peak_mib=dict(phases.peak_mib),
            split=dict(split.own), split_calls=dict(split.calls),
        )
        say(f"  run: {erased:,} erased in {run_s:,.1f} s ({erased / run_s:,.0f}/s)")
        return result


# --- output --------------------------------------------------------------------------

def steps_table(results: Sequence[Result]) -> str:
    """Wall time and peak resident set of each step of the run, per backend."""
    headers = ["step"]
    for r in results:
        headers += [f"{r.backend} s", f"{r.backend} peak RSS MiB"]
    rows: list[list[object]] = []
    for _, label in PHASES:
        row: list[object] = [label]
        for r in results:
            row += [r.phases.get(label, 0.0), r.phase_peak_mib.get(label, 0.0)]
        rows.append(row)
    return table(headers, rows)


def split_table(results: Sequence[Result]) -> str:
    """Exclusive seconds per step of the run, per backend, largest first."""
    names = sorted({n for r in results for n in r.split},
                   key=lambda n: -max(r.split.get(n, 0.0) for r in results))
    headers = ["step (exclusive time)"]
    for r in results:
        headers += [f"{r.backend} s", f"{r.backend} share", f"{r.backend} calls"]
    rows: list[list[object]] = []
    for name in names:
        row: list[object] = [name]
        for r in results:
            seconds = r.split.get(name, 0.0)
            row += [seconds, f"{seconds / r.run_s:.0%}", r.split_calls.get(name, 0)]
        rows.append(row)
    rest: list[object] = ["outside the wrappers"]
    for r in results:
        outside = r.run_s - sum(r.split.values())
        rest += [outside, f"{outside / r.run_s:.0%}", "-"]
    rows.append(rest)
    return table(headers, rows)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    backends_argument(parser)
    parser.set_defaults(backends=["postgres", "sqlite"])
    parser.add_argument("--records", type=int, default=1_000_000,
                        help="records in the ledger before the run, half of them due "
                             "(default 1,000,000)")
    parser.add_argument("--records-per-order", type=int, default=20,
                        help="chain length: orders = records / this (default 20)")
    parser.add_argument("--orders-per-transaction", type=int,
                        default=runner_module.DEFAULT_ORDERS_PER_TRANSACTION,
                        help="orders erased per transaction (default "
                             f"{runner_module.DEFAULT_ORDERS_PER_TRANSACTION})")
    parser.add_argument("--setup-workers", type=int, default=0,
                        help="processes appending the records, each to its own orders "
                             "(default: 2 on PostgreSQL, 1 on SQLite, whose one writer "
                             "at a time gains nothing from a second)")
    args = parser.parse_args(argv)
    check_backends(args.backends)
    if (args.records < 2 or args.records_per_order < 1 or args.orders_per_transaction < 1
            or args.setup_workers < 0):
        raise SystemExit("need --records >= 2, --records-per-order >= 1, "
                         "--orders-per-transaction >= 1")
    layout = plan_layout(args.records, args.records_per_order)

    say(header("bench/retention.py — retention run", args.backends))
    say(f"workload: {layout.orders:,} orders × {len(PREFIX)} setup records (M01–M05.02, "
        f"{layout.prefix_kept} of them transaction records of an open order), "
        f"{layout.old_scans:,} hub scans recorded {format_time(OLD_AT)}…, "
        f"{layout.new_scans:,} recorded {format_time(RECENT_AT)}…; run at {format_time(NOW)}"
        f"; due: {layout.due:,} of {layout.records:,}; "
        f"{args.orders_per_transaction} orders per erase transaction"
        + ("" if reset_peak_rss() else "; peak RSS is the process's peak so far"))
    results = []
    for backend in args.backends:
        say(f"\n{backend}: {layout.records:,} records …")
        workers = args.setup_workers or (1 if backend == "sqlite" else 2)
        results.append(run(backend, layout, args.orders_per_transaction, workers))
    say("\n## Retention run\n")
    say(table(RESULT_HEADERS, [r.row() for r in results]))
    say("\narchive s and erase s are the steps' wall times (archive: records, inclusion "
        "proofs, signed manifest; erase: payload UPDATEs, one purge record per order, run "
        "items marked). erased/s (whole run) counts plan, archive, erase and report.")
    say("\n## The run's steps (wall time; peak RSS while the step ran)\n")
    say(steps_table(results))
    say("\n## Where the run's time goes (exclusive seconds; a call inside another counts "
        "for its own step only)\n")
    say(split_table(results))


if __name__ == "__main__":
    main()
