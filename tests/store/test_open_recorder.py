"""open_recorder: which URLs name a usable database, and how the others fail."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.errors import ConfigurationError, StorageError
from ledger.store import open_recorder


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("", id="empty"),
        pytest.param("not a url", id="garbage"),
        pytest.param("mysql://user@localhost/ledger", id="unsupported-database"),
        pytest.param("sqlite://", id="sqlite-in-memory-implicit"),
        pytest.param("sqlite:///:memory:", id="sqlite-in-memory"),
        pytest.param("sqlite:////no/such/folder/ledger.db", id="sqlite-missing-folder"),
        pytest.param("sqlite+aiosqlite:///ledger.db", id="sqlite-other-driver"),
        pytest.param("postgresql+asyncpg://user@localhost/ledger", id="postgres-other-driver"),
        pytest.param("postgresql+psycopg2://user@localhost/ledger", id="postgres-psycopg2"),
    ],
)
def test_unusable_urls_raise_configuration_error(url: str) -> None:
    with pytest.raises(ConfigurationError):
        open_recorder(url)


@pytest.mark.parametrize(
    ("url", "dialect"),
    [
        pytest.param("sqlite:///{tmp}/a.db", "sqlite", id="sqlite"),
        pytest.param("sqlite+pysqlite:///{tmp}/b.db", "sqlite", id="sqlite-pysqlite"),
        pytest.param("postgresql://u@127.0.0.1/x", "postgresql", id="postgresql"),
        pytest.param("postgresql+psycopg://u@127.0.0.1/x", "postgresql", id="postgresql-psycopg"),
    ],
)
def test_usable_urls_open_lazily(url: str, dialect: str, tmp_path: Path) -> None:
    recorder = open_recorder(url.format(tmp=tmp_path))
    assert recorder.dialect == dialect
    recorder.close()


def test_an_unreachable_server_fails_as_storage_error() -> None:
    # Port 1 on loopback: nothing listens there, so the connection is refused at once.
    recorder = open_recorder("postgresql+psycopg://nobody@127.0.0.1:1/ledger?connect_timeout=2")
    try:
        with pytest.raises(StorageError):
            recorder.migrate()
        with pytest.raises(StorageError), recorder.unit_of_work():
            pass
    finally:
        recorder.close()
