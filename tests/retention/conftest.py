from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import PostgresServer
from tests.retention.support import Harness


@pytest.fixture
def harness(database_url: str, tmp_path: Path) -> Iterator[Harness]:
    opened = Harness(database_url, tmp_path / "data")
    yield opened
    opened.close()


@pytest.fixture
def another_database_url(
    database_url: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[str]:
    """A second fresh, migrated database of the same backend as `database_url` (to run
    the same story twice and compare the outcomes)."""
    if database_url.startswith("sqlite"):
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "another.db"
        shutil.copyfile(template, path)
        yield f"sqlite:///{path}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = server.new_name()
    url = server.create_database(name, template=request.getfixturevalue("postgres_template"))
    yield url
    server.drop_database_later(name)
