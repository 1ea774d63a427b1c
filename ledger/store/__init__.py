"""Storage behind one small interface with two backends (SQLite, PostgreSQL).

Open a database with `open_recorder(url)`, bring its schema up with `migrate()`, and do
each piece of work in `with recorder.unit_of_work() as uow:` — one transaction.
"""

from ledger.store.errors import ImmutabilityViolation, SequencerConflict
from ledger.store.recorder import NodeId, Recorder, UnitOfWork, open_recorder
from ledger.store.rows import (
    AlertRow,
    AppendWrites,
    CatalogueRow,
    CheckpointRow,
    FindingEntry,
    IdempotencyEntry,
    KeyPurpose,
    KeyRow,
    OrderHead,
    StoredRecord,
    TimerRow,
)

__all__ = [
    "AlertRow",
    "AppendWrites",
    "CatalogueRow",
    "CheckpointRow",
    "FindingEntry",
    "IdempotencyEntry",
    "ImmutabilityViolation",
    "KeyPurpose",
    "KeyRow",
    "NodeId",
    "OrderHead",
    "Recorder",
    "SequencerConflict",
    "StoredRecord",
    "TimerRow",
    "UnitOfWork",
    "open_recorder",
]
