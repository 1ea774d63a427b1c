"""HTTP API throughput and latency: uvicorn on loopback, clients over keep-alive HTTP.

    scripts/postgres.sh with .venv/bin/python bench/api.py [--seconds S]
        [--clients 1,8,32] [--batches N] [--backend postgres|sqlite] [--no-results]

The server runs in its own process (`uvicorn bench.api:app_from_env --factory`, one
worker, the app exactly as `create_app` builds it, metrics middleware included) on a
scratch database that is created and dropped here. The clients are threads of this
process, each with one keep-alive connection and orders of its own.

Workloads (the append benchmark's: orders brought to M05.02 by the domestic happy path's
first ten steps, untimed, through batches; then `hub_scan` self-loops, one new order in
every ten requests):

- single pushes: `POST /v1/orders/{tenant}/{order}/events` (and `POST /v1/orders`) for
  `--seconds` with 1, 8 and 32 concurrent clients; every answer must be 201;
- batches: `POST /v1/events:batch` of 1,000 hub scans (ten per order over 100 orders),
  one client, `--batches` times; every item must be committed.

Prints the machine and versions, then events/s and p50/p99 latency per request (a batch
is one request), and appends them with the command to bench/RESULTS.md under "API".
Asserts nothing about speed: the machine is small and shared, compare within one run.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

ROOT = Path(__file__).resolve().parent.parent
# Run as a script (`python bench/api.py`), the folder on sys.path is bench/ itself, where
# this very file would shadow the `api` package: put the project root there instead.
sys.path[:] = [str(ROOT), *(p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench")]

from fastapi import FastAPI  # noqa: E402

from api.apikeys import issue_key  # noqa: E402
from api.app import create_app  # noqa: E402
from bench.common import (  # noqa: E402
    LOG_ORIGIN,
    PG_URL_ENV,
    header,
    latencies,
    say,
    scratch_database,
    table,
)
from ledger.clock import SystemClock  # noqa: E402
from ledger.service import open_ledger  # noqa: E402
from ledger.settings import Settings  # noqa: E402
from ledger.store.apikeys import api_key_store  # noqa: E402
from ledger.timefmt import format_time  # noqa: E402
from statemodel.scenarios import SCENARIOS, Step  # noqa: E402

TENANT: Final = "bench-shop"
RESULTS: Final = ROOT / "bench" / "RESULTS.md"
HAPPY = SCENARIOS[0]
PREFIX: Final[tuple[Step, ...]] = tuple(HAPPY.steps[:10])  # ... hub_scan: M05.02
HUB_SCAN: Final = PREFIX[-1]
CREATION: Final = PREFIX[0]
if (HUB_SCAN.event, CREATION.event) != ("hub_scan", "order_placed"):
    raise RuntimeError("the happy path changed: bench/api.py's workload needs a new prefix")
ORDERS_PER_CLIENT: Final = 4
CREATION_EVERY: Final = 10
BATCH_ITEMS: Final = 1000
BATCH_ORDERS: Final = 100
SETUP_BATCH: Final = 1000


def app_from_env() -> FastAPI:
    """The app for `uvicorn --factory`: settings from ORDERLEDGER_* variables."""
    return create_app(Settings.from_env())


# --- the server ---------------------------------------------------------------------

@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def start_server(url: str, data_dir: Path) -> Server:
    """uvicorn serving the ledger at `url` on a free loopback port; waits for /healthz."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "ORDERLEDGER_DATABASE_URL": url,
           "ORDERLEDGER_DATA_DIR": str(data_dir), "ORDERLEDGER_LOG_ORIGIN": LOG_ORIGIN,
           "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "uvicorn", "bench.api:app_from_env", "--factory",
               "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
               "--no-access-log"]
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    server = Server(process, port)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with {process.returncode}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return server
        except OSError:
            time.sleep(0.2)
    server.stop()
    raise SystemExit("the server did not answer /healthz within 60 s")


class Client:
    """One keep-alive connection with a bearer token."""

    def __init__(self, port: int, token: str) -> None:
        self._connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self._headers = {"Authorization": f"Bearer {token}",
                         "Content-Type": "application/json"}

    def post(self, path: str, body: Any) -> tuple[int, Any]:
        self._connection.request("POST", path, body=json.dumps(body).encode(),
                                 headers=self._headers)
        response = self._connection.getresponse()
        return response.status, json.loads(response.read() or b"null")

    def close(self) -> None:
        self._connection.close()


# --- the workload -------------------------------------------------------------------

def _item(order: str, step: Step, *, create: bool) -> dict[str, Any]:
    item = {"tenant": TENANT, "order": order, "event": step.event, "event_time": step.at,
            "payload": dict(step.payload)}
    return {**item, "create": True} if create else item


def set_up(client: Client, orders: Sequence[str]) -> None:
    """Bring `orders` to M05.02 through batches (untimed). Raises RuntimeError on any
    refusal: the benchmark counts stored records only."""
    items = [_item(order, step, create=i == 0) for order in orders
             for i, step in enumerate(PREFIX)]
    for start in range(0, len(items), SETUP_BATCH):
        _require_batch(client.post("/v1/events:batch", {"items": items[start:start + SETUP_BATCH]}))


def _require_batch(answer: tuple[int, Any]) -> int:
    status, body = answer
    if status != 200 or body.get("rejected"):
        first = next((r["problem"] for r in body.get("results", []) if r.get("problem")), body)
        raise RuntimeError(f"batch refused ({status}): {first}")
    return int(body["committed"])


def single_requests(name: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(path, body): hub scans round-robin over the client's orders, every tenth a new order."""
    orders = [f"{name}-o{k}" for k in range(ORDERS_PER_CLIENT)]
    scan = {"event": HUB_SCAN.event, "event_time": HUB_SCAN.at, "payload": dict(HUB_SCAN.payload)}
    for n in itertools.count():
        if n % CREATION_EVERY == CREATION_EVERY - 1:
            body = _item(f"{name}-new{n}", CREATION, create=False)
            yield "/v1/orders", body
        else:
            yield f"/v1/orders/{TENANT}/{orders[n % ORDERS_PER_CLIENT]}/events", scan


@dataclass(frozen=True, slots=True)
class Row:
    workload: str
    clients: int
    events: int
    seconds: float
    samples_ms: tuple[float, ...]

    def cells(self) -> list[object]:
        stats = latencies(self.samples_ms)
        return [self.workload, self.clients, self.events, round(self.seconds, 1),
                round(self.events / self.seconds), round(stats.median, 1), round(stats.p99, 1)]


def run_singles(port: int, token: str, clients: int, seconds: float) -> Row:
    """`clients` threads pushing for `seconds`; every answer must be 201."""
    names = [f"c{clients}-{k}" for k in range(clients)]
    setup = Client(port, token)
    try:
        set_up(setup, [f"{n}-o{k}" for n in names for k in range(ORDERS_PER_CLIENT)])
    finally:
        setup.close()
    samples: list[list[float]] = [[] for _ in names]
    errors: list[BaseException] = []
    start = threading.Barrier(clients + 1)
    stop_at = [0.0]

    def work(index: int) -> None:
        client = Client(port, token)
        try:
            start.wait()
            for path, body in single_requests(names[index]):
                if time.perf_counter() >= stop_at[0]:
                    return
                began = time.perf_counter()
                status, answer = client.post(path, body)
                samples[index].append((time.perf_counter() - began) * 1000)
                if status != 201:
                    raise RuntimeError(f"{path}: {status} {answer}")
        except BaseException as exc:  # a refusal ends the run: report it, do not hide it
            errors.append(exc)
        finally:
            client.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    stop_at[0] = time.perf_counter() + seconds
    began = time.perf_counter()
    start.wait()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    if errors:
        raise SystemExit(f"single pushes with {clients} clients failed: {errors[0]!r}")
    flat = tuple(s for per_client in samples for s in per_client)
    return Row("single push", clients, len(flat), elapsed, flat)


def run_batches(port: int, token: str, batches: int) -> Row:
    """`batches` batches of BATCH_ITEMS hub scans over BATCH_ORDERS orders, one client."""
    client = Client(port, token)
    try:
        orders = [f"batch-o{k}" for k in range(BATCH_ORDERS)]
        set_up(client, orders)
        scan = _item("", HUB_SCAN, create=False)
        body = {"items": [{**scan, "order": orders[n % BATCH_ORDERS]}
                          for n in range(BATCH_ITEMS)]}
        samples, events = [], 0
        began = time.perf_counter()
        for _ in range(batches):
            started = time.perf_counter()
            events += _require_batch(client.post("/v1/events:batch", body))
            samples.append((time.perf_counter() - started) * 1000)
        elapsed = time.perf_counter() - began
    finally:
        client.close()
    return Row(f"batch of {BATCH_ITEMS}", 1, events, elapsed, tuple(samples))


# --- main ---------------------------------------------------------------------------

def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=12.0,
                        help="timed seconds per client count (default 12)")
    parser.add_argument("--clients", default="1,8,32",
                        help="comma-separated client counts (default 1,8,32)")
    parser.add_argument("--batches", type=int, default=6, help="timed batches (default 6)")
    parser.add_argument("--backend", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--no-results", action="store_true",
                        help=f"do not append to {RESULTS.relative_to(ROOT)}")
    args = parser.parse_args(argv)
    counts = [int(c) for c in args.clients.split(",") if c.strip()]
    if args.backend == "postgres" and not os.environ.get(PG_URL_ENV):
        raise SystemExit(f"{PG_URL_ENV} is not set: run through scripts/postgres.sh with ...")

    lines = [header("API benchmark (HTTP, uvicorn on loopback)", [args.backend]),
             f"server:   uvicorn (1 worker, own process), backend {args.backend}; "
             "clients: threads with keep-alive connections"]
    say(lines[0])
    say(lines[1])
    rows: list[Row] = []
    with scratch_database(args.backend, "bench_api") as url, \
            tempfile.TemporaryDirectory(prefix="bench-api-") as folder:
        token = _issue_key(url, Path(folder))
        server = start_server(url, Path(folder))
        try:
            for clients in counts:
                rows.append(run_singles(server.port, token, clients, args.seconds))
                say(f"  single push, {clients} client(s): {rows[-1].cells()[4]} events/s")
            rows.append(run_batches(server.port, token, args.batches))
            say(f"  batches: {rows[-1].cells()[4]} events/s")
        finally:
            server.stop()
    figures = table(["workload", "clients", "events", "seconds", "events/s", "p50 ms",
                     "p99 ms"], [row.cells() for row in rows])
    say()
    say(figures)
    if not args.no_results:
        _append_results(lines, figures)
    return 0


def _issue_key(url: str, data_dir: Path) -> str:
    """Create the schema, the signing keys and a platform key for TENANT; its token."""
    settings = Settings(database_url=url, data_dir=data_dir, log_origin=LOG_ORIGIN)
    ledger = open_ledger(settings, clock=SystemClock())
    try:
        now = format_time(datetime.now(UTC))
        return issue_key(api_key_store(ledger.recorder), name="bench-platform",
                         role="platform", tenant=TENANT, now=now).token
    finally:
        ledger.close()


def _append_results(lines: Sequence[str], figures: str) -> None:
    """Append this run, with its command, at the end of RESULTS.md under "API"."""
    command = "scripts/postgres.sh with .venv/bin/python " + " ".join(
        [str(Path(sys.argv[0]).resolve().relative_to(ROOT)), *sys.argv[1:]])
    note = ("Per request latency (a batch is one request of 1,000 events). p99 of a few "
            "batches is their slowest.")
    text = "\n".join(["", "## API", "", f"`{command}`", "", "```", *lines, "```", "",
                      figures, "", note, ""])
    with RESULTS.open("a", encoding="utf-8") as results:
        results.write(text)
    say(f"appended to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    raise SystemExit(main())
