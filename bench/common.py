"""What both benchmarks share: the machine/version header, timing helpers, scratch
databases, plain-text tables.

The benchmarks PRINT figures; they assert nothing about speed. The machine they run on
is small and shared, so absolute numbers wander between runs: compare ratios taken
within one run.
"""

from __future__ import annotations

import argparse
import cProfile
import itertools
import os
import platform
import pstats
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Final

import psycopg
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from ledger.clock import Clock, SystemClock
from ledger.service import Ledger, open_ledger
from ledger.settings import Settings

#: Where `scripts/postgres.sh with ...` puts the URL of its throw-away server.
PG_URL_ENV: Final = "ORDERLEDGER_TEST_PG_URL"
BACKENDS: Final = ("sqlite", "postgres")
LOG_ORIGIN: Final = "bench.orderledger.example/log"

#: The packages whose speed the figures depend on.
PACKAGES: Final = (
    "SQLAlchemy",
    "psycopg",
    "psycopg-binary",
    "cryptography",
    "PyNaCl",
    "rfc8785",
    "jsonschema",
    "fastjsonschema",
    "transitions",
)

#: Rows of the baseline's batched INSERT (the append benchmark's batch size).
BATCH_ROWS: Final = 100

_database_numbers = itertools.count()


# --- the header ----------------------------------------------------------------------

def cpu_model() -> str:
    """The CPU model from /proc/cpuinfo, or what `platform` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_total() -> str:
    """Total memory from /proc/meminfo, in GiB."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return "unknown"


def load_average() -> str:
    """The 1, 5 and 15 minute load averages: how busy the shared machine was."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def package_versions() -> dict[str, str]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "-"
    return versions


def postgres_version(url: str) -> str:
    """`SHOW server_version` of the server at `url`, plus its durability settings."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            version = connection.execute(text("SHOW server_version")).scalar_one()
            fsync = connection.execute(text("SHOW fsync")).scalar_one()
            sync = connection.execute(text("SHOW synchronous_commit")).scalar_one()
    finally:
        engine.dispose()
    return f"{version} (fsync={fsync}, synchronous_commit={sync})"


def header(title: str, backends: Sequence[str]) -> str:
    """The block every benchmark prints first: what ran, where, with which versions."""
    lines = [
        f"# {title}",
        f"date:     {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"command:  {' '.join([Path(sys.executable).name, *sys.argv])}",
        f"machine:  {os.cpu_count()} cores, {memory_total()}, {cpu_model()}",
        f"system:   {platform.system()} {platform.release()}",
        f"python:   {platform.python_implementation()} {platform.python_version()}",
        f"load:     {load_average()} (1, 5, 15 min) at the start",
        "packages: " + ", ".join(f"{k} {v}" for k, v in package_versions().items()),
    ]
    lines.append(f"sqlite:   {sqlite3.sqlite_version} (WAL, synchronous=FULL)")
    if "postgres" in backends:
        lines.append(f"postgres: {postgres_version(postgres_admin_url())}")
    lines.append(
        "note:     2 shared, noisy cores: absolute figures wander between runs; compare "
        "ratios within one run."
    )
    return "\n".join(lines)


# --- timing --------------------------------------------------------------------------

def per_call_us(fn: Callable[[], object], *, number: int = 500, repeat: int = 7) -> float:
    """Median over `repeat` rounds of the mean time of one call (µs), `number` calls a
    round. The median, not the minimum: a noisy neighbour should show, not vanish."""
    rounds = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        rounds.append((time.perf_counter() - start) / number)
    return statistics.median(rounds) * 1e6


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile (`fraction` in [0, 1]) of non-empty `values`."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[rank]


@dataclass(frozen=True, slots=True)
class Latency:
    median: float
    p99: float
    count: int


def latencies(samples: Sequence[float]) -> Latency:
    """Median and p99 of samples (any unit). Raises ValueError when there are none."""
    if not samples:
        raise ValueError("no samples")
    return Latency(statistics.median(samples), percentile(samples, 0.99), len(samples))


class ExclusiveTimer:
    """Exclusive time per category of wrapped calls, for ONE thread at a time: a wrapped
    call made inside another wrapped call counts for its own category only."""

    def __init__(self) -> None:
        self.own: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self._children: list[float] = []  # per open call: time spent in wrapped callees

    def reset(self) -> None:
        self.own.clear()
        self.calls.clear()
        self._children.clear()

    def call(self, category: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        self._children.append(0.0)
        began = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            elapsed = time.perf_counter() - began
            inner = self._children.pop()
            self.own[category] = self.own.get(category, 0.0) + elapsed - inner
            self.calls[category] = self.calls.get(category, 0) + 1
            if self._children:
                self._children[-1] += elapsed


class _TimedContext:
    """A context manager whose enter and exit are timed (a unit of work's BEGIN and
    COMMIT); the block in between is not."""

    def __init__(self, timer: ExclusiveTimer, category: str, inner: Any) -> None:
        self._timer, self._category, self._inner = timer, category, inner

    def __enter__(self) -> Any:
        return self._timer.call(self._category, self._inner.__enter__)

    def __exit__(self, *exc: object) -> Any:
        return self._timer.call(self._category, self._inner.__exit__, *exc)


@dataclass
class Patch:
    """Replace `owner.name` (a module function, a class's method, an instance's method)
    by a wrapper that times it under `category`; `context`: it returns a context manager
    whose enter and exit are timed instead."""

    owner: Any
    name: str
    category: str
    context: bool = False
    timer: ExclusiveTimer | None = None

    def wrapper(self) -> Any:
        timer, category, original = self.timer, self.category, getattr(self.owner, self.name)
        assert timer is not None, "a Patch needs its timer before it is applied"
        if self.context:
            def timed_context(*args: Any, **kwargs: Any) -> _TimedContext:
                return _TimedContext(timer, category, original(*args, **kwargs))
            return timed_context

        def timed(*args: Any, **kwargs: Any) -> Any:
            return timer.call(category, original, *args, **kwargs)

        raw = vars(self.owner).get(self.name)
        # getattr gave a bound callable for these; on a class it must not bind again.
        if isinstance(self.owner, type) and isinstance(raw, classmethod | staticmethod):
            return staticmethod(timed)
        return timed


@contextmanager
def patched(patches: Sequence[Patch]) -> Iterator[None]:
    """Apply the patches for the block, then put every original back. A target that no
    longer exists is skipped with a warning on stderr (its time then shows as "rest")."""
    undo: list[tuple[Any, str, bool, Any]] = []
    try:
        for patch in patches:
            if not hasattr(patch.owner, patch.name):
                print(f"warning: cannot time {patch.owner!r}.{patch.name}: not found",
                      file=sys.stderr)
                continue
            had = patch.name in vars(patch.owner)
            undo.append((patch.owner, patch.name, had, vars(patch.owner).get(patch.name)))
            setattr(patch.owner, patch.name, patch.wrapper())
        yield
    finally:
        for owner, name, had, original in reversed(undo):
            if had:
                setattr(owner, name, original)
            else:
                delattr(owner, name)


# --- databases -----------------------------------------------------------------------

def postgres_admin_url() -> str:
    """The PostgreSQL server's URL. Raises SystemExit with a hint when it is not set."""
    url = os.environ.get(PG_URL_ENV)
    if not url:
        raise SystemExit(
            f"{PG_URL_ENV} is not set: run through `scripts/postgres.sh with "
            f".venv/bin/python {sys.argv[0]} ...`, or pass --backends sqlite"
        )
    return url


@contextmanager
def scratch_database(backend: str, prefix: str) -> Iterator[str]:
    """A new, empty database for one benchmark, removed afterwards; yields its URL.

    PostgreSQL: `CREATE DATABASE <prefix>_<pid>_<n>` on the server of
    ORDERLEDGER_TEST_PG_URL, dropped WITH (FORCE) at the end. SQLite: a file in a
    temporary folder on the local disk. Raises ValueError for an unknown backend.
    """
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix=f"{prefix}-") as folder:
            yield f"sqlite:///{folder}/ledger.db"
        return
    if backend != "postgres":
        raise ValueError(f"unknown backend {backend!r}; have {', '.join(BACKENDS)}")
    admin_url = make_url(postgres_admin_url())
    name = f"{prefix}_{os.getpid()}_{next(_database_numbers)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with admin.connect() as connection:
            connection.execute(text(f"CREATE DATABASE {name}"))
        try:
            yield admin_url.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    finally:
        admin.dispose()


@contextmanager
def bench_ledger(url: str, clock: Clock | None = None) -> Iterator[Ledger]:
    """An open ledger on `url` (schema, catalogue and keys created), its key files in a
    temporary folder; closed afterwards."""
    with tempfile.TemporaryDirectory(prefix="bench-keys-") as data_dir:
        settings = Settings(database_url=url, data_dir=Path(data_dir), log_origin=LOG_ORIGIN)
        ledger = open_ledger(settings, clock=clock or SystemClock())
        try:
            yield ledger
        finally:
            ledger.close()


# --- what the database alone costs ------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Baseline:
    """The bare database on this machine, measured in the same run (µs)."""

    flush: float  # fdatasync of an 8 KiB write in a temporary folder
    round_trip: float  # `SELECT 1` inside an open transaction
    commit: float  # INSERT of one 600-byte row + COMMIT
    batch_row: float  # INSERT of 100 such rows in one executemany + COMMIT, per row


def measure_baseline(backend: str, url: str) -> Baseline:
    """Time the bare driver on a scratch table of the benchmark's own database."""
    body = "x" * 600
    with tempfile.TemporaryDirectory(prefix="bench-flush-") as folder:
        flush = _flush_us(Path(folder) / "probe")
        if backend == "sqlite":
            connection: Any = sqlite3.connect(Path(folder) / "probe.db", isolation_level=None)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=FULL")
            begin, marker = "BEGIN IMMEDIATE", "?"
        else:
            dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
            connection = psycopg.connect(dsn)
            begin, marker = "", "%s"
        try:
            return _driver_costs(connection, begin, marker, body, flush)
        finally:
            connection.close()


def _flush_us(path: Path) -> float:
    samples = []
    with path.open("wb") as file:
        for _ in range(50):
            file.write(b"x" * 8192)
            file.flush()
            began = time.perf_counter()
            os.fdatasync(file.fileno())
            samples.append(time.perf_counter() - began)
    return statistics.median(samples) * 1e6


def _driver_costs(connection: Any, begin: str, marker: str, body: str, flush: float) -> Baseline:
    cursor = connection.cursor()
    cursor.execute("CREATE TABLE bench_probe (id INTEGER PRIMARY KEY, body TEXT)")
    connection.commit()
    ids = itertools.count(1)
    insert = f"INSERT INTO bench_probe (id, body) VALUES ({marker}, {marker})"

    def transaction(rows: int) -> None:
        if begin:
            cursor.execute(begin)
        if rows == 1:
            cursor.execute(insert, (next(ids), body))
        else:
            cursor.executemany(insert, [(next(ids), body) for _ in range(rows)])
        connection.commit()

    if begin:
        cursor.execute(begin)
    round_trip = per_call_us(lambda: cursor.execute("SELECT 1").fetchone(), number=200, repeat=5)
    connection.commit()
    commit = per_call_us(lambda: transaction(1), number=40, repeat=5)
    batch = per_call_us(lambda: transaction(BATCH_ROWS), number=4, repeat=5) / BATCH_ROWS
    return Baseline(flush=flush, round_trip=round_trip, commit=commit, batch_row=batch)


# --- profiles ------------------------------------------------------------------------

#: Library groups of a profile, matched against "file:function" in this order.
PROFILE_GROUPS: Final = (
    ("payload schema (jsonschema, fastjsonschema gate)",
     ("jsonschema", "referencing", "rpds", "<string>:")),
    ("RFC 8785 (rfc8785)", ("rfc8785",)),
    ("Ed25519 (cryptography)", ("cryptography", "ed25519")),
    ("state machine (transitions)", ("transitions",)),
    ("driver (psycopg, sqlite3)", ("psycopg", "sqlite3")),
    ("SQLAlchemy", ("sqlalchemy",)),
    ("orderledger code", ("/ledger/", "/statemodel/", "/regulations/")),
)
OTHER_GROUP: Final = "other (stdlib, threads, builtins)"


def profile_report(
    profiler: cProfile.Profile, units: int, title: str, steps: Sequence[tuple[str, str]]
) -> str:
    """Three tables per unit of work (µs): own time grouped by library, the cumulative
    time of the named `steps` ((file suffix, function)), and the top functions by own
    time. cProfile slows Python code more than waiting, so shares lean to Python."""
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = (
        pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    )
    groups = dict.fromkeys([name for name, _ in PROFILE_GROUPS] + [OTHER_GROUP], 0.0)
    cumulative = dict.fromkeys(steps, 0.0)
    counts = dict.fromkeys(steps, 0)
    top: list[tuple[float, int, str]] = []
    for (filename, line, function), (_, calls, own, cum, _) in raw.items():
        where = f"{filename}:{function}".lower()
        name = next((n for n, keys in PROFILE_GROUPS if any(k in where for k in keys)),
                    OTHER_GROUP)
        groups[name] += own
        for step in steps:
            if filename.endswith(step[0]) and function == step[1]:
                cumulative[step] += cum
                counts[step] += calls
        short = "/".join(Path(filename).parts[-2:]) if filename != "~" else ""
        top.append((own, calls, f"{short}:{line}({function})" if short else function))
    total = sum(groups.values())
    per_unit = 1e6 / units
    return "\n".join([
        title,
        "",
        table(["group (own time)", "µs/record", "share"],
              [[name, own * per_unit, f"{own / total:.0%}"]
               for name, own in sorted(groups.items(), key=lambda kv: -kv[1])]),
        "",
        table(["step (cumulative time)", "calls/record", "µs/record"],
              [[f"{file}:{function}", counts[(file, function)] / units,
                cumulative[(file, function)] * per_unit] for file, function in steps]),
        "",
        table(["function (top 12 by own time)", "calls/record", "µs/record"],
              [[name, calls / units, own * per_unit]
               for own, calls, name in sorted(top, reverse=True)[:12]]),
    ])


# --- command line and output ---------------------------------------------------------

def backends_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--backends",
        type=lambda s: [b.strip() for b in s.split(",") if b.strip()],
        default=list(BACKENDS),
        help="comma-separated: sqlite,postgres (default: both)",
    )


def check_backends(backends: Sequence[str]) -> None:
    """Raises SystemExit naming an unknown backend."""
    unknown = [b for b in backends if b not in BACKENDS]
    if unknown:
        raise SystemExit(f"unknown backend(s) {unknown}; have {', '.join(BACKENDS)}")


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table: text columns left-aligned, numbers right-aligned."""
    cells = [[str(c) for c in headers], *[[_cell(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    numeric = [all(_is_number(row[i]) for row in rows) and bool(rows) for i in
               range(len(headers))]

    def line(values: Sequence[str]) -> str:
        padded = [v.rjust(w) if n else v.ljust(w)
                  for v, w, n in zip(values, widths, numeric, strict=True)]
        return "| " + " | ".join(padded) + " |"

    rule = "|" + "|".join(("-" * (w + 1) + ":") if n else ("-" * (w + 2))
                          for w, n in zip(widths, numeric, strict=True)) + "|"
    return "\n".join([line(cells[0]), rule, *(line(r) for r in cells[1:])])


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def say(text_: str = "") -> None:
    """Print now (the figures of a long run should appear as they are measured)."""
    print(text_, flush=True)
