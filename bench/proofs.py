"""Merkle log: integration rate, proof latency from the database, bundle export and
verification, at growing log sizes.

    scripts/postgres.sh with .venv/bin/python bench/proofs.py [--sizes 1e4,1e5,1e6]
        [--queries 200] [--backends sqlite,postgres]

How the log is built (one database per backend, grown through the sizes in turn):

1. one real order of 20 records (`return_within_cooling_off_then_refund`) through the
   append service, so the bundle below is real evidence;
2. filler records written by ONE `INSERT ... SELECT` per 100,000 rows on the database
   side (PostgreSQL `generate_series`, SQLite a recursive CTE), each with a unique
   statement hash. They are placeholders, not signed statements (an audit of this scratch
   database would flag them), but they are real rows of `records`, and the database's
   own trigger queues them for the log exactly as it queues appended records;
3. up to `--sequence-up-to` leaves (default 100,000) every leaf goes through
   `Sequencer.integrate_all()` on that queue (batches of 5,000: leaves, perfect-subtree
   nodes, dequeue and a signed checkpoint per transaction); beyond it (the 10^6 case)
   the queue is integrated "directly": the same leaves and nodes (`merkle.append_leaves`)
   written through the recorder's `store_leaves`/`store_nodes`/`delete_from_queue` in
   units of work of 20,000, then ONE signed checkpoint for the final size. The tree is
   the same; only the per-batch checkpoints and tree-head checks are skipped.

At each size: integration rate (leaves/s) of the leaves added since the previous size;
inclusion and consistency proof latency (each query its own read-only unit of work, as
an API request would have; median and p99 over random indices / old sizes, a sample of
them checked against the checkpoint's root); `export_bundle` of the 20-record order and
`verify_bundle` of that bundle with the ledger's trust set.

Prints figures; asserts nothing about speed. The machine is small and shared: compare
ratios within one run.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

# Run as a script (`python bench/proofs.py`), the folder on sys.path is bench/ itself.
sys.path.append(str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text

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
from ledger import merkle
from ledger.append import EventRequest
from ledger.checkpoint import Checkpoint
from ledger.export import export_bundle
from ledger.sequencer import DEFAULT_BATCH, Sequencer
from ledger.service import Ledger
from ledger.statement import Actor, ActorType
from ledger.store import CheckpointRow, StoredRecord
from ledger.store.core import SqlRecorder
from ledger.timefmt import format_time
from ledger.verify import (
    TrustSet,
    leaf_hash,
    verify_bundle,
    verify_consistency,
    verify_inclusion,
)
from statemodel.scenarios import RETURN_AND_REFUND

DEFAULT_SIZES: Final = (10_000, 100_000, 1_000_000)
FILLER_CHUNK: Final = 100_000
#: Leaves per unit of work of the direct build (SQLite allows 32,766 bound parameters).
DIRECT_CHUNK: Final = 20_000
SEQUENCE_UP_TO: Final = 100_000
#: Proofs per size checked against the checkpoint's root (outside the timing).
CHECKED: Final = 10
MIN_QUERIES: Final = 20
EXPORT_RUNS: Final = 5
TENANT: Final = "shop-bench"
ORDER: Final = "order-bench-20"
PROOF_FLOOR_MS: Final = 5.0  # the issue: proof generation under 5 ms at 10^6 leaves
APPEND_BATCH_FLOOR: Final = 5000  # the batched append floor (records/s)

_FILLER_COLUMNS = (
    "v, log, kind, tenant, order_id, seq, prev, from_state, to_state, event, event_time, "
    "recorded_at, actor_type, actor_id, payload_digest, model, rules, key_id, "
    "statement_hash, signature"
)
_FILLER_VALUES = (
    "1, :log, 'transition', 'filler', 'filler-' || ({n} / 1000), {n} % 1000, :zeros, NULL, "
    "'M01.01', 'order_placed', :at, :at, 'system', 'bench', :zeros, :model, :rules, :key_id, "
    "{hash}, ''"
)
FILLER_SQL: Final = {
    "postgresql": (
        f"INSERT INTO records ({_FILLER_COLUMNS}) SELECT "
        + _FILLER_VALUES.format(n="g", hash="encode(sha256(('filler-' || g)::bytea), 'hex')")
        + " FROM generate_series(CAST(:first AS bigint), CAST(:last AS bigint)) AS g"
    ),
    "sqlite": (
        f"INSERT INTO records ({_FILLER_COLUMNS}) "
        "WITH RECURSIVE g(n) AS (SELECT :first UNION ALL SELECT n + 1 FROM g WHERE n < :last) "
        "SELECT " + _FILLER_VALUES.format(n="n", hash="lower(hex(randomblob(32)))") + " FROM g"
    ),
}


def parse_sizes(value: str) -> list[int]:
    """`1e4,1e5` or `10000,100000` -> sorted distinct sizes. Raises ValueError for a size
    below 100 (the log must hold the 20-record order and room for proofs)."""
    sizes = sorted({int(float(v)) for v in value.split(",") if v.strip()})
    if not sizes or sizes[0] < 100:
        raise ValueError("sizes must be at least 100")
    return sizes


# --- building the log ------------------------------------------------------------------

def append_real_order(ledger: Ledger) -> StoredRecord:
    """The 20-record order, appended for real; returns its last record."""
    steps = RETURN_AND_REFUND.steps
    results = ledger.appender.append_many([
        EventRequest(tenant=TENANT, order=ORDER, event=step.event, event_time=step.at,
                     actor=Actor(ActorType.PLATFORM, TENANT), payload=step.payload,
                     create=i == 0)
        for i, step in enumerate(steps)
    ])
    records = [r.record for r in results if not isinstance(r, Exception)]
    if len(records) != len(steps):
        raise RuntimeError(f"the bench order was refused: {results}")
    return records[-1]


def insert_filler(ledger: Ledger, template: StoredRecord, first: int, count: int) -> None:
    """`count` placeholder records numbered from `first`, queued by the database trigger."""
    recorder = ledger.recorder
    if not isinstance(recorder, SqlRecorder):
        raise TypeError("the benchmark needs a SQL recorder")
    sql = text(FILLER_SQL[recorder.dialect])
    s = template.statement
    for start in range(first, first + count, FILLER_CHUNK):
        last = min(first + count, start + FILLER_CHUNK) - 1
        with recorder.engine.begin() as connection:
            connection.execute(sql, {
                "first": start, "last": last, "log": s.log, "zeros": "0" * 64,
                "at": s.recorded_at, "model": s.model, "rules": s.rules, "key_id": s.key_id,
            })


def integrate_direct(ledger: Ledger) -> int:
    """Integrate the whole queue through the recorder's Merkle-log methods, without the
    Sequencer's per-batch checkpoint; then sign one checkpoint for the final size.
    Returns how many leaves were added."""
    log_key = ledger.keyring.log_key()  # outside: it opens a unit of work of its own
    total = 0
    while True:
        with ledger.recorder.unit_of_work() as uow:
            queued = uow.take_unsequenced(DIRECT_CHUNK)
            if not queued:
                break
            size = uow.log_size()
            record_ids = [record_id for record_id, _ in queued]
            leaves = [leaf_hash(bytes.fromhex(h)) for _, h in queued]
            nodes, _, _ = merkle.append_leaves(size, leaves, uow)
            uow.store_leaves(size, record_ids, leaves)
            uow.store_nodes(nodes)
            uow.delete_from_queue(record_ids)
            total += len(queued)
    with ledger.recorder.unit_of_work() as uow:
        size = uow.log_size()
        root = merkle.root(size, uow)
        now = format_time(ledger.clock.now())
        note = Checkpoint(origin=ledger.settings.log_origin, size=size, root=root,
                          extensions=(f"timestamp {now}",)).sign(log_key)
        uow.insert_checkpoint(CheckpointRow(size=size, root=root, note=note, created_at=now))
    return total


# --- measuring -------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class SizeResult:
    backend: str
    size: int
    how: str  # "Sequencer" or "direct"
    integrated: int
    integrate_s: float
    filler_s: float
    queries: tuple[int, int]  # inclusion, consistency queries made
    exports: int
    inclusion_ms: tuple[float, float]
    inclusion_len: float
    consistency_ms: tuple[float, float]
    consistency_len: float
    export_ms: float
    verify_ms: float
    bundle_kib: float

    @property
    def leaves_per_s(self) -> float:
        return self.integrated / self.integrate_s


def timed_queries(
    ledger: Ledger, queries: Sequence[int], prove: Callable[[Any, int], list[bytes]],
    budget_s: float,
) -> tuple[list[float], list[list[bytes]]]:
    """Run `prove(uow, q)` for each query in its own read-only unit of work, stopping
    early (after at least MIN_QUERIES) once `budget_s` is spent; returns the latencies
    (ms) and the proofs."""
    times: list[float] = []
    proofs: list[list[bytes]] = []
    stop = time.perf_counter() + budget_s
    for query in queries:
        if len(times) >= MIN_QUERIES and time.perf_counter() > stop:
            break
        began = time.perf_counter()
        with ledger.recorder.unit_of_work(read_only=True) as uow:
            proof = prove(uow, query)
        times.append((time.perf_counter() - began) * 1e3)
        proofs.append(proof)
    return times, proofs


def check_proofs(
    ledger: Ledger, size: int, indices: Sequence[int], inclusion: Sequence[list[bytes]],
    olds: Sequence[int], consistency: Sequence[list[bytes]],
) -> None:
    """Verify a sample of the proofs against the tree head: a fast wrong answer is no
    answer. Raises a VerificationError subclass when one does not verify."""
    with ledger.recorder.unit_of_work(read_only=True) as uow:
        head = merkle.root(size, uow)
        # Fewer proofs than queries when the time budget ran out.
        for index, proof in list(zip(indices, inclusion, strict=False))[:CHECKED]:
            leaf = uow.get_nodes([(0, index)])[(0, index)]
            verify_inclusion(index, size, leaf, proof, head)
        for old, proof in list(zip(olds, consistency, strict=False))[:CHECKED]:
            verify_consistency(old, size, merkle.root(old, uow), head, proof)


def measure_size(
    ledger: Ledger, backend: str, size: int, build: tuple[str, int, float, float],
    queries: int, budget_s: float, rng: random.Random,
) -> SizeResult:
    """Measure proofs, export and verification at `size`; `build` is how the leaves
    since the previous size came in (how, count, integrate seconds, filler seconds)."""
    how, integrated, integrate_s, filler_s = build
    indices = [rng.randrange(size) for _ in range(queries)]
    olds = [rng.randrange(1, size) for _ in range(queries)]
    inclusion_times, inclusion = timed_queries(
        ledger, indices, lambda uow, i: merkle.inclusion_proof(i, size, uow), budget_s)
    consistency_times, consistency = timed_queries(
        ledger, olds, lambda uow, old: merkle.consistency_proof(old, size, uow), budget_s)
    check_proofs(ledger, size, indices, inclusion, olds, consistency)

    export_times: list[float] = []
    verify_times: list[float] = []
    trust = TrustSet.from_json(ledger.keyring.trust_set())
    bundle: dict[str, Any] = {}
    stop = time.perf_counter() + budget_s
    while len(export_times) < EXPORT_RUNS and (not export_times or time.perf_counter() < stop):
        began = time.perf_counter()
        bundle = export_bundle(ledger, TENANT, ORDER)
        export_times.append((time.perf_counter() - began) * 1e3)
        began = time.perf_counter()
        report = verify_bundle(bundle, trust=trust)
        verify_times.append((time.perf_counter() - began) * 1e3)
        if not report.ok:
            raise RuntimeError(f"the bench bundle does not verify: {report.failures[:3]}")
    if len(bundle["entries"]) != len(RETURN_AND_REFUND.steps):
        raise RuntimeError(f"bundle holds {len(bundle['entries'])} entries, expected 20")
    inc, con = latencies(inclusion_times), latencies(consistency_times)
    return SizeResult(
        backend=backend, size=size, how=how, integrated=integrated, integrate_s=integrate_s,
        filler_s=filler_s, queries=(inc.count, con.count), exports=len(export_times),
        inclusion_ms=(inc.median, inc.p99),
        inclusion_len=statistics.mean(len(p) for p in inclusion),
        consistency_ms=(con.median, con.p99),
        consistency_len=statistics.mean(len(p) for p in consistency),
        export_ms=statistics.median(export_times),
        verify_ms=statistics.median(verify_times),
        bundle_kib=len(json.dumps(bundle).encode()) / 1024,
    )


def bench_backend(
    backend: str, sizes: Sequence[int], queries: int, budget_s: float, sequence_up_to: int,
    seed: int,
) -> list[SizeResult]:
    rng = random.Random(seed)
    results = []
    with scratch_database(backend, "bench_proofs") as url, bench_ledger(url) as ledger:
        sequencer = Sequencer(ledger.recorder, log_key=ledger.keyring.log_key(),
                              origin=ledger.settings.log_origin, clock=ledger.clock)
        template = append_real_order(ledger)
        records = len(RETURN_AND_REFUND.steps)
        for size in sizes:
            began = time.perf_counter()
            insert_filler(ledger, template, records, size - records)
            filler_s = time.perf_counter() - began
            records = size
            began = time.perf_counter()
            if size <= sequence_up_to:
                how, integrated = "Sequencer", sequencer.integrate_all().integrated
            else:
                how, integrated = "direct", integrate_direct(ledger)
            integrate_s = time.perf_counter() - began
            with ledger.recorder.unit_of_work(read_only=True) as uow:
                log_size = uow.log_size()
            if log_size != size:
                raise RuntimeError(f"log has {log_size} leaves, expected {size}")
            result = measure_size(ledger, backend, size,
                                  (how, integrated, integrate_s, filler_s),
                                  queries, budget_s, rng)
            say(f"  {backend:8s} {size:>9,} leaves: {how} {result.leaves_per_s:,.0f} leaves/s, "
                f"inclusion median {result.inclusion_ms[0]:.2f} ms, "
                f"consistency median {result.consistency_ms[0]:.2f} ms")
            results.append(result)
    return results


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    backends_argument(parser)
    parser.add_argument("--sizes", type=parse_sizes, default=list(DEFAULT_SIZES),
                        help="comma-separated log sizes (default 1e4,1e5,1e6)")
    parser.add_argument("--queries", type=int, default=200,
                        help="proof queries per size and kind (default 200)")
    parser.add_argument("--budget", type=float, default=10.0,
                        help="seconds per size for each of inclusion queries, consistency "
                             f"queries and exports; fewer are made (at least {MIN_QUERIES} "
                             "queries, 1 export) when they are slow (default 10)")
    parser.add_argument("--sequence-up-to", type=lambda v: int(float(v)),
                        default=SEQUENCE_UP_TO,
                        help="sizes up to this go through the Sequencer, larger ones are "
                             "built directly (default 1e5)")
    parser.add_argument("--seed", type=int, default=2026, help="seed of the random queries")
    args = parser.parse_args(argv)
    check_backends(args.backends)

    say(header("bench/proofs.py — Merkle log, proofs, bundles", args.backends))
    say(f"log: 20 real records + database-made filler records; up to "
        f"{args.sequence_up_to:,} leaves through Sequencer.integrate_all() (batch "
        f"{DEFAULT_BATCH:,}), beyond that directly through store_leaves/store_nodes "
        f"(units of {DIRECT_CHUNK:,}); up to {args.queries} random queries per proof kind "
        f"and size and up to {EXPORT_RUNS} exports, within {args.budget:g} s each")
    say()
    results: list[SizeResult] = []
    for backend in args.backends:
        results += bench_backend(backend, args.sizes, args.queries, args.budget,
                                 args.sequence_up_to, args.seed)

    say()
    say("## Integration of queued records")
    say()
    say(table(["backend", "log size", "through", "leaves added", "filler insert s",
               "integrate s", "leaves/s"],
              [[r.backend, r.size, r.how, r.integrated, r.filler_s, r.integrate_s,
                r.leaves_per_s] for r in results]))
    say()
    say("## Proofs from the database (ms; each query its own read-only transaction)")
    say()
    say(table(["backend", "log size", "queries", "inclusion median", "inclusion p99", "hashes",
               "consistency median", "consistency p99", "hashes"],
              [[r.backend, r.size, "{} + {}".format(*r.queries), *r.inclusion_ms,
                r.inclusion_len, *r.consistency_ms, r.consistency_len] for r in results]))
    say()
    say("## Bundle of a 20-record order (ms, median)")
    say()
    say(table(["backend", "log size", "runs", "export_bundle", "verify_bundle", "bundle KiB"],
              [[r.backend, r.size, r.exports, r.export_ms, r.verify_ms, r.bundle_kib]
               for r in results]))
    say()
    say("## Against the issue's floors")
    say()
    for backend in args.backends:
        mine = [r for r in results if r.backend == backend]
        largest = mine[-1]
        worst = max(largest.inclusion_ms[1], largest.consistency_ms[1])
        say(f"- {backend} at {largest.size:,} leaves: proof p99 {worst:.2f} ms (floor < "
            f"{PROOF_FLOOR_MS:g} ms: {'met' if worst < PROOF_FLOOR_MS else 'NOT met'}).")
        sequenced = [r for r in mine if r.how == "Sequencer" and r.integrated >= 1000]
        if sequenced:
            rate = min(r.leaves_per_s for r in sequenced)
            say(f"- {backend} Sequencer: at least {rate:,.0f} leaves/s = "
                f"{rate / APPEND_BATCH_FLOOR:.1f}× the issue's batched append floor of "
                f"{APPEND_BATCH_FLOOR:,}/s (compare with bench/append.py's batched rate "
                "of the same machine).")


if __name__ == "__main__":
    main()
