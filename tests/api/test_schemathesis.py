"""The API against its own OpenAPI document, with Schemathesis, over real HTTP (SQLite).

Schemathesis generates requests for every operation (GETs with an all-tenant admin
key, writes with tenant A's platform key) and checks each answer: never a 5xx, a status
code the document declares, a declared content type, and a body that matches the
declared schema. Examples are bounded so the run stays well under a minute.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation.case import Case
from schemathesis.schemas import BaseSchema
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.apikeys import issue_key
from api.app import create_app
from ledger.service import Ledger
from ledger.settings import Settings
from ledger.store.apikeys import api_key_store
from ledger.timefmt import format_time
from tests.api.conftest import Api
from tests.api.data import HAPPY, create_body, event_body
from tests.api.live import LiveServer
from tests.ledger.support import NOW, open_test_ledger

TENANT = "shop-a"
ORDER = "contract-1"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
#: Examples per operation (about 25 operations).
MAX_EXAMPLES = 30


@dataclass
class Contract:
    server: LiveServer
    ledger: Ledger
    admin: str
    platform: str

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"


@pytest.fixture(scope="module")
def contract(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Contract]:
    """A live server on a fresh SQLite ledger with one order on the way and a checkpoint,
    so the read operations find something."""
    folder = tmp_path_factory.mktemp("contract")
    shutil.copyfile(sqlite_template, folder / "ledger.db")
    ledger = open_test_ledger(f"sqlite:///{folder / 'ledger.db'}", folder / "data")
    store = api_key_store(ledger.recorder)
    now = format_time(NOW)
    admin = issue_key(store, name="admin-all", role="admin", tenant=None, now=now).token
    platform = issue_key(store, name="platform-a", role="platform", tenant=TENANT, now=now).token
    server = LiveServer(create_app(ledger.settings, ledger=ledger)).start()
    try:
        assert server.call("POST", "/v1/orders", token=platform,
                           json_body=create_body(TENANT, ORDER)).status == 201
        for step in HAPPY.steps[1:4]:
            assert server.call("POST", f"/v1/orders/{TENANT}/{ORDER}/events", token=platform,
                               json_body=event_body(step)).status == 201
        Api(server, ledger, {}, "").sequence()
        yield Contract(server, ledger, admin, platform)
    finally:
        server.stop()
        ledger.close()


def _operations() -> list[tuple[str, str]]:
    """(method, path) of every operation the app documents (nothing is opened)."""
    document = create_app(Settings()).openapi()
    return [(method.upper(), path) for path, item in document["paths"].items()
            for method in item if method in ("get", "post", "put", "delete")]


OPERATIONS = _operations()


@pytest.fixture(scope="module")
def api_schema(contract: Contract) -> BaseSchema:
    loaded = schemathesis.openapi.from_dict(contract.server.app.openapi())
    loaded.config.update(base_url=contract.base_url)
    return loaded


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_operation_conforms_to_the_schema(
    api_schema: BaseSchema, contract: Contract, method: str, path: str
) -> None:
    """Reads with the all-tenant admin key, writes with tenant A's platform key."""
    token = contract.admin if method == "GET" else contract.platform
    headers = {"Authorization": f"Bearer {token}"}
    operation = api_schema[path][method]

    @given(case=operation.as_strategy())
    @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def conforms(case: Case[Any]) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS)

    conforms()
