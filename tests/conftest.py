"""Databases for the tests: one fixture per backend, and both behind one parameter.

`database_url` and `recorder` are parametrized over `sqlite` and `postgres`, so a test
that takes either runs once per backend. Each test gets a fresh, migrated database:

- SQLite: a copy of a file migrated once per session, in the test's `tmp_path` (a file,
  because WAL needs one);
- PostgreSQL: `CREATE DATABASE t_<n> TEMPLATE <migrated template>`, dropped afterwards,
  on the throw-away server that `scripts/postgres.sh with ...` (run by `make test`)
  starts. Without it the PostgreSQL tests fail, never skip: a green run must mean both
  backends passed.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Final

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

from ledger.store import Recorder, open_recorder

PG_URL_ENV: Final = "ORDERLEDGER_TEST_PG_URL"

#: The two backends, with the ids test names carry: test_x[sqlite], test_x[postgres].
BACKENDS: Final = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]

_database_numbers = itertools.count()


class PostgresServer:
    """Creates and drops databases on the test server (as its superuser)."""

    def __init__(self, url: URL) -> None:
        self.url = url
        self._admin: Engine = create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        # Dropping a database takes about as long as creating one from the template; the
        # next test need not wait for it.
        self._dropper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="drop-db")
        self._drops: list[Future[None]] = []

    def url_of(self, database: str, *, username: str | None = None) -> str:
        url = self.url.set(database=database)
        if username is not None:
            url = url.set(username=username)
        return url.render_as_string(hide_password=False)

    def execute(self, sql: str) -> None:
        with self._admin.connect() as connection:
            connection.execute(text(sql))

    def create_database(self, name: str, *, template: str | None = None) -> str:
        clause = f" TEMPLATE {template}" if template else ""
        self.execute(f"CREATE DATABASE {name}{clause}")
        return self.url_of(name)

    def drop_database(self, name: str) -> None:
        self.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def drop_database_later(self, name: str) -> None:
        self._drops.append(self._dropper.submit(self.drop_database, name))

    def new_name(self, prefix: str = "t") -> str:
        return f"{prefix}_{os.getpid()}_{next(_database_numbers)}"

    def close(self) -> None:
        self._dropper.shutdown(wait=True)
        for drop in self._drops:
            drop.result()  # a failed drop is an error of the run, not lost in a thread
        self._admin.dispose()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    raw = os.environ.get(PG_URL_ENV)
    if not raw:
        pytest.fail(
            f"{PG_URL_ENV} is not set. The PostgreSQL tests need the throw-away server that "
            "`make test` starts: run `make test` (or `scripts/postgres.sh with "
            ".venv/bin/python -m pytest ...`). They fail rather than skip so that a green "
            "run means both backends passed.",
            pytrace=False,
        )
    server = PostgresServer(make_url(raw))
    yield server
    server.close()


@pytest.fixture(scope="session")
def postgres_template(postgres_server: PostgresServer) -> Iterator[str]:
    """A database migrated once per session; tests clone it."""
    name = postgres_server.new_name("ol_template")
    recorder = open_recorder(postgres_server.create_database(name))
    try:
        recorder.migrate()
    finally:
        # CREATE DATABASE ... TEMPLATE refuses while anyone is connected to the template.
        recorder.close()
    # Not even autovacuum may connect to it now (it would make CREATE DATABASE fail).
    postgres_server.execute(f"ALTER DATABASE {name} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false")
    yield name
    postgres_server.execute(f"ALTER DATABASE {name} WITH IS_TEMPLATE false")
    postgres_server.drop_database(name)


@pytest.fixture
def postgres_url(postgres_server: PostgresServer, postgres_template: str) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for one test."""
    name = postgres_server.new_name()
    url = postgres_server.create_database(name, template=postgres_template)
    yield url
    postgres_server.drop_database_later(name)


@pytest.fixture
def empty_postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh PostgreSQL database without any schema."""
    name = postgres_server.new_name()
    url = postgres_server.create_database(name)
    yield url
    postgres_server.drop_database_later(name)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once per session; tests copy it."""
    path = tmp_path_factory.mktemp("sqlite-template") / "ledger.db"
    recorder = open_recorder(f"sqlite:///{path}")
    try:
        recorder.migrate()
    finally:
        recorder.close()  # the last connection checkpoints the WAL into the file
    return path


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    """A fresh, migrated SQLite database file for one test."""
    path = tmp_path / "ledger.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def empty_sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'empty.db'}"


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest) -> str:
    """The URL of a fresh, migrated database, once per backend."""
    return str(request.getfixturevalue(f"{request.param}_url"))


@pytest.fixture(params=BACKENDS)
def empty_database_url(request: pytest.FixtureRequest) -> str:
    """The URL of a fresh database without schema, once per backend."""
    return str(request.getfixturevalue(f"empty_{request.param}_url"))


@pytest.fixture
def postgres_recorder(postgres_url: str) -> Iterator[Recorder]:
    """A recorder on a fresh, migrated PostgreSQL database (PostgreSQL-only tests)."""
    opened = open_recorder(postgres_url)
    yield opened
    opened.close()


@pytest.fixture
def recorder(database_url: str) -> Iterator[Recorder]:
    """An open recorder on a fresh, migrated database, once per backend."""
    opened = open_recorder(database_url)
    yield opened
    opened.close()
