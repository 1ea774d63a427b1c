"""The state catalogues in force, by digest, each with its shared machine.

An order keeps the catalogue it was created under (its head names the digest), so a new
catalogue version never reinterprets an old chain. Every catalogue that ever signed a
record is stored in the database; bundles and audit read them from there.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from ledger.errors import StorageError
from ledger.store import UnitOfWork
from statemodel.catalogue import Catalogue, catalogue_from_document
from statemodel.machine import OrderMachine, get_machine


@dataclass(frozen=True, slots=True)
class Model:
    catalogue: Catalogue
    machine: OrderMachine

    @property
    def digest(self) -> str:
        return self.catalogue.digest


class ModelBook:
    """The current catalogue plus every older one met so far (thread-safe cache)."""

    def __init__(self, current: Catalogue) -> None:
        self.current = Model(current, get_machine(current))
        self._by_digest: dict[str, Model] = {current.digest: self.current}
        self._lock = threading.Lock()

    def publish(self, uow: UnitOfWork) -> None:
        """Store the current catalogue so records that name it can be verified later."""
        uow.save_catalogue(
            self.current.digest, self.current.catalogue.version, self.current.catalogue.document
        )

    def get(self, uow: UnitOfWork, digest: str) -> Model:
        """The catalogue with this digest, from the cache or the database.

        Raises StorageError when the database does not hold it: every record's catalogue
        is stored before the record, so a missing one means the database was damaged.
        """
        # A dict read is atomic in CPython and entries are never removed or replaced, so
        # only the miss takes the lock (every append asks).
        model = self._by_digest.get(digest)
        if model is not None:
            return model
        document = uow.get_catalogue(digest)
        if document is None:
            raise StorageError(f"catalogue {digest} is named by an order but not stored")
        catalogue = catalogue_from_document(document)
        model = Model(catalogue, get_machine(catalogue))
        with self._lock:
            return self._by_digest.setdefault(digest, model)
