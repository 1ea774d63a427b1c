"""Wiring: settings → recorder, keys, catalogues, append service. A factory, never import-time."""

from __future__ import annotations

from dataclasses import dataclass, field

from ledger.append import AppendService
from ledger.clock import Clock, SystemClock
from ledger.keyring import Keyring
from ledger.keys import KeyStore
from ledger.models import ModelBook
from ledger.settings import Settings
from ledger.store import Recorder, open_recorder
from statemodel.catalogue import Catalogue, load_catalogue


@dataclass
class Ledger:
    """An open ledger: everything the CLI, the API and the jobs work through."""

    settings: Settings
    recorder: Recorder
    keyring: Keyring
    models: ModelBook
    clock: Clock
    _appender: AppendService | None = field(default=None, repr=False)

    @property
    def appender(self) -> AppendService:
        """The append service, signing with the record key active when first asked."""
        if self._appender is None:
            self._appender = self.new_appender()
        return self._appender

    def new_appender(self, *, group_commit: bool = True) -> AppendService:
        """A separate append service (the benchmark turns group commit off with it)."""
        return AppendService(
            self.recorder,
            models=self.models,
            signer=self.keyring.record_key(),
            log_origin=self.settings.log_origin,
            clock=self.clock,
            group_commit=group_commit,
        )

    def close(self) -> None:
        self.recorder.close()


def open_ledger(
    settings: Settings, *, clock: Clock | None = None, catalogue: Catalogue | None = None
) -> Ledger:
    """Open (and on first start create) the ledger that `settings` describe: migrate the
    schema, publish the catalogue in force, create the signing and log keys if missing.

    Raises ConfigurationError for a bad database URL and KeyStoreError when a published
    key's private half cannot be read.
    """
    clock = clock or SystemClock()
    recorder = open_recorder(settings.database_url)
    try:
        recorder.migrate()
        models = ModelBook(catalogue or load_catalogue())
        with recorder.unit_of_work() as uow:
            models.publish(uow)
        keyring = Keyring(
            recorder,
            KeyStore(settings.key_dir, settings.key_passphrase),
            clock,
            settings.log_origin,
        )
        keyring.ensure()
    except BaseException:
        recorder.close()
        raise
    return Ledger(settings=settings, recorder=recorder, keyring=keyring, models=models, clock=clock)
