"""Writers as separate processes: how one machine runs several API workers.

Threads of one Python process share the GIL, so on 2 cores the append path's CPU work
(validation, the regulation pack, canonicalization, signing) cannot overlap; processes
can. Each process opens its own `Ledger` on the same database and data folder (the same
signing key), sets up its own orders, waits at a common start line, appends for the
given seconds and reports what it stored and how long each call took.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledger.clock import SystemClock
from ledger.service import open_ledger
from ledger.settings import Settings


@dataclass(frozen=True, slots=True)
class ProcessResult:
    records: int
    call_seconds: list[float]


def run_processes(settings: Settings, name: str, mode: str, processes: int,
                  seconds: float, threads: int = 1) -> tuple[int, float, list[float]]:
    """Run `processes` writer processes of `threads` writer threads each in `mode` for
    `seconds`; returns (records stored,
    elapsed seconds from the common start to the last writer's end, call times).
    Raises RuntimeError when a writer failed."""
    context = multiprocessing.get_context("spawn")  # no inherited connections or threads
    start_line = context.Barrier(processes + 1)
    results = context.Queue()
    workers = [
        context.Process(target=_writer, args=(
            str(settings.database_url), str(settings.data_dir), settings.log_origin, name,
            index, mode, seconds, threads, start_line, results))
        for index in range(processes)
    ]
    for worker in workers:
        worker.start()
    try:
        start_line.wait(timeout=300)  # every writer has set up its orders
    except threading.BrokenBarrierError:
        raise RuntimeError(f"a writer process failed: {results.get(timeout=60)}") from None
    began = time.perf_counter()
    outcomes: list[Any] = [results.get(timeout=seconds + 300) for _ in workers]
    elapsed = time.perf_counter() - began
    for worker in workers:
        worker.join()
    failures = [o for o in outcomes if isinstance(o, str)]
    if failures:
        raise RuntimeError(f"a writer process failed: {failures[0]}")
    done = [o for o in outcomes if isinstance(o, ProcessResult)]
    return (sum(o.records for o in done), elapsed, [t for o in done for t in o.call_seconds])


def _writer(url: str, data_dir: str, log_origin: str, name: str, index: int, mode: str,
            seconds: float, threads: int, start_line: Any, results: Any) -> None:
    # Imported here: the spawned interpreter imports this module before anything else.
    from api.gc_freeze import settle_collector_after_startup
    from bench.append import Workload, append_some, appender_for

    try:
        settings = Settings(database_url=url, data_dir=Path(data_dir), log_origin=log_origin)
        ledger = open_ledger(settings, clock=SystemClock())
        try:
            appender = appender_for(ledger, mode)
            workloads = [Workload(name, index * threads + t) for t in range(threads)]
            for workload in workloads:
                workload.set_up(appender)
            settle_collector_after_startup()  # as `orderledger serve` does once it has started
            counts = [0] * threads
            calls: list[float] = []
            failures: list[BaseException] = []

            def write(thread: int, deadline: float) -> None:
                stream = workloads[thread].stream()
                try:
                    while time.perf_counter() < deadline:
                        began = time.perf_counter()
                        counts[thread] += append_some(appender, stream, mode)
                        calls.append(time.perf_counter() - began)
                except BaseException as exc:  # reported below
                    failures.append(exc)

            start_line.wait(timeout=300)
            deadline = time.perf_counter() + seconds
            writers = [threading.Thread(target=write, args=(t, deadline))
                       for t in range(threads)]
            for writer in writers:
                writer.start()
            for writer in writers:
                writer.join()
            if failures:
                raise failures[0]
            results.put(ProcessResult(sum(counts), calls))
        finally:
            ledger.close()
    except BaseException as exc:  # reported by the parent, which raises
        start_line.abort()
        results.put(f"{type(exc).__name__}: {exc}")
