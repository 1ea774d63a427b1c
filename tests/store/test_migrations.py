"""Migrations: a fresh database gets the whole schema; re-running changes nothing."""

from __future__ import annotations

import subprocess
import sys
import threading
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from ledger.migrations import alembic_config
from ledger.store import Recorder, open_recorder
from ledger.store.apikeys import API_KEYS
from ledger.store.console_sessions import CONSOLE_SESSIONS
from ledger.store.tables import LEDGER_TABLES
from tests.conftest import PostgresServer
from tests.store.factories import ALL_TABLES, engine_of, make_chain, store_order

#: The newest migration: a fresh database must end there.
HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()


def schema_of(recorder: Recorder) -> dict[str, object]:
    """Tables, their columns and indexes, triggers, and the alembic revision."""
    engine = engine_of(recorder)
    inspector = inspect(engine)
    with engine.connect() as connection:
        if recorder.dialect == "sqlite":
            triggers = connection.execute(
                text("SELECT name FROM sqlite_master WHERE type = 'trigger'")).scalars()
        else:
            triggers = connection.execute(
                text("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")).scalars()
        trigger_names = sorted(triggers)
        revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    return {
        "tables": {
            name: ([c["name"] for c in inspector.get_columns(name)],
                   sorted(str(i["name"]) for i in inspector.get_indexes(name)))
            for name in inspector.get_table_names()
        },
        "triggers": trigger_names,
        "revision": revision,
    }


def test_fresh_migration_builds_the_schema_and_a_rerun_changes_nothing(
    empty_database_url: str,
) -> None:
    recorder = open_recorder(empty_database_url)
    try:
        recorder.migrate()
        schema = schema_of(recorder)
        store_order(recorder, make_chain(2))
        recorder.migrate()
        assert schema_of(recorder) == schema
        with recorder.unit_of_work() as uow:
            assert uow.count_records() == 2
    finally:
        recorder.close()
    tables = schema["tables"]
    assert isinstance(tables, dict)
    assert set(tables) == {*ALL_TABLES, "alembic_version"}
    assert schema["revision"] == HEAD
    assert "records_enqueue" in schema["triggers"]  # type: ignore[operator]


TABLE_CLASSES = (*LEDGER_TABLES, API_KEYS, CONSOLE_SESSIONS)


def _on_this_dialect(dialect: str) -> Any:
    """alembic's `include_object`: leave out what tables.py builds on another database
    only (`ddl_if(dialect=...)`, which neither `to_metadata` copies nor alembic reads)."""
    items: list[Any] = [(table.name, item) for table in TABLE_CLASSES
                        for item in (*table.indexes, *table.constraints)]
    elsewhere = {
        (table, item.name) for table, item in items
        if item._ddl_if is not None and item._ddl_if.dialect not in (None, dialect)
    }

    def include(obj: Any, name: str | None, type_: str, reflected: bool, other: Any) -> bool:
        table = getattr(obj, "table", None)
        return table is None or (table.name, name) not in elsewhere

    return include


def test_migrated_schema_matches_the_table_classes(recorder: Recorder) -> None:
    """tables.py and the migration describe the same schema (names, types, keys)."""
    metadata = MetaData()
    for table in TABLE_CLASSES:
        table.to_metadata(metadata)
    with engine_of(recorder).connect() as connection:
        context = MigrationContext.configure(connection, opts={
            "compare_type": True,
            "include_object": _on_this_dialect(connection.dialect.name)})
        assert compare_metadata(context, metadata) == []


def test_postgres_indexes_have_the_kinds_migration_0011_gives(
    postgres_recorder: Recorder,
) -> None:
    """alembic's comparison does not read index kinds or storage parameters: the
    catalogue does."""
    with engine_of(postgres_recorder).connect() as connection:
        kinds: dict[str, str] = dict(connection.execute(text(
            "SELECT c.relname, a.amname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
            " JOIN pg_am a ON a.oid = c.relam WHERE i.indrelid = 'records'::regclass")).all())
        options = connection.execute(text(
            "SELECT reloptions FROM pg_class WHERE relname = 'orders'")).scalar_one()
    assert kinds == {
        "pk_records": "btree", "uq_records_order_seq": "btree",
        "ix_records_tenant_to_state": "btree", "ix_records_statement_hash": "hash",
        "ix_records_event_time": "brin", "ix_records_recorded_at": "brin",
    }
    assert options == ["fillfactor=50"]


def test_downgrade_then_upgrade_round_trips(empty_database_url: str) -> None:
    recorder = open_recorder(empty_database_url)
    try:
        recorder.migrate()
        schema = schema_of(recorder)
        with engine_of(recorder).connect() as connection:
            command.downgrade(alembic_config(connection), "base")
            connection.commit()
        assert set(inspect(engine_of(recorder)).get_table_names()) == {"alembic_version"}
        recorder.migrate()
        assert schema_of(recorder) == schema
    finally:
        recorder.close()


def test_concurrent_first_starts_migrate_once(empty_database_url: str) -> None:
    """Two services starting together on an empty database (two processes: alembic runs
    one migration per process at a time): both succeed, and the schema is built once."""
    script = ("import sys; from ledger.store import open_recorder; "
              "open_recorder(sys.argv[1]).migrate()")
    processes = [
        subprocess.Popen([sys.executable, "-c", script, empty_database_url],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for _ in range(2)
    ]
    outputs = [process.communicate(timeout=120)[0] for process in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    recorder = open_recorder(empty_database_url)
    try:
        assert schema_of(recorder)["revision"] == HEAD
    finally:
        recorder.close()


@pytest.mark.postgres
def test_two_databases_creating_the_app_role_at_once_both_succeed(
    postgres_server: PostgresServer,
) -> None:
    """Roles belong to the cluster: ledgers in two databases migrating at the same moment
    may both find the role missing. The migration's CREATE ROLE must not fail the second
    (a fresh role name per try, started from a common barrier by two connections)."""
    create_role_sql = _initial_migration().create_role_sql
    database = make_url(str(postgres_server.url)).database
    assert database is not None
    for attempt in range(12):
        role = postgres_server.new_name("race_role")
        errors = _run_together(postgres_server.url_of(database), create_role_sql(role))
        postgres_server.execute(f"DROP ROLE IF EXISTS {role}")
        assert errors == [], f"attempt {attempt}: {errors[0]}"


def _run_together(url: str, sql: str) -> list[BaseException]:
    """Run `sql` in two transactions started at the same moment; what each raised."""
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def run() -> None:
        engine = create_engine(url, poolclass=NullPool)
        try:
            with engine.begin() as connection:
                start.wait(10)
                connection.execute(text(sql))
        except BaseException as exc:  # reported by the caller, in the test's thread
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return errors


def _initial_migration() -> Any:
    """The module of migration 0001 (alembic loads revisions by file, not by import)."""
    script = ScriptDirectory.from_config(alembic_config()).get_revision("0001")
    assert script is not None
    return script.module
