"""The storage interface: a `Recorder` hands out `UnitOfWork`s, one database transaction each.

The application owns the transaction (STYLE.md §3): it opens a unit of work, calls as many
data-access methods as one request needs, and the unit of work commits when the `with`
block ends cleanly and rolls back when it raises. No method below ever commits.

Two implementations share one SQLAlchemy Core implementation (`ledger.store.core`):
`ledger.store.sqlite` (embedded default) and `ledger.store.postgres` (production).
Every driver error leaves these methods as a ledger error (`ledger.store.errors`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import replace
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from ledger.errors import ConfigurationError
from ledger.store.retention_sql import HoldEntry, RunEntry, RunItemEntry, RunState
from ledger.store.rows import (
    AlertRow,
    AppendWrites,
    CatalogueRow,
    CheckpointRow,
    FindingEntry,
    IdempotencyEntry,
    KeyRow,
    OrderHead,
    StoredRecord,
    TimerRow,
)

NodeId = tuple[int, int]
"""A perfect subtree of the Merkle log: (level, index at that level)."""


class UnitOfWork(ABC):
    """The data-access methods of one transaction. Never commits; see `Recorder`."""

    # --- order heads -------------------------------------------------------------------

    @abstractmethod
    def lock_heads(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], OrderHead]:
        """`lock_head` for many orders in one round trip (in a fixed order, so batches
        cannot deadlock each other); orders that do not exist are absent."""

    @abstractmethod
    def lock_head(self, tenant: str, order: str) -> OrderHead | None:
        """The order's head, locked until the transaction ends (PostgreSQL `FOR UPDATE`;
        SQLite transactions are serialised by `BEGIN IMMEDIATE` already); None if the
        order does not exist."""

    @abstractmethod
    def get_head(self, tenant: str, order: str) -> OrderHead | None:
        """The order's head without locking it; None if the order does not exist."""

    @abstractmethod
    def insert_order(self, head: OrderHead) -> None:
        """Create an order's head. Raises OrderExists when the order exists."""

    @abstractmethod
    def insert_orders(self, heads: Sequence[OrderHead]) -> None:
        """`insert_order` for a batch, in one round trip where the driver can."""

    @abstractmethod
    def advance_head(
        self,
        tenant: str,
        order: str,
        *,
        expected_seq: int,
        new_seq: int,
        head_hash: str,
        sub_state: str,
        main_state: str,
        model: str,
        updated_at: str,
        facts: Mapping[str, Any] | None = None,
    ) -> None:
        """Move the head from `expected_seq` to `new_seq` (and store the order's facts).
        Raises ConcurrencyConflict (with the actual seq) when the head is no longer at
        `expected_seq`."""

    @abstractmethod
    def advance_heads(self, moves: Sequence[tuple[int, OrderHead]]) -> None:
        """`advance_head` for a batch of (expected_seq, new head) pairs, one per order, in
        one round trip where the driver can. Raises ConcurrencyConflict naming the first
        order whose head is not at its expected seq."""

    # --- records -----------------------------------------------------------------------

    def write_appends(self, writes: AppendWrites) -> list[int]:
        """Write what a unit of work's appends produced; returns the new records' ids in
        the order of `writes.records`. Raises ConcurrencyConflict when a head moved since
        it was locked, OrderExists for an order created meanwhile, IdempotencyConflict
        for a key used meanwhile. Backends may send it all in one round trip; this
        default calls the single-purpose methods one after the other."""
        self.insert_orders(writes.new_orders)  # first: a taken order is OrderExists
        ids = self.insert_records(writes.records)
        by_hash = dict(zip((r.statement_hash for r in writes.records), ids, strict=True))
        self.advance_heads(writes.head_moves)
        self.put_idempotencies(
            [replace(entry, record_id=by_hash[h]) for h, entry in writes.idempotency])
        self.disarm_timers_many(writes.timer_disarms)
        self.arm_timers(writes.timers)
        self.insert_findings([replace(f, record_id=by_hash[h]) for h, f in writes.findings])
        return ids

    @abstractmethod
    def insert_records(self, records: Sequence[StoredRecord]) -> list[int]:
        """Store records with their payloads and queue them for the Merkle log; returns
        their ids in the order given. Raises ConcurrencyConflict when a (tenant, order,
        seq) or a statement hash is stored already."""

    @abstractmethod
    def find_record(self, record_id: int) -> StoredRecord | None:
        """The record with this id (with its payload), or None."""

    @abstractmethod
    def get_record(self, record_id: int) -> StoredRecord:
        """The record with this id; raises StorageError when there is none (for ids that
        came from the database itself, such as an idempotency entry's)."""

    @abstractmethod
    def get_chain(self, tenant: str, order: str) -> list[StoredRecord]:
        """Every record of one order in `seq` order, with payloads; [] for no order."""

    @abstractmethod
    def iter_orders(self, *, batch: int = 500) -> Iterator[OrderHead]:
        """Every order head by (tenant, order), fetched `batch` rows at a time. Consume
        it inside the unit of work."""

    @abstractmethod
    def iter_records(self, after_id: int = 0, limit: int = 1000) -> list[StoredRecord]:
        """Up to `limit` records with id > `after_id`, in id order, with payloads (a page
        of a full-database audit: pass the last id back as `after_id`)."""

    @abstractmethod
    def count_records(self) -> int: ...

    @abstractmethod
    def dangling_rows(self, limit: int) -> list[tuple[str, int]]:
        """Up to `limit` (table, record_id) of payload and sequencing-queue rows whose
        record does not exist (those tables have no foreign key: migration 0010), by
        table then id."""

    @abstractmethod
    def erase_payloads(self, record_ids: Sequence[int]) -> int:
        """Set payload and salt of these records to NULL (retention); returns how many
        payloads were erased now (already erased ones are not counted). In PostgreSQL
        this declares `orderledger.purpose = 'retention'`, which the trigger demands."""

    # --- idempotency -------------------------------------------------------------------

    @abstractmethod
    def get_idempotency(self, tenant: str, key: str) -> IdempotencyEntry | None: ...

    @abstractmethod
    def put_idempotency(self, entry: IdempotencyEntry) -> None:
        """Raises ConcurrencyConflict when another request stored the key first."""

    @abstractmethod
    def put_idempotencies(self, entries: Sequence[IdempotencyEntry]) -> None:
        """`put_idempotency` for a batch, in one round trip where the driver can."""

    # --- regulation findings -------------------------------------------------------------

    @abstractmethod
    def insert_findings(self, findings: Sequence[FindingEntry]) -> None:
        """Store findings of accepted records (append-only)."""

    @abstractmethod
    def list_findings(
        self, *, tenant: str | None = None, since: str | None = None
    ) -> list[FindingEntry]:
        """Findings, optionally of one tenant and recorded at or after `since`, in
        record order."""

    # --- SLA timers and alerts (implemented in ledger/store/timer_sql.py) ---------------

    @abstractmethod
    def arm_timers(self, timers: Sequence[TimerRow]) -> None:
        """Insert armed timers."""

    @abstractmethod
    def disarm_timers_many(self, disarms: Sequence[tuple[str, str, str, str, int]]) -> None:
        """Disarm armed timers given as (tenant, order, name, at, by_seq), in one round trip
        where the driver can."""

    @abstractmethod
    def close_timer(self, timer_id: int, *, state: str, at: str, by_seq: int | None) -> bool:
        """Move one timer from armed to `state`; False when it was no longer armed (another
        sweeper fired it, or its sub-state was left)."""

    @abstractmethod
    def due_timers(self, now: str, limit: int) -> list[TimerRow]:
        """Armed timers whose deadline is at or before `now`, earliest first."""

    @abstractmethod
    def due_warnings(self, now: str, limit: int) -> list[TimerRow]:
        """Armed timers with a pending warning at or before `now`."""

    @abstractmethod
    def advance_warning(self, timer_id: int, next_warn_at: str | None) -> None:
        """Set the next pending warning time of an armed timer (None: no more)."""

    @abstractmethod
    def list_timers(
        self,
        *,
        tenant: str | None = None,
        order: str | None = None,
        state: str | None = None,
        deadline_before: str | None = None,
        limit: int = 1000,
    ) -> list[TimerRow]:
        """Timers by filter, in deadline order."""

    @abstractmethod
    def add_alerts(self, alerts: Sequence[AlertRow]) -> None:
        """Put alerts in the outbox (delivered later, even after a restart)."""

    @abstractmethod
    def alerts_after(
        self, after_id: int, limit: int, *, tenant: str | None = None
    ) -> list[AlertRow]:
        """Outbox alerts with id > after_id, oldest first."""

    # --- legal holds and retention runs (implemented in ledger/store/retention_sql.py) --

    @abstractmethod
    def insert_hold(self, hold: HoldEntry) -> int:
        """Store a hold in force; returns its id."""

    @abstractmethod
    def release_hold(self, hold_id: int, *, released_by: str, released_at: str) -> bool:
        """Mark an active hold released; False when it is unknown or released already."""

    @abstractmethod
    def list_holds(
        self, *, tenant: str | None = None, active_only: bool = True
    ) -> list[HoldEntry]:
        """Holds by id, optionally of one tenant, by default only those in force."""

    @abstractmethod
    def holds_on(self, tenant: str, order: str) -> list[HoldEntry]:
        """The holds in force that protect this order: its own and its tenant's."""

    @abstractmethod
    def tenant_orders(self, tenant: str) -> list[str]:
        """Every order id of a tenant, sorted."""

    @abstractmethod
    def insert_retention_run(
        self, *, reference_time: str, started_at: str, state: RunState,
        report: Mapping[str, Any] | None = None,
    ) -> int:
        """Start a retention run; returns its id."""

    @abstractmethod
    def update_retention_run(
        self,
        run_id: int,
        *,
        state: RunState,
        finished_at: str | None = None,
        archive_path: str | None = None,
        report: Mapping[str, Any] | None = None,
        report_signature: str | None = None,
        key_id: str | None = None,
    ) -> None:
        """Move a run to `state`, setting the other columns that are not None."""

    @abstractmethod
    def get_retention_run(self, run_id: int) -> RunEntry | None: ...

    @abstractmethod
    def list_retention_runs(self, *, unfinished_only: bool = False) -> list[RunEntry]:
        """Runs by id, optionally only those not finished."""

    @abstractmethod
    def add_run_items(self, items: Sequence[RunItemEntry]) -> None:
        """Store the records a run plans to erase."""

    @abstractmethod
    def run_items(
        self,
        run_id: int,
        *,
        tenant: str | None = None,
        order: str | None = None,
        pending_only: bool = False,
    ) -> list[RunItemEntry]:
        """A run's items by (tenant, order, seq), optionally of one order, optionally only
        those not erased yet."""

    @abstractmethod
    def run_items_page(
        self,
        run_id: int,
        *,
        after: tuple[str, str] | None = None,
        orders: int = 100,
        pending_only: bool = False,
    ) -> list[RunItemEntry]:
        """The items of the next `orders` orders after the (tenant, order) key `after`
        (from the first when None), by (tenant, order, seq); [] after the last. Pass the
        last item's (tenant, order) back as `after`. With `pending_only`, only items not
        erased yet. Raises ValueError when `orders` < 1."""

    @abstractmethod
    def mark_items_erased_many(self, run_id: int, purge_seqs: Mapping[int, int]) -> None:
        """Mark items (record id -> the purge record seq of its order) erased, in one
        batched statement."""

    # --- catalogues --------------------------------------------------------------------

    @abstractmethod
    def save_catalogue(self, digest: str, version: str, document: Mapping[str, Any]) -> None:
        """Store a catalogue by digest; does nothing when that digest is stored."""

    @abstractmethod
    def get_catalogue(self, digest: str) -> dict[str, Any] | None: ...

    @abstractmethod
    def list_catalogues(self) -> list[CatalogueRow]:
        """Every stored catalogue, ordered by digest."""

    # --- keys --------------------------------------------------------------------------

    @abstractmethod
    def insert_key(self, row: KeyRow) -> None:
        """Publish a key. Raises KeyStoreError when its key_id is published already."""

    @abstractmethod
    def close_key(self, key_id: str, not_after: str) -> None:
        """End an active key's interval. Raises KeyStoreError when the key is unknown or
        closed already."""

    @abstractmethod
    def list_keys(self) -> list[KeyRow]:
        """Every published key, ordered by (not_before, key_id)."""

    # --- Merkle log --------------------------------------------------------------------

    @abstractmethod
    def take_unsequenced(self, limit: int) -> list[tuple[int, str]]:
        """Up to `limit` queued (record_id, statement_hash) pairs in id order, holding the
        sequencer lock until the transaction ends (so one sequencer integrates at a time)."""

    @abstractmethod
    def store_leaves(
        self, start_index: int, record_ids: Sequence[int], leaf_hashes: Sequence[bytes]
    ) -> None:
        """Append leaves `start_index`, `start_index + 1`, .... Raises SequencerConflict
        unless `start_index` is the log size, or when a record is a leaf already."""

    @abstractmethod
    def store_nodes(self, nodes: Mapping[NodeId, bytes]) -> None:
        """Store perfect-subtree hashes. Raises SequencerConflict when one exists."""

    @abstractmethod
    def delete_from_queue(self, record_ids: Sequence[int]) -> None: ...

    @abstractmethod
    def get_nodes(self, ids: Sequence[NodeId]) -> dict[NodeId, bytes]:
        """The stored hashes among `ids`, in one query (the `NodeReader` protocol)."""

    @abstractmethod
    def log_size(self) -> int:
        """Number of leaves in the Merkle log."""

    @abstractmethod
    def leaf_of(self, record_id: int) -> int | None:
        """The leaf index of a record, or None while it is not sequenced."""

    # --- batched reads (implemented in ledger/store/log_sql.py) -------------------------

    @abstractmethod
    def leaves_of(self, record_ids: Sequence[int]) -> dict[int, int]:
        """`leaf_of` for many records in one query: record id -> leaf index, records not
        sequenced yet absent."""

    @abstractmethod
    def chains_of(
        self, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], list[StoredRecord]]:
        """`get_chain` for many (tenant, order) keys in one query per tenant; orders
        without records are absent."""

    @abstractmethod
    def insert_checkpoint(self, row: CheckpointRow) -> bool:
        """Store a checkpoint; False (and nothing changed) when one of that size exists."""

    @abstractmethod
    def latest_checkpoint(self) -> CheckpointRow | None: ...

    @abstractmethod
    def list_checkpoints(self) -> list[CheckpointRow]:
        """Every checkpoint, by size."""


class Recorder(ABC):
    """A database: migrations, units of work, and the connection pool behind them."""

    dialect: str
    """"sqlite" or "postgresql"."""

    @abstractmethod
    def migrate(self) -> None:
        """Bring the schema to the newest revision (alembic `upgrade head`); a no-op when
        it is there. Raises StorageError when the database refuses."""

    @abstractmethod
    def unit_of_work(self, *, read_only: bool = False) -> AbstractContextManager[UnitOfWork]:
        """One database transaction: commits when the block ends cleanly, rolls back when
        it raises. SQLite starts it with `BEGIN IMMEDIATE` (writers serialise from the
        start), or a plain `BEGIN` when `read_only`; PostgreSQL marks a `read_only` one
        READ ONLY. Raises StorageError when the database cannot be reached or the commit
        fails."""

    @abstractmethod
    def close(self) -> None:
        """Close every pooled connection."""


def open_recorder(url: str) -> Recorder:
    """The recorder for a database URL: `sqlite:///path/to/file.db` or
    `postgresql+psycopg://user@host:port/db` (`postgresql://` means psycopg too).

    Connects lazily: a server that cannot be reached fails at the first unit of work.
    Raises ConfigurationError for a URL that names no usable database.
    """
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise ConfigurationError(f"not a database URL: {url!r}") from exc
    # Imported here: both backends import this module for the interface.
    if parsed.get_backend_name() == "sqlite":
        from ledger.store.sqlite import SqliteRecorder

        return SqliteRecorder.from_url(parsed)
    if parsed.get_backend_name() in ("postgresql", "postgres"):
        from ledger.store.postgres import PostgresRecorder

        return PostgresRecorder.from_url(parsed)
    raise ConfigurationError(
        f"unsupported database {parsed.get_backend_name()!r}: use sqlite:/// or "
        "postgresql+psycopg://"
    )
