"""`orderledger serve` freezes what its startup built and spaces out young collections
(api.gc_freeze): an app asked to does so once its lifespan has opened the ledger, and an
app not asked leaves the collector alone (tests build many apps in one process)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.app import create_app
from api.gc_freeze import YOUNG_THRESHOLD
from tests.api.live import LiveServer
from tests.ledger.support import open_test_ledger


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    thresholds = gc.get_threshold()
    try:
        yield
    finally:
        gc.unfreeze()  # the rest of the suite runs with an ordinary collector
        gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("unfrozen")
@pytest.mark.parametrize("freeze", [True, False])
def test_startup_objects_are_frozen_only_when_asked(
    freeze: bool, sqlite_url: str, tmp_path: Path
) -> None:
    ledger = open_test_ledger(sqlite_url, tmp_path)
    server = LiveServer(create_app(ledger.settings, ledger=ledger,
                                   freeze_startup_objects=freeze)).start()
    try:
        assert server.call("GET", "/healthz").status == 200
        frozen = gc.get_freeze_count()
        young = gc.get_threshold()[0]
        # With it, the modules, the app and the open ledger (~10^5 objects) are frozen.
        assert (frozen > 10_000) if freeze else (frozen == 0)
        assert (young == YOUNG_THRESHOLD) if freeze else (young < YOUNG_THRESHOLD)
    finally:
        server.stop()
        ledger.close()
