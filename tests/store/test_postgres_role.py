"""PostgreSQL's `orderledger_app` role: runs the ledger, cannot rewrite its evidence.

Triggers stop the application's SQL; privileges stop it even when an owner has disabled
the triggers. These tests connect as a LOGIN member of the role, as production should.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url

from ledger.store import (
    AppendWrites,
    FindingEntry,
    IdempotencyEntry,
    ImmutabilityViolation,
    Recorder,
    TimerRow,
    open_recorder,
)
from ledger.store.console_sessions import SessionRow, console_session_store
from ledger.store.errors import translate
from tests.conftest import PostgresServer
from tests.store.factories import (
    engine_of,
    head_after,
    make_chain,
    make_checkpoint,
    make_key,
    store_order,
    time_at,
)

pytestmark = pytest.mark.postgres

INSUFFICIENT_PRIVILEGE = "42501"


@pytest.fixture
def app_recorder(postgres_server: PostgresServer, postgres_url: str) -> Iterator[Recorder]:
    """A recorder connected as a LOGIN member of `orderledger_app`."""
    login = postgres_server.new_name("app")
    postgres_server.execute(f"CREATE ROLE {login} LOGIN IN ROLE orderledger_app")
    database = make_url(postgres_url).database
    assert database is not None
    recorder = open_recorder(postgres_server.url_of(database, username=login))
    yield recorder
    recorder.close()
    postgres_server.execute(f"DROP ROLE {login}")  # it owns nothing and holds no grant


def test_the_app_role_can_do_everything_the_ledger_does(app_recorder: Recorder) -> None:
    app_recorder.migrate()  # at head already: reads alembic_version, changes nothing
    chain = make_chain(3)
    ids = store_order(app_recorder, chain[:2])
    with app_recorder.unit_of_work() as uow:
        head = uow.lock_head("shop-1", "order-1")
        assert head is not None
        [new_id] = uow.insert_records(chain[2:])
        uow.advance_head("shop-1", "order-1", expected_seq=1, new_seq=2,
                         head_hash=chain[2].statement_hash, sub_state="M01.03",
                         main_state="M01", model=head.model, updated_at=time_at(40))
        uow.put_idempotency(IdempotencyEntry("shop-1", "k", "h", new_id, time_at(40)))
        uow.save_catalogue("sha256:c", "1", {"a": 1})
        uow.insert_key(make_key())
        uow.close_key(make_key().key_id, time_at(41))
    with app_recorder.unit_of_work() as uow:
        queued = uow.take_unsequenced(10)
        uow.store_leaves(0, [r for r, _ in queued], [b"\x00" * 32] * len(queued))
        uow.store_nodes({(0, 0): b"\x00" * 32})
        uow.delete_from_queue([r for r, _ in queued])
        assert uow.insert_checkpoint(make_checkpoint(3))
        assert uow.erase_payloads(ids) == 2
    with app_recorder.unit_of_work(read_only=True) as uow:
        assert uow.log_size() == 3
        assert [r.payload is None for r in uow.get_chain("shop-1", "order-1")] == [
            True, True, False]


def test_the_app_role_can_write_a_batch(app_recorder: Recorder) -> None:
    """A batch's writes: new order, record ids drawn from their sequence, COPY of records,
    payloads, timers, idempotency entries and findings; then a head move and a disarm."""
    first, second, third = make_chain(3, order="order-2")
    timer = TimerRow(tenant="shop-1", order="order-2", name="no_scan", sub_state="M01.02",
                     armed_seq=1, deadline=time_at(3600), warn_at=(), next_warn_at=None,
                     state="armed", created_at=time_at(2))
    finding = FindingEntry(record_id=0, tenant="shop-1", order="order-2", seq=1,
                           sub_state="M01.02", recorded_at=time_at(2), pack="p@1",
                           rule_id="R-1", severity="flag", citation="c", message="m",
                           field="x")
    key = IdempotencyEntry("shop-1", "k-2", "h", 0, time_at(2))
    with app_recorder.unit_of_work() as uow:
        ids = uow.write_appends(AppendWrites(
            records=[first, second], new_orders=[head_after(second)], timers=[timer],
            idempotency=[(second.statement_hash, key)],
            findings=[(second.statement_hash, finding)]))
    with app_recorder.unit_of_work() as uow:
        uow.write_appends(AppendWrites(
            records=[third], head_moves=[(1, head_after(third))],
            timer_disarms=[("shop-1", "order-2", "no_scan", time_at(3), 2)]))
    with app_recorder.unit_of_work(read_only=True) as uow:
        assert [r.record_id for r in uow.get_chain("shop-1", "order-2")][:2] == ids
        assert [t.state for t in uow.list_timers(order="order-2")] == ["disarmed"]
        entry = uow.get_idempotency("shop-1", "k-2")
        assert entry is not None
        assert entry.record_id == ids[1]


FORBIDDEN = [
    pytest.param("UPDATE records SET event = 'forged'", id="update-records"),
    pytest.param("DELETE FROM records", id="delete-records"),
    pytest.param("TRUNCATE records CASCADE", id="truncate-records"),
    pytest.param("UPDATE leaves SET leaf_hash = leaf_hash", id="update-leaves"),
    pytest.param("DELETE FROM merkle_nodes", id="delete-nodes"),
    pytest.param("DELETE FROM checkpoints", id="delete-checkpoints"),
    pytest.param("UPDATE catalogues SET document = '{}'", id="update-catalogues"),
    pytest.param("DELETE FROM payloads", id="delete-payloads"),
    pytest.param("UPDATE payloads SET record_id = record_id", id="move-payloads"),
    pytest.param("UPDATE signing_keys SET alg = 'none'", id="update-key-alg"),
    pytest.param("DELETE FROM signing_keys", id="delete-keys"),
    pytest.param("DELETE FROM orders", id="delete-orders"),
    pytest.param("DELETE FROM idempotency_keys", id="delete-idempotency"),
    pytest.param("TRUNCATE sequencing_queue", id="truncate-queue"),
    pytest.param("ALTER TABLE records DISABLE TRIGGER USER", id="disable-triggers"),
    pytest.param("SET session_replication_role = replica", id="skip-triggers"),
]


@pytest.mark.parametrize("statement", FORBIDDEN)
def test_the_app_role_cannot_rewrite_evidence_even_without_triggers(
    app_recorder: Recorder, postgres_url: str, statement: str
) -> None:
    store_order(app_recorder, make_chain(2))
    with app_recorder.unit_of_work() as uow:
        uow.save_catalogue("sha256:c", "1", {"a": 1})
        uow.insert_key(make_key())
    owner = create_engine(postgres_url)
    try:
        with owner.begin() as connection:  # what a careless DBA might do
            for table in ("records", "leaves", "merkle_nodes", "checkpoints", "catalogues",
                          "payloads", "signing_keys"):
                connection.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
    finally:
        owner.dispose()
    with pytest.raises(sa_exc.DBAPIError) as caught, engine_of(app_recorder).begin() as conn:
        conn.execute(text(statement))
    assert getattr(caught.value.orig, "sqlstate", None) == INSUFFICIENT_PRIVILEGE
    assert isinstance(translate(caught.value), ImmutabilityViolation)


def test_the_app_role_keeps_console_sessions(app_recorder: Recorder) -> None:
    """Sign-in inserts, use touches, sign-out deletes: all allowed to the service."""
    store = console_session_store(app_recorder)
    row = SessionRow(id_digest="d" * 64, key_id=1, key_name="auditor-a", role="auditor",
                     tenant=None, csrf="c", created_at=time_at(0), last_seen=time_at(0))
    store.insert(row, expired_before=(time_at(-1), time_at(-1)), keep_at_most=10)
    assert store.touch(row.id_digest, time_at(5))
    store.delete(row.id_digest)
    assert store.get(row.id_digest) is None
