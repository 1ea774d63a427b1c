"""Fixtures for API tests: one live server per backend and module, with API keys.

The database is module-scoped (cloned from the session's migrated template), so tests in
one module share it: each test uses order ids of its own.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from api.apikeys import issue_key
from api.app import create_app
from ledger.sequencer import Sequencer
from ledger.service import Ledger
from ledger.store.apikeys import api_key_store
from ledger.timefmt import format_time
from tests.api.live import LiveServer
from tests.conftest import BACKENDS, PostgresServer
from tests.ledger.support import NOW, open_test_ledger

TENANT_A = "shop-a"
TENANT_B = "shop-b"

#: (key name, role, tenant scope) of the keys every test server has.
KEYS: tuple[tuple[str, str, str | None], ...] = (
    ("platform-a", "platform", TENANT_A),
    ("carrier-a", "carrier", TENANT_A),
    ("platform-b", "platform", TENANT_B),
    ("carrier-b", "carrier", TENANT_B),
    ("auditor-all", "auditor", None),
    ("legal-all", "legal", None),
    ("admin-all", "admin", None),
    ("auditor-a", "auditor", TENANT_A),
    ("legal-a", "legal", TENANT_A),
    ("admin-a", "admin", TENANT_A),
    ("revoked-platform-a", "platform", TENANT_A),
)


@dataclass
class Api:
    """A live server over a ledger, and the tokens of its keys by name."""

    server: LiveServer
    ledger: Ledger
    tokens: dict[str, str]
    database_url: str

    def sequence(self) -> None:
        """Integrate queued records into the log and publish a checkpoint."""
        Sequencer(
            self.ledger.recorder,
            log_key=self.ledger.keyring.log_key(),
            origin=self.ledger.settings.log_origin,
            clock=self.ledger.clock,
        ).integrate_all()


@pytest.fixture(scope="module", params=BACKENDS)
def module_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A fresh, migrated database per module and backend."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path_factory.mktemp("api-db") / "ledger.db"
        shutil.copyfile(template, path)
        yield f"sqlite:///{path}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = server.new_name("api")
    yield server.create_database(name, template=request.getfixturevalue("postgres_template"))
    server.drop_database_later(name)


@pytest.fixture(scope="module")
def api(module_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    ledger = open_test_ledger(module_database_url, tmp_path_factory.mktemp("api-data"))
    store = api_key_store(ledger.recorder)
    now = format_time(NOW)
    tokens = {
        name: issue_key(store, name=name, role=role, tenant=tenant, now=now).token
        for name, role, tenant in KEYS
    }
    store.revoke("revoked-platform-a", now)
    server = LiveServer(create_app(ledger.settings, ledger=ledger)).start()
    try:
        yield Api(server, ledger, tokens, module_database_url)
    finally:
        server.stop()
        ledger.close()
