"""Instructions the writer executes per batched record: the one figure this machine
measures the same twice.

    scripts/postgres.sh with .venv/bin/python bench/writer_instructions.py [TREE ...]

Runs bench/append.py's `batch100` workload (one writer, its own orders, on a fresh
database of ORDERLEDGER_TEST_PG_URL) under valgrind's cachegrind (`--cache-sim=no`: the
instruction count alone), once with 10 and once with 30 batches after the same untimed
setup; the difference over the 2,000 records between them is the writer's instructions
per record, imports, setup and the database's work excluded. Two runs of one tree agree
to ~0.1 %, where times on the shared 2-core machine wander by 1.4× from one minute to the
next; so a change on the writer's side is judged by this, its effect on the rate by
bench/ab_trees.py. Give other trees (checkouts of this repository) to compare them with
this one. Needs valgrind (`apt-get install valgrind`); ~1.5 min a tree.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
BATCHES = (10, 30)
BATCH = 100


def child(tree: str, batches: int) -> None:
    """Set up one writer of `tree`'s workload, then append `batches` batches."""
    sys.path.insert(0, tree)
    from bench.append import Workload, append_some
    from bench.common import bench_ledger, scratch_database

    with scratch_database("postgres", "ir") as url, bench_ledger(url) as ledger:
        workload = Workload("ir", 0)
        workload.set_up(ledger.appender)
        if (Path(tree) / "api" / "gc_freeze.py").is_file():  # as that tree's `serve` does
            import api.gc_freeze as collector  # older trees only froze

            getattr(collector, "settle_collector_after_startup",
                    collector.freeze_what_startup_built)()
        stream = workload.stream()
        for _ in range(batches):
            append_some(ledger.appender, stream, "batch100")


def instructions(tree: str, batches: int) -> int:
    """Instructions (cachegrind's Ir) of one child run."""
    with tempfile.TemporaryDirectory(prefix="ir-") as folder:
        out = Path(folder) / "cachegrind.out"
        subprocess.run(
            ["valgrind", "--tool=cachegrind", "--cache-sim=no",
             f"--cachegrind-out-file={out}", sys.executable, __file__, "--child", tree,
             "--batches", str(batches)],
            check=True, capture_output=True)
        summary = re.search(r"^summary:\s+(\d+)", out.read_text(), re.MULTILINE)
        if summary is None:
            raise SystemExit(f"writer_instructions: no summary in {out}")
        return int(summary.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("trees", nargs="*", help="other trees to measure besides this one")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--batches", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.batches)
        return
    if shutil.which("valgrind") is None:
        raise SystemExit("writer_instructions: needs valgrind (apt-get install valgrind)")
    if "ORDERLEDGER_TEST_PG_URL" not in os.environ:
        raise SystemExit("writer_instructions: run under scripts/postgres.sh with ...")
    records = (BATCHES[1] - BATCHES[0]) * BATCH
    for tree in (*args.trees, str(HERE)):
        counts = [instructions(tree, n) for n in BATCHES]
        print(f"{tree}: {(counts[1] - counts[0]) / records:,.0f} instructions per batched "
              "record (writer)", flush=True)


if __name__ == "__main__":
    main()
