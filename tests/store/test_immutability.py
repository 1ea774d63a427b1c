"""The database itself refuses to rewrite evidence, whatever SQL reaches it."""

from __future__ import annotations

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import text

from ledger.errors import OrderledgerError
from ledger.store import ImmutabilityViolation, Recorder, StoredRecord, UnitOfWork
from ledger.store.core import SqlUnitOfWork
from ledger.store.errors import translate
from tests.store.factories import (
    in_unit_of_work,
    make_chain,
    make_checkpoint,
    make_key,
    run_sql,
    snapshot,
    store_order,
    time_at,
)


def fill(recorder: Recorder) -> Recorder:
    """Put a row in every evidence table."""
    ids = store_order(recorder, make_chain(2))
    with recorder.unit_of_work() as uow:
        uow.save_catalogue("sha256:c", "1.0.0", {"sub_states": []})
        uow.insert_key(make_key())
        uow.store_leaves(0, ids, [b"\x00" * 32, b"\x01" * 32])
        uow.store_nodes({(0, 0): b"\x00" * 32, (1, 0): b"\x02" * 32})
        uow.delete_from_queue(ids)
        uow.insert_checkpoint(make_checkpoint(2))
    return recorder


@pytest.fixture
def filled(recorder: Recorder) -> Recorder:
    """A database with a row in every evidence table, once per backend."""
    return fill(recorder)


@pytest.fixture
def filled_postgres(postgres_recorder: Recorder) -> Recorder:
    return fill(postgres_recorder)


def refusal(recorder: Recorder, *statements: str) -> OrderledgerError:
    """Run raw SQL in one transaction that must fail; the ledger error it becomes."""
    with pytest.raises(sa_exc.DBAPIError) as caught:
        run_sql(recorder, *statements)
    return translate(caught.value)


APPEND_ONLY_CHANGES = [
    pytest.param("UPDATE records SET event = 'forged' WHERE seq = 1", id="update-record"),
    pytest.param("UPDATE records SET seq = seq + 10", id="reorder-records"),
    pytest.param("DELETE FROM records WHERE seq = 1", id="delete-record"),
    pytest.param("UPDATE leaves SET leaf_hash = leaf_hash WHERE leaf_index = 0",
                 id="update-leaf-same-value"),
    pytest.param("DELETE FROM leaves", id="delete-leaves"),
    pytest.param("UPDATE merkle_nodes SET level = 7", id="update-node"),
    pytest.param("DELETE FROM merkle_nodes WHERE level = 1", id="delete-node"),
    pytest.param("UPDATE checkpoints SET note = 'forged'", id="update-checkpoint"),
    pytest.param("DELETE FROM checkpoints", id="delete-checkpoint"),
    pytest.param("UPDATE catalogues SET document = '{}'", id="update-catalogue"),
    pytest.param("DELETE FROM catalogues", id="delete-catalogue"),
    pytest.param("DELETE FROM payloads", id="delete-payload"),
    pytest.param("UPDATE payloads SET payload = 'forged'", id="rewrite-payload"),
    pytest.param("UPDATE payloads SET salt = NULL", id="erase-salt-only"),
    pytest.param("UPDATE payloads SET record_id = record_id + 100, payload = NULL, salt = NULL",
                 id="move-payload"),
    pytest.param("DELETE FROM signing_keys", id="delete-key"),
    pytest.param("UPDATE signing_keys SET alg = 'none'", id="change-key-alg"),
    pytest.param("UPDATE signing_keys SET public_key = public_key || public_key",
                 id="change-public-key"),
    pytest.param("UPDATE signing_keys SET not_before = '2000-01-01T00:00:00.000Z'",
                 id="backdate-key"),
]


@pytest.mark.parametrize("statement", APPEND_ONLY_CHANGES)
def test_the_database_refuses_to_change_evidence(filled: Recorder, statement: str) -> None:
    before = snapshot(filled)
    error = refusal(filled, statement)
    assert isinstance(error, ImmutabilityViolation)
    assert str(error).startswith("orderledger: ")
    assert snapshot(filled) == before


@pytest.mark.postgres
@pytest.mark.parametrize(
    "table",
    ["records", "leaves", "merkle_nodes", "checkpoints", "catalogues", "payloads",
     "signing_keys"],
)
def test_postgres_refuses_truncate(filled_postgres: Recorder, table: str) -> None:
    """SQLite has no TRUNCATE (its DELETE triggers cover `DELETE FROM t`)."""
    filled = filled_postgres
    # CASCADE would truncate the referencing tables first: the trigger must stop it all.
    error = refusal(filled, f"TRUNCATE {table} CASCADE")
    assert isinstance(error, ImmutabilityViolation)
    with filled.unit_of_work() as uow:
        assert uow.count_records() == 2


def test_key_not_after_can_be_set_once_and_only_forward(filled: Recorder) -> None:
    key_id = make_key().key_id
    to_null = refusal(filled, "UPDATE signing_keys SET not_after = NULL")
    assert isinstance(to_null, ImmutabilityViolation)
    run_sql(filled, f"UPDATE signing_keys SET not_after = '{time_at(9)}'")
    for statement in ("UPDATE signing_keys SET not_after = '2027-01-01T00:00:00.000Z'",
                      "UPDATE signing_keys SET not_after = NULL"):
        assert isinstance(refusal(filled, statement), ImmutabilityViolation)
    with filled.unit_of_work() as uow:
        assert [(k.key_id, k.not_after) for k in uow.list_keys()] == [(key_id, time_at(9))]


def test_payload_erasure_through_raw_sql(filled: Recorder) -> None:
    """NULL/NULL is the only allowed change; PostgreSQL also wants the declared purpose."""
    erase = "UPDATE payloads SET payload = NULL, salt = NULL"
    if filled.dialect == "postgresql":
        error = refusal(filled, erase)
        assert isinstance(error, ImmutabilityViolation)
        assert "orderledger.purpose" in str(error)
        wrong_purpose = "SET LOCAL orderledger.purpose = 'audit'"
        assert isinstance(refusal(filled, wrong_purpose, erase), ImmutabilityViolation)
        statements = ["SET LOCAL orderledger.purpose = 'retention'", erase]
    else:
        statements = [erase]
    run_sql(filled, *statements)
    with filled.unit_of_work() as uow:
        assert all(r.payload is None and r.salt is None
                   for r in uow.get_chain("shop-1", "order-1"))


@pytest.mark.postgres
def test_erase_payloads_does_not_license_later_updates(filled_postgres: Recorder) -> None:
    """The retention purpose covers the erasure statement, not the rest of the transaction
    (the setting exists in PostgreSQL only)."""
    filled = filled_postgres
    [first, second] = [r.record_id for r in _chain(filled)]
    assert first is not None
    assert second is not None

    def erase_one_then_update_another(uow: UnitOfWork) -> None:
        uow.erase_payloads([first])
        # Raw SQL inside the same transaction, right after the erasure.
        assert isinstance(uow, SqlUnitOfWork)
        try:
            uow._conn.execute(
                text("UPDATE payloads SET payload = NULL, salt = NULL WHERE record_id = :r"),
                {"r": second},
            )
        except sa_exc.DBAPIError as error:
            raise translate(error) from error

    with pytest.raises(ImmutabilityViolation):
        in_unit_of_work(filled, erase_one_then_update_another)
    assert all(r.payload is not None for r in _chain(filled))


def _chain(recorder: Recorder) -> list[StoredRecord]:
    with recorder.unit_of_work() as uow:
        return uow.get_chain("shop-1", "order-1")
