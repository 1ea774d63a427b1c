"""Append throughput: records/s through `AppendService`, and where a record's time goes.

    scripts/postgres.sh with .venv/bin/python bench/append.py [--seconds S]
        [--backends sqlite,postgres] [--profile]

Cells: SQLite and PostgreSQL × (one append per transaction, `append_many` of 100) × (1 and
4 writer threads of this process; 2 and 4 writer processes, each with its own ledger on the
same database, as API workers would run — bench/writer_processes.py), each writer on its own
orders. The records are realistic: orders brought to
M05.02 (in transit at a hub) by the domestic happy path's first ten steps, then an endless
stream of `hub_scan` self-loops on them (a chain that can grow without end) with one new
order (`order_placed`) in every ten records. Setup appends are not timed; after them each
writer freezes what it built and spaces out young collections, as `orderledger serve`
does at the end of startup (api/gc_freeze.py).

The 1-writer cells run instrumented: thin timing wrappers around the steps the service
calls (≈1 µs each, a dozen calls a record) split each record's wall time, in place and
under the same load, into validation, regulation pack, SLA timer planning,
canonicalization, signing, database (every unit-of-work call, BEGIN and COMMIT) and the
rest (the service's own Python). `--profile` adds a cProfile of 1-writer cells.

Prints figures; asserts nothing about speed. The machine is small and shared: compare
ratios within one run.
"""

from __future__ import annotations

import argparse
import cProfile
import itertools
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

# Run as a script (`python bench/append.py`), the folder on sys.path is bench/ itself.
sys.path.append(str(Path(__file__).resolve().parent.parent))

import ledger.append as append_module
import ledger.store.statements as statements_module
from api.gc_freeze import settle_collector_after_startup
from bench.common import (
    Baseline,
    ExclusiveTimer,
    Patch,
    backends_argument,
    bench_ledger,
    check_backends,
    header,
    latencies,
    measure_baseline,
    patched,
    per_call_us,
    profile_report,
    say,
    scratch_database,
    table,
)
from bench.writer_processes import run_processes
from ledger.append import Appended, AppendService, EventRequest
from ledger.canonical import statement_hash
from ledger.errors import InvalidInput
from ledger.keys import LocalKey
from ledger.service import Ledger
from ledger.statement import Actor, ActorType
from ledger.store import UnitOfWork
from regulations.facts import OrderFacts
from regulations.model import Pack
from statemodel.canonical import canonical_json
from statemodel.scenarios import DOMESTIC_HAPPY_PATH, Step

BATCH: Final = 100
#: (how, how many): writer threads of this process, or writer processes (bench/writer_processes.py).
WRITERS: Final = (("threads", 1), ("threads", 4), ("processes", 2), ("processes", 4))
#: Group commit only shows with many concurrent callers, as under an API's worker threads.
GROUPED_WRITERS: Final = (("threads", 16), ("processes", 2))
#: Writer threads in each process of a `grouped` process cell.
GROUPED_THREADS_PER_PROCESS: Final = 16
ORDERS_PER_WRITER: Final = 25
#: One record in this many creates a new order; the others are hub scans.
CREATION_EVERY: Final = 10
#: single: one append per call and per transaction (group commit off); grouped: one append
#: per call, concurrent calls sharing a transaction (group commit, the service's default);
#: batch100: append_many of 100.
MODES: Final = ("single", "grouped", "batch100")
#: The in-place split, in the order printed; "rest" is what no wrapper claimed.
PARTS: Final = ("validation", "regulations", "sla timers", "canonicalization", "signing",
                "database", "rest")
#: Reference costs on this machine, from the issue (µs per record).
REFERENCE_US: Final = {"validation": 117.0, "RFC 8785 of the statement": 44.0, "signing": 31.0}
#: PostgreSQL, from the issue; "single-record" covers both ways of appending one record.
FLOOR_PER_S: Final = {"single": 800, "grouped": 800, "batch100": 5000}


def _prefix_and_scan() -> tuple[tuple[Step, ...], Step, Step]:
    """The happy path up to its first M05.02, the hub scan that loops there, and the
    creation step."""
    steps = DOMESTIC_HAPPY_PATH.steps
    first_hub = next(i for i, s in enumerate(steps) if s.expect == "M05.02")
    return steps[: first_hub + 1], steps[first_hub], steps[0]


PREFIX, HUB_SCAN, CREATION = _prefix_and_scan()


class Workload:
    """One writer's requests: its own orders, never another writer's."""

    def __init__(self, name: str, writer: int) -> None:
        self.tenant = f"shop-{writer % 3}"
        self._name = f"{name}-w{writer}"
        self.orders = [f"{self._name}-o{k}" for k in range(ORDERS_PER_WRITER)]

    def _request(self, order: str, step: Step, *, create: bool) -> EventRequest:
        carrier = step.event == "hub_scan"
        return EventRequest(
            tenant=self.tenant, order=order, event=step.event, event_time=step.at,
            actor=Actor(ActorType.CARRIER, "sf-express") if carrier
            else Actor(ActorType.PLATFORM, self.tenant),
            payload=step.payload, create=create,
        )

    def prefix(self) -> list[EventRequest]:
        """Bring every order of this writer to M05.02 (untimed setup)."""
        return [self._request(order, step, create=i == 0)
                for order in self.orders for i, step in enumerate(PREFIX)]

    def stream(self) -> Iterator[EventRequest]:
        """Hub scans round-robin over the orders; every CREATION_EVERY-th a new order."""
        for n in itertools.count():
            if n % CREATION_EVERY == CREATION_EVERY - 1:
                yield self._request(f"{self._name}-new{n}", CREATION, create=True)
            else:
                yield self._request(self.orders[n % ORDERS_PER_WRITER], HUB_SCAN, create=False)

    def set_up(self, appender: AppendService) -> None:
        prefix = self.prefix()
        for start in range(0, len(prefix), BATCH):
            require_appended(appender.append_many(prefix[start : start + BATCH]))


def require_appended(results: Sequence[Appended | InvalidInput]) -> None:
    """The benchmark only counts stored records: a refusal is a bug in the workload."""
    refused = [r for r in results if isinstance(r, InvalidInput)]
    if refused:
        raise RuntimeError(f"{len(refused)} requests refused, first: {refused[0]!r}")


def appender_for(ledger: Ledger, mode: str) -> AppendService:
    """The service a cell appends through: `single` turns group commit off, so that every
    append is a transaction of its own."""
    return ledger.new_appender(group_commit=False) if mode == "single" else ledger.appender


def writers_for(mode: str) -> tuple[tuple[str, int], ...]:
    return GROUPED_WRITERS if mode == "grouped" else WRITERS


def append_some(appender: AppendService, stream: Iterator[EventRequest], mode: str) -> int:
    """One call in `mode`; returns how many records it stored."""
    if mode in ("single", "grouped"):
        appender.append(next(stream))
        return 1
    require_appended(appender.append_many([next(stream) for _ in range(BATCH)]))
    return BATCH


@dataclass(frozen=True, slots=True)
class Cell:
    backend: str
    mode: str
    writers: int
    how: str  # "threads" or "processes"
    records: int
    seconds: float
    call_ms: tuple[float, float]  # median, p99 of one append / append_many call
    split_us: dict[str, float]  # per record, 1-writer cells only
    database_us: dict[str, float]  # the database part by unit-of-work call, per record

    @property
    def rate(self) -> float:
        return self.records / self.seconds

    @property
    def us_per_record(self) -> float:
        """Wall time per record of ONE writer (µs)."""
        return self.seconds * self.writers / self.records * 1e6


def run_cell(ledger: Ledger, backend: str, mode: str, writers: int, seconds: float) -> Cell:
    """`writers` threads append their own streams in `mode` for `seconds`. With one
    writer the steps are timed in place (see `instrumentation`)."""
    appender = appender_for(ledger, mode)
    workloads = [Workload(f"{mode}{writers}", w) for w in range(writers)]
    for workload in workloads:
        workload.set_up(appender)
    settle_collector_after_startup()  # as `orderledger serve` does once it has started
    timer = ExclusiveTimer()
    start_line = threading.Barrier(writers + 1)
    counts = [0] * writers
    call_times: list[float] = []
    errors: list[BaseException] = []
    deadline = 0.0

    def writer(index: int) -> None:
        stream = workloads[index].stream()
        start_line.wait()
        timer.reset()  # only one writer when instrumented: setup calls are not counted
        try:
            while time.perf_counter() < deadline:
                began = time.perf_counter()
                counts[index] += append_some(appender, stream, mode)
                call_times.append(time.perf_counter() - began)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    with patched(instrumentation(ledger, timer) if writers == 1 else []):
        threads = [threading.Thread(target=writer, args=(i,)) for i in range(writers)]
        for thread in threads:
            thread.start()
        began = time.perf_counter()
        deadline = began + seconds
        start_line.wait()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - began
    if errors:
        raise errors[0]
    records = sum(counts)
    split: dict[str, float] = {}
    database: dict[str, float] = {}
    if writers == 1:
        for category, own in timer.own.items():
            part, _, call = category.partition(":")
            split[part] = split.get(part, 0.0) + own / records * 1e6
            if call:
                database[call] = own / records * 1e6
        split = {part: split.get(part, 0.0) for part in PARTS[:-1]}
        split["rest"] = elapsed / records * 1e6 - sum(split.values())
    calls = latencies([t * 1e3 for t in call_times])
    return Cell(backend, mode, writers, "threads", records, elapsed,
                (calls.median, calls.p99), split, database)


def run_process_cell(ledger: Ledger, backend: str, mode: str, processes: int,
                     seconds: float) -> Cell:
    """`processes` writer processes, each with its own ledger on the same database."""
    threads = GROUPED_THREADS_PER_PROCESS if mode == "grouped" else 1
    records, elapsed, call_times = run_processes(
        ledger.settings, f"{mode}p{processes}", mode, processes, seconds, threads)
    calls = latencies([t * 1e3 for t in call_times])
    how = f"processes of {threads} threads" if threads > 1 else "processes"
    return Cell(backend, mode, processes, how, records, elapsed,
                (calls.median, calls.p99), {}, {})


# --- the in-place split ----------------------------------------------------------------

def instrumentation(ledger: Ledger, timer: ExclusiveTimer) -> list[Patch]:
    """Timing wrappers for the append path, by part. Only for ONE writer thread: the
    timer keeps exclusive time (a wrapped call inside another counts once, for itself)."""
    machine = ledger.models.current.machine
    recorder: Any = ledger.recorder
    uow_class = recorder.unit_of_work_class
    patches: list[Patch] = [
        Patch(machine, "target", "validation"),
        Patch(machine, "validate_payload", "validation"),
        Patch(Pack, "evaluate", "regulations"),
        Patch(OrderFacts, "from_json", "regulations"),
        Patch(OrderFacts, "advance", "regulations"),
        Patch(OrderFacts, "to_json", "regulations"),
        Patch(append_module, "plan_timers", "sla timers"),
        Patch(append_module, "statement_hash", "canonicalization"),
        Patch(append_module, "canonical_json", "canonicalization"),
        Patch(append_module, "digest_of_canonical", "canonicalization"),
        Patch(statements_module, "payload_text", "canonicalization"),
        Patch(LocalKey, "sign_record", "signing"),
        Patch(recorder, "unit_of_work", "database:BEGIN/COMMIT", context=True),
        *(Patch(uow_class, name, f"database:{name}")
          for name in sorted({*UnitOfWork.__abstractmethods__, "write_appends"})),
    ]
    for patch in patches:
        patch.timer = timer
    return patches


@dataclass(frozen=True, slots=True)
class Alone:
    """Costs measured alone on a real hub-scan record (µs), for the issue's references."""

    validation: float
    statement_jcs: float
    signing: float
    statement_bytes: int
    payload_bytes: int


def measure_alone(ledger: Ledger) -> Alone:
    workload = Workload("alone", 0)
    require_appended(ledger.appender.append_many(workload.prefix()[: len(PREFIX)]))
    record = ledger.appender.append(
        EventRequest(tenant=workload.tenant, order=workload.orders[0], event=HUB_SCAN.event,
                     event_time=HUB_SCAN.at, actor=Actor(ActorType.CARRIER, "sf-express"),
                     payload=HUB_SCAN.payload)
    ).record
    machine, payload = ledger.models.current.machine, dict(HUB_SCAN.payload)
    signer, digest = ledger.keyring.record_key(), statement_hash(record.statement)
    return Alone(
        validation=per_call_us(
            lambda: machine.validate_payload(machine.target("M05.02", HUB_SCAN.event), payload)),
        statement_jcs=per_call_us(lambda: canonical_json(record.statement.to_json())),
        signing=per_call_us(lambda: signer.sign_record(digest)),
        statement_bytes=len(canonical_json(record.statement.to_json())),
        payload_bytes=len(canonical_json(payload)),
    )


# --- profile ---------------------------------------------------------------------------

#: Steps of the append path whose cumulative time the profile shows: (file, function).
PROFILED_STEPS: Final = (
    ("ledger/append.py", "_judge"),
    ("ledger/store/core.py", "lock_head"),
    ("ledger/append.py", "_store"),
    ("ledger/store/core.py", "insert_records"),
    ("ledger/store/core.py", "advance_heads"),
    ("sqlalchemy/engine/default.py", "do_commit"),
)


def profile_cell(ledger: Ledger, backend: str, mode: str, seconds: float) -> str:
    """cProfile of one single-writer cell, run in this thread (cProfile sees only the
    thread that enabled it)."""
    workload = Workload(f"profiled-{mode}", 0)
    appender = appender_for(ledger, mode)
    workload.set_up(appender)
    stream = workload.stream()
    records = 0
    profiler = cProfile.Profile()
    began = time.perf_counter()
    profiler.enable()
    while time.perf_counter() < began + seconds:
        records += append_some(appender, stream, mode)
    profiler.disable()
    elapsed = time.perf_counter() - began
    title = (f"### cProfile, {backend} {mode}, 1 writer: {records:,} records, "
             f"{records / elapsed:,.0f}/s under the profiler")
    return profile_report(profiler, records, title, PROFILED_STEPS)


# --- main ------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class BackendRun:
    backend: str
    cells: list[Cell]
    alone: Alone
    baseline: Baseline
    profiles: list[str]


def bench_backend(backend: str, seconds: float, profile: bool) -> BackendRun:
    cells = []
    profiles = []
    with scratch_database(backend, "bench_append") as url:
        baseline = measure_baseline(backend, url)
        say(f"  {backend:8s} bare database: commit {baseline.commit:,.0f} µs, batched row "
            f"{baseline.batch_row:,.0f} µs, round trip {baseline.round_trip:,.0f} µs")
        with bench_ledger(url) as ledger:
            alone = measure_alone(ledger)
            for mode in MODES:
                for how, writers in writers_for(mode):
                    cell = (run_cell(ledger, backend, mode, writers, seconds) if how == "threads"
                            else run_process_cell(ledger, backend, mode, writers, seconds))
                    say(f"  {backend:8s} {mode:8s} {writers} {how}: "
                        f"{cell.rate:8,.0f} records/s")
                    cells.append(cell)
            if profile:
                profiles = [profile_cell(ledger, backend, mode, seconds)
                            for mode in MODES if mode != "grouped"]
    return BackendRun(backend, cells, alone, baseline, profiles)


def limiting_factor(run: BackendRun) -> list[str]:
    """One reading per mode from this run's figures: the largest part of a record's
    time, the bare database write for comparison, and how 4 writers scale."""
    lines = []
    by_key = {(c.mode, c.writers): c for c in run.cells if c.how == "threads"}
    best = {mode: max((c for c in run.cells if c.mode == mode), key=lambda c: c.rate)
            for mode in MODES}
    for (mode, writers), one in by_key.items():
        if writers != 1:
            continue
        per = one.us_per_record
        ranked = sorted(one.split_us.items(), key=lambda kv: -kv[1])
        bare = run.baseline.commit if mode == "single" else run.baseline.batch_row
        four = by_key.get((mode, 4))
        scaling = f" 4 threads: {four.rate / one.rate:.2f}× the rate of 1." if four else ""
        top = best[mode]
        scaling += (f" Best: {top.writers} {top.how}, {top.rate / one.rate:.2f}× the rate of "
                    "1 thread.")
        lines.append(
            f"- {run.backend} {mode}: {one.rate:,.0f}/s, {per:,.0f} µs/record; largest parts "
            + ", ".join(f"{k} {v:,.0f} µs ({v / per:.0%})" for k, v in ranked[:3])
            + f". The bare {'1-row' if mode == 'single' else 'batched'} INSERT + COMMIT "
            f"alone costs {bare:,.0f} µs a record.{scaling}"
        )
    return lines


def report(runs: Sequence[BackendRun]) -> None:
    """Print the tables and the reading of one run."""
    cells = [c for run in runs for c in run.cells]
    say("\n## Throughput\n")
    say(table(
        ["backend", "mode", "writers", "records", "records/s", "call ms median", "call ms p99"],
        [[c.backend, c.mode, f"{c.writers} {c.how}", c.records, c.rate, *c.call_ms]
         for c in cells]))
    say("\n## The bare database, measured alone in the same run (µs)\n")
    say(table(["backend", "fdatasync 8 KiB", "round trip", "1-row INSERT + COMMIT",
               f"{BATCH}-row INSERT + COMMIT, per row"],
              [[r.backend, r.baseline.flush, r.baseline.round_trip, r.baseline.commit,
                r.baseline.batch_row] for r in runs]))
    alone = runs[0].alone
    say(f"\n## Split of one record's time, measured in place (1 writer; µs per record; "
        f"statement {alone.statement_bytes} B, payload {alone.payload_bytes} B canonical)\n")
    say(table(["backend", "mode", "µs/record", *PARTS],
              [[c.backend, c.mode, c.us_per_record,
                *(f"{c.split_us[p]:,.0f} ({c.split_us[p] / c.us_per_record:.0%})"
                  for p in PARTS)] for c in cells if c.writers == 1 and c.how == "threads"]))
    say("\nThe database part by call (µs per record; the 5 largest):\n")
    say(table(["backend", "mode", "calls"],
              [[c.backend, c.mode, ", ".join(
                  f"{name} {us:,.0f}" for name, us in
                  sorted(c.database_us.items(), key=lambda kv: -kv[1])[:5])]
               for c in cells if c.writers == 1 and c.how == "threads"]))
    say("\nMeasured alone (µs): " + ", ".join(
        f"{name} {value:.0f} (issue: {REFERENCE_US[name]:.0f})" for name, value in (
            ("validation", alone.validation), ("RFC 8785 of the statement", alone.statement_jcs),
            ("signing", alone.signing))) + ".")
    say("\n## Limiting factor\n")
    for run in runs:
        for line in limiting_factor(run):
            say(line)
    postgres = [c for c in cells if c.backend == "postgres"]
    if postgres:
        say("\nFloors (PostgreSQL, from the issue): " + "; ".join(
            f"{mode} ≥ {floor:,}/s, best measured "
            f"{max(c.rate for c in postgres if c.mode == mode):,.0f}/s"
            for mode, floor in FLOOR_PER_S.items()) + ".")
    for run in runs:
        for text in run.profiles:
            say("\n" + text)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    backends_argument(parser)
    parser.add_argument("--seconds", type=float, default=6.0,
                        help="duration of each cell (default 6)")
    parser.add_argument("--profile", action="store_true",
                        help="also cProfile the single-writer cells")
    args = parser.parse_args(argv)
    check_backends(args.backends)

    say(header("bench/append.py — append throughput", args.backends))
    say(f"workload: orders at M05.02 via {len(PREFIX)} setup steps, then hub_scan self-loops "
        f"round-robin over {ORDERS_PER_WRITER} orders per writer, 1 order_placed in every "
        f"{CREATION_EVERY}; {args.seconds:g} s per cell; batch = append_many of {BATCH}\n")
    report([bench_backend(backend, args.seconds, args.profile) for backend in args.backends])


if __name__ == "__main__":
    main()
