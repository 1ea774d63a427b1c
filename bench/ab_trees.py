"""Two trees' batched append path, interleaved: the only comparison this machine allows.

    git worktree add /tmp/before <commit>      # or a clone checked out there
    scripts/postgres.sh with .venv/bin/python bench/ab_trees.py /tmp/before [--rounds 3]
        [--seconds 10] [--processes 1] [--side-by-side]

Separate runs of bench/append.py differ by up to 2× on this shared 2-core machine, so
this runs the `batch100` workload of bench/append.py from the OTHER tree and from this
one in turn, `rounds` times, each cell in fresh child processes on a fresh database of
the same PostgreSQL server (`ORDERLEDGER_TEST_PG_URL`). Per cell it prints records/s
(summed over `processes` writer processes), the first writer's CPU per record
(`time.process_time`) and the server's (/proc/<pid>/stat of every postgres process, over
the first writer's run, per record of all writers). Read the ratio within each round.
With `--side-by-side` both trees' writers run at once instead, on the same machine state
(rates only: the server's CPU cannot be told apart).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent.parent
TICK = os.sysconf("SC_CLK_TCK")


def server_cpu_seconds() -> float:
    """CPU time (user + system) of every postgres process on this machine."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        if text[text.index("(") + 1 : text.rindex(")")].startswith("postgres"):
            fields = text[text.rindex(")") + 2 :].split()
            total += int(fields[11]) + int(fields[12])
    return total / TICK


def child(tree: str, seconds: float) -> None:
    """One writer of `tree`'s batch100 workload; prints a JSON line of what it did."""
    sys.path.insert(0, tree)
    from bench.append import Workload, append_some
    from bench.common import bench_ledger, scratch_database

    with scratch_database("postgres", "ab") as url, bench_ledger(url) as ledger:
        workload = Workload("ab", 0)
        workload.set_up(ledger.appender)
        if (Path(tree) / "api" / "gc_freeze.py").is_file():  # as that tree's `serve` does
            import api.gc_freeze as collector  # older trees only froze

            getattr(collector, "settle_collector_after_startup",
                    collector.freeze_what_startup_built)()
        stream = workload.stream()
        cpu, server, began = time.process_time(), server_cpu_seconds(), time.perf_counter()
        records = 0
        while time.perf_counter() - began < seconds:
            records += append_some(ledger.appender, stream, "batch100")
        elapsed = time.perf_counter() - began
        print(json.dumps({"records": records, "seconds": elapsed,
                          "client": time.process_time() - cpu,
                          "server": server_cpu_seconds() - server}))


def _start(tree: str, seconds: float, processes: int) -> list[subprocess.Popen[str]]:
    command = [sys.executable, __file__, "--child", tree, "--seconds", str(seconds)]
    return [subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
            for _ in range(processes)]


def _runs(tree: str, children: list[subprocess.Popen[str]]) -> list[dict[str, Any]]:
    outputs = [c.communicate()[0] for c in children]
    if any(c.returncode for c in children):
        raise SystemExit(f"a writer of {tree} failed")
    return [json.loads(out.strip().splitlines()[-1]) for out in outputs]


def _rate(runs: list[dict[str, Any]]) -> float:
    return float(sum(r["records"] / r["seconds"] for r in runs))


def side_by_side(trees: tuple[str, str], seconds: float, processes: int) -> list[float]:
    """Both trees' writers at once (`processes` each): the same machine state for both,
    where cells one after the other can differ by more than the change."""
    started = [_start(tree, seconds, processes) for tree in trees]
    return [_rate(_runs(tree, children)) for tree, children in zip(trees, started, strict=True)]


def cell(tree: str, seconds: float, processes: int) -> dict[str, Any]:
    runs = _runs(tree, _start(tree, seconds, processes))
    rate = _rate(runs)
    one = runs[0]
    # The server's CPU, measured by the first writer over its run, serves every writer.
    return {"rate": rate, "client": one["client"] / max(one["records"], 1) * 1e6,
            "server": one["server"] / max(sum(r["records"] for r in runs), 1) * 1e6}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("other", nargs="?", help="the other tree (a checkout of this repo)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--side-by-side", action="store_true",
                        help="run both trees' writers at once instead of one after the other")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.seconds)
        return
    if not args.other or not (Path(args.other) / "bench" / "append.py").is_file():
        raise SystemExit("ab_trees: give the other tree, a checkout with bench/append.py")
    if "ORDERLEDGER_TEST_PG_URL" not in os.environ:
        raise SystemExit("ab_trees: run under scripts/postgres.sh with ...")
    # One ledger first, alone: it creates the cluster-wide role, which an older tree's
    # migration could not create from two databases at once.
    cell(str(HERE), 0.0, 1)
    if args.side_by_side:
        print(f"batch100, {args.processes} writer process(es) per tree, both trees at once, "
              f"{args.seconds:g} s a round")
        for round_ in range(1, args.rounds + 1):
            other, this = side_by_side((args.other, str(HERE)), args.seconds, args.processes)
            print(f"round {round_}: other {other:6,.0f} records/s   this {this:6,.0f} "
                  f"records/s   this / other: {this / other:.2f}", flush=True)
        return
    print(f"batch100, {args.processes} writer process(es), {args.seconds:g} s a cell; "
          "CPU per record: the first writer's (client) and the server's")
    for round_ in range(1, args.rounds + 1):
        rates = []
        for name, tree in (("other", args.other), ("this", str(HERE))):
            result = cell(tree, args.seconds, args.processes)
            rates.append(result["rate"])
            print(f"round {round_} {name:5s}: {result['rate']:6,.0f} records/s   client "
                  f"{result['client']:4.0f} µs  server {result['server']:4.0f} µs   "
                  f"load {os.getloadavg()[0]:.1f}", flush=True)
        print(f"round {round_} this / other: {rates[1] / rates[0]:.2f}", flush=True)


if __name__ == "__main__":
    main()
