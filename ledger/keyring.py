"""The ledger's keys: private halves in the key store, published halves in the database.

The database holds every key the ledger ever published, with the interval in which it may
sign (evidence-format §3): that is what audit, the API and `keys export` read. Private
keys stay in files under the data dir. Record signing keys rotate; the log key is the
log's identity (its checkpoints' signer) and does not.
"""

from __future__ import annotations

from typing import Any, Literal

from ledger.clock import Clock
from ledger.errors import KeyStoreError
from ledger.keys import KeyStore, LocalKey, PublishedKey
from ledger.note import vkey
from ledger.store import KeyRow, Recorder, UnitOfWork
from ledger.timefmt import format_time

Purpose = Literal["record", "log"]


class Keyring:
    def __init__(self, recorder: Recorder, store: KeyStore, clock: Clock, log_origin: str) -> None:
        self._recorder = recorder
        self._store = store
        self._clock = clock
        self._origin = log_origin

    def ensure(self) -> None:
        """Create the record signing key and the log key on first start (idempotent)."""
        with self._recorder.unit_of_work() as uow:
            for purpose in ("record", "log"):
                if _active(uow.list_keys(), purpose) is None:
                    self._publish_new(uow, purpose)

    def record_key(self) -> LocalKey:
        """The key that signs new records. Raises KeyStoreError when its private half is
        not in the key store."""
        return self._load_active("record")

    def log_key(self) -> LocalKey:
        return self._load_active("log")

    def log_vkey(self) -> str:
        """The log's verifier key in signed-note form (evidence-format §4)."""
        return vkey(self._origin, self.log_key().public_bytes)

    def rotate(self) -> KeyRow:
        """Retire the active record key now and publish a new one that signs from now on.

        The old key stays published with its closed interval, so what it signed verifies.
        """
        with self._recorder.unit_of_work() as uow:
            now = format_time(self._clock.now())
            old = _active(uow.list_keys(), "record")
            if old is not None:
                uow.close_key(old.key_id, now)
            return self._publish_new(uow, "record", not_before=now)

    def published(self) -> list[KeyRow]:
        with self._recorder.unit_of_work() as uow:
            return uow.list_keys()

    def trust_set(self) -> dict[str, Any]:
        """The trust set of evidence-format §7: the log vkey and every record key."""
        rows = self.published()
        log_row = _active(rows, "log")
        if log_row is None:
            raise KeyStoreError("no log key is published: run the service once to create it")
        return {
            "log_key": vkey(self._origin, log_row.public_key),
            "keys": [published_key(r).to_json() for r in rows if r.purpose == "record"],
        }

    def _load_active(self, purpose: Purpose) -> LocalKey:
        with self._recorder.unit_of_work() as uow:
            row = _active(uow.list_keys(), purpose)
        if row is None:
            raise KeyStoreError(f"no active {purpose} key is published")
        return self._store.load(row.key_id)

    def _publish_new(
        self, uow: UnitOfWork, purpose: Purpose, not_before: str | None = None
    ) -> KeyRow:
        key = self._store.create(purpose)
        row = KeyRow(
            key_id=key.key_id,
            purpose=purpose,
            alg="Ed25519",
            public_key=key.public_bytes,
            not_before=not_before or format_time(self._clock.now()),
            not_after=None,
        )
        uow.insert_key(row)
        return row


def published_key(row: KeyRow) -> PublishedKey:
    return PublishedKey(
        key_id=row.key_id,
        public_key=row.public_key,
        not_before=row.not_before,
        not_after=row.not_after,
    )


def _active(rows: list[KeyRow], purpose: str) -> KeyRow | None:
    active = [r for r in rows if r.purpose == purpose and r.not_after is None]
    return max(active, key=lambda r: r.not_before) if active else None
