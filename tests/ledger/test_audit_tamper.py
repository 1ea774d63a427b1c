"""Evidence changed straight in the database, as a DBA could: the database refuses it while
its triggers stand, and `audit_ledger` (and `orderledger audit`) finds every change that
went around them, naming the tenant, order and seq it hit (DESIGN invariants 3 and 4).

Every case runs on a ledger holding four orders from different scenarios, two of them
with the same order id under different tenants, and checks that only the orders it
touched are reported.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import text

from ledger.audit import AuditReport, audit_ledger
from ledger.canonical import new_salt, payload_digest, statement_hash
from ledger.keys import LocalKey
from ledger.sequencer import Sequencer
from ledger.service import Ledger
from ledger.statement import Actor, ActorType, Kind
from ledger.store import OrderHead, StoredRecord
from statemodel.canonical import canonical_json
from statemodel.scenarios import Scenario, scenario
from tests.ledger.support import open_test_ledger, raw_connection, requests_for, snapshot, tamper

LOG_ORIGIN = "test.orderledger.example/log"

Order = tuple[str, str]
A: Order = ("shop-1", "order-a")  # domestic happy path, seq 0..16
B: Order = ("shop-1", "order-b")  # return and refund, seq 0..19
X: Order = ("shop-2", "order-a")  # same order id as A, another tenant; seq 0..14
C: Order = ("shop-2", "order-c")  # payment timeout, seq 0..1

LIFECYCLES: dict[Order, Scenario] = {
    A: scenario("domestic_happy_path"),
    B: scenario("return_within_cooling_off_then_refund"),
    X: scenario("cross_border_documents_missing_then_released"),
    C: scenario("payment_timeout"),
}


def last_seq(order: Order) -> int:
    return len(LIFECYCLES[order].steps) - 1


@dataclass
class Db:
    """The ledger under attack and the raw SQL to attack it with."""

    url: str
    ledger: Ledger

    def chain(self, order: Order) -> list[StoredRecord]:
        with self.ledger.recorder.unit_of_work() as uow:
            return uow.get_chain(*order)

    def head(self, order: Order) -> OrderHead:
        with self.ledger.recorder.unit_of_work() as uow:
            head = uow.get_head(*order)
        assert head is not None
        return head

    def record(self, order: Order, seq: int) -> StoredRecord:
        return self.chain(order)[seq]

    def tamper(self, *sql: str, **params: Any) -> None:
        tamper(self.url, *sql, **params)

    def set_record(self, order: Order, seq: int, /, **columns: Any) -> None:
        """UPDATE one records row (by tenant, order, seq) around the triggers."""
        assignments = ", ".join(f"{name} = :new_{name}" for name in columns)
        self.tamper(
            f"UPDATE records SET {assignments} WHERE tenant = :t AND order_id = :o AND seq = :s",
            t=order[0],
            o=order[1],
            s=seq,
            **{f"new_{name}": value for name, value in columns.items()},
        )

    def set_payload(self, order: Order, seq: int, /, **columns: Any) -> None:
        """UPDATE the payloads row of one record around the triggers."""
        assignments = ", ".join(f"{name} = :new_{name}" for name in columns)
        self.tamper(
            f"UPDATE payloads SET {assignments} WHERE record_id = "
            "(SELECT id FROM records WHERE tenant = :t AND order_id = :o AND seq = :s)",
            t=order[0],
            o=order[1],
            s=seq,
            **{f"new_{name}": value for name, value in columns.items()},
        )

    def set_head(self, order: Order, **columns: Any) -> None:
        assignments = ", ".join(f"{name} = :new_{name}" for name in columns)
        self.tamper(
            f"UPDATE orders SET {assignments} WHERE tenant = :t AND order_id = :o",
            t=order[0],
            o=order[1],
            **{f"new_{name}": value for name, value in columns.items()},
        )

    def delete_record(self, order: Order, seq: int) -> None:
        where = "(SELECT id FROM records WHERE tenant = :t AND order_id = :o AND seq = :s)"
        self.tamper(
            f"DELETE FROM payloads WHERE record_id = {where}",
            f"DELETE FROM sequencing_queue WHERE record_id = {where}",
            "DELETE FROM records WHERE tenant = :t AND order_id = :o AND seq = :s",
            t=order[0],
            o=order[1],
            s=seq,
        )

    def insert_record(self, record: StoredRecord) -> None:
        """INSERT a whole record (and its payload) around the triggers."""
        st = record.statement
        self.tamper(
            "INSERT INTO records (v, log, kind, tenant, order_id, seq, prev, from_state, "
            "to_state, event, event_time, recorded_at, actor_type, actor_id, payload_digest, "
            "model, rules, key_id, statement_hash, signature) VALUES (:v, :log, :kind, "
            ":tenant, :order_id, :seq, :prev, :from_state, :to_state, :event, :event_time, "
            ":recorded_at, :actor_type, :actor_id, :payload_digest, :model, :rules, :key_id, "
            ":statement_hash, :signature)",
            "INSERT INTO payloads (record_id, payload, salt) "
            "SELECT id, :payload, :salt FROM records WHERE statement_hash = :statement_hash",
            v=st.v,
            log=st.log,
            kind=st.kind.value,
            tenant=st.tenant,
            order_id=st.order,
            seq=st.seq,
            prev=st.prev,
            from_state=st.from_state,
            to_state=st.to_state,
            event=st.event,
            event_time=st.event_time,
            recorded_at=st.recorded_at,
            actor_type=st.actor.type.value,
            actor_id=st.actor.id,
            payload_digest=st.payload_digest,
            model=st.model,
            rules=st.rules,
            key_id=st.key_id,
            statement_hash=record.statement_hash,
            signature=record.signature,
            payload=canonical_json(record.payload).decode(),
            salt=record.salt,
        )


@pytest.fixture
def db(database_url: str, tmp_path: Path) -> Iterator[Db]:
    ledger = open_test_ledger(database_url, tmp_path / "data")
    for (tenant, order), lifecycle in LIFECYCLES.items():
        ledger.appender.append_many(requests_for(lifecycle, tenant=tenant, order=order))
    yield Db(database_url, ledger)
    ledger.close()


# --- the attacks ----------------------------------------------------------------------


def _change_payload_value(db: Db) -> None:
    payload = dict(db.record(A, 5).payload or {})
    payload["waybill_no"] = "DB7700999999999"  # the parcel that was "really" packed
    db.set_payload(A, 5, payload=canonical_json(payload).decode())


def _swap_seqs(db: Db) -> None:
    db.tamper(
        "UPDATE records SET seq = -1 WHERE tenant = :t AND order_id = :o AND seq = 3",
        "UPDATE records SET seq = 3 WHERE tenant = :t AND order_id = :o AND seq = 4",
        "UPDATE records SET seq = 4 WHERE tenant = :t AND order_id = :o AND seq = -1",
        t=B[0],
        o=B[1],
    )


def _swap_payloads(db: Db) -> None:
    third, fourth = db.record(B, 3), db.record(B, 4)
    for target, source in ((3, fourth), (4, third)):
        db.set_payload(B, target, payload=canonical_json(source.payload).decode(), salt=source.salt)


def _resign_tail(order: Order, start: int, *, publish_key_id: bool) -> Callable[[Db], None]:
    """Rewrite seq `start`.. of an order consistently (new event time at `start`, every
    hash and prev link recomputed, head moved along) and sign it with a fresh key that
    the ledger never published: the chain links, the signatures must not verify."""

    def attack(db: Db) -> None:
        forger = LocalKey.generate()
        chain = db.chain(order)
        prev = chain[start - 1].statement_hash
        for record in chain[start:]:
            st = replace(
                record.statement,
                prev=prev,
                key_id=forger.key_id if publish_key_id else record.statement.key_id,
            )
            if st.seq == start:
                st = replace(st, event_time="2026-03-02T01:00:00.000Z")
            digest = statement_hash(st)
            prev = digest.hex()
            db.set_record(
                order,
                st.seq,
                prev=st.prev,
                event_time=st.event_time,
                key_id=st.key_id,
                statement_hash=prev,
                signature=forger.sign_record(digest),
            )
        db.set_head(order, head_hash=prev)

    return attack


def _forge_record(db: Db) -> None:
    """Append a legal hold nobody placed, signed by a key nobody published."""
    forger = LocalKey.generate()
    head = db.head(C)
    last = db.record(C, head.head_seq).statement
    salt, payload = new_salt(), {"hold_ref": "forged"}
    st = replace(
        last,
        kind=Kind.LEGAL_HOLD,
        seq=head.head_seq + 1,
        prev=head.head_hash,
        from_state=head.sub_state,
        to_state=head.sub_state,
        event="legal_hold",
        actor=Actor(ActorType.USER, "dba"),
        payload_digest=payload_digest(salt, payload),
        key_id=forger.key_id,
    )
    digest = statement_hash(st)
    db.insert_record(
        StoredRecord(st, digest.hex(), forger.sign_record(digest), None, payload, salt)
    )
    db.set_head(C, head_seq=st.seq, head_hash=digest.hex())


def _steal_signature(db: Db) -> None:
    db.set_record(A, 7, signature=db.record(A, 8).signature)


def _move_to_other_tenant(db: Db) -> None:
    db.set_record(A, last_seq(A), tenant=X[0])


Expected = tuple[str, str, int | None, str]


def at(order: Order, seq: int | None, check: str) -> Expected:
    return (order[0], order[1], seq, check)


@dataclass(frozen=True)
class Tamper:
    name: str
    attack: Callable[[Db], None]
    #: Problems audit must report, as (tenant, order, seq, check).
    expect: frozenset[Expected]
    #: True when audit must report exactly these, nothing else.
    exact: bool = False


TAMPERS = [
    Tamper("payload value", _change_payload_value, frozenset({at(A, 5, "payload-digest")})),
    Tamper(
        "salt",
        lambda db: db.set_payload(X, 2, salt=bytes(16)),
        frozenset({at(X, 2, "payload-digest")}),
        exact=True,
    ),
    Tamper(
        "state (to)",
        lambda db: db.set_record(A, 3, to_state="M02.01"),
        frozenset(
            {
                at(A, 3, "statement-hash"),
                at(A, 3, "signature"),
                at(A, 3, "transition"),
                at(A, 4, "state-continuity"),
            }
        ),
    ),
    Tamper(
        "state (from)",
        lambda db: db.set_record(B, 6, from_state="M04.01"),
        frozenset(
            {at(B, 6, "statement-hash"), at(B, 6, "signature"), at(B, 6, "state-continuity")}
        ),
    ),
    Tamper(
        "timestamp (event_time)",
        lambda db: db.set_record(X, 9, event_time="2026-03-03T11:19:00.000Z"),
        frozenset({at(X, 9, "statement-hash"), at(X, 9, "signature"), at(X, 10, "chain-link")}),
    ),
    Tamper(
        "timestamp (recorded_at, before the key's interval)",
        lambda db: db.set_record(A, 2, recorded_at="2026-11-25T09:59:59.000Z"),
        frozenset({at(A, 2, "statement-hash"), at(A, 2, "signature"), at(A, 2, "key-interval")}),
    ),
    Tamper("signature", _steal_signature, frozenset({at(A, 7, "signature")}), exact=True),
    Tamper(
        "key_id",
        lambda db: db.set_record(B, 11, key_id="ffffffffffffffff"),
        frozenset({at(B, 11, "statement-hash"), at(B, 11, "signature")}),
    ),
    Tamper(
        "delete a middle record",
        lambda db: db.delete_record(A, 4),
        frozenset({at(A, 4, "sequence"), at(A, 5, "chain-link")}),
    ),
    Tamper(
        "delete the first record",
        lambda db: db.delete_record(X, 0),
        frozenset({at(X, 0, "sequence"), at(X, 1, "chain-link")}),
    ),
    Tamper(
        "delete the last record",
        lambda db: db.delete_record(A, last_seq(A)),
        frozenset({at(A, last_seq(A), "sequence"), at(A, None, "head")}),
    ),
    Tamper(
        "swap two records' seq",
        _swap_seqs,
        frozenset({at(B, 3, "statement-hash"), at(B, 4, "statement-hash")}),
    ),
    Tamper(
        "swap two records' payloads",
        _swap_payloads,
        frozenset({at(B, 3, "payload-digest"), at(B, 4, "payload-digest")}),
        exact=True,
    ),
    Tamper(
        "rewrite a chain tail under an unpublished key",
        _resign_tail(A, 12, publish_key_id=True),
        frozenset(at(A, seq, "signature") for seq in range(12, last_seq(A) + 1)),
        exact=True,
    ),
    Tamper(
        "rewrite a chain tail under the published key id with another key",
        _resign_tail(B, 15, publish_key_id=False),
        frozenset(at(B, seq, "signature") for seq in range(15, last_seq(B) + 1)),
        exact=True,
    ),
    Tamper(
        "head state",
        lambda db: db.set_head(B, sub_state="M01.01", main_state="M01"),
        frozenset({at(B, None, "head")}),
        exact=True,
    ),
    Tamper(
        "head seq",
        lambda db: db.set_head(X, head_seq=last_seq(X) - 1),
        frozenset({at(X, None, "head")}),
        exact=True,
    ),
    Tamper(
        "head hash",
        lambda db: db.set_head(C, head_hash="0" * 64),
        frozenset({at(C, None, "head")}),
        exact=True,
    ),
    Tamper(
        "delete an order row",
        lambda db: db.tamper(
            "DELETE FROM orders WHERE tenant = :t AND order_id = :o", t=B[0], o=B[1]
        ),
        frozenset({at(B, None, "orphan")}),
        exact=True,
    ),
    Tamper(
        "insert a forged record signed by an unknown key",
        _forge_record,
        # Not exact: the Merkle log audit also misses the forged record among its leaves.
        frozenset({at(C, last_seq(C) + 1, "signature")}),
    ),
    Tamper(
        "erase a payload without a retention_purge record",
        lambda db: db.set_payload(B, 7, payload=None, salt=None),
        frozenset({at(B, 7, "payload")}),
        exact=True,
    ),
    Tamper(
        "delete a payload row",
        lambda db: db.tamper(
            "DELETE FROM payloads WHERE record_id = (SELECT id FROM records "
            "WHERE tenant = :t AND order_id = :o AND seq = 1)",
            t=C[0],
            o=C[1],
        ),
        frozenset({at(C, 1, "payload")}),
        exact=True,
    ),
    Tamper(
        "move a record to another tenant's order of the same id",
        _move_to_other_tenant,
        frozenset(
            {
                at(A, last_seq(A), "sequence"),
                at(X, last_seq(X) + 1, "sequence"),
                at(X, last_seq(A), "statement-hash"),
            }
        ),
    ),
    Tamper(
        "unreadable kind",
        lambda db: db.set_record(C, 1, kind="transitionx"),
        frozenset({at(C, None, "unreadable")}),
        exact=True,
    ),
    Tamper(
        "payload that is not JSON",
        lambda db: db.set_payload(A, 9, payload='{"waybill_no":'),
        frozenset({at(A, None, "unreadable")}),
        exact=True,
    ),
    Tamper(
        "seq beyond what JSON can carry",
        lambda db: db.set_record(X, last_seq(X), seq=2**60),
        frozenset({at(X, last_seq(X), "sequence"), at(X, 2**60, "statement-hash")}),
    ),
    # No foreign key refuses these (migration 0010): audit must name them.
    Tamper(
        "insert a payload row for a record that does not exist",
        lambda db: db.tamper(
            "INSERT INTO payloads (record_id, payload, salt) "
            "SELECT max(id) + 7, '{}', :salt FROM records",
            salt=b"\x00" * 16,
        ),
        frozenset({("*", "*", None, "dangling")}),
        exact=True,
    ),
    Tamper(
        "queue a record that does not exist for the Merkle log",
        lambda db: db.tamper(
            "INSERT INTO sequencing_queue (record_id) SELECT max(id) + 9 FROM records"),
        frozenset({("*", "*", None, "dangling")}),
        exact=True,
    ),
]


def described(report: AuditReport) -> str:
    return "\n".join(str(p) for p in report.problems) or "(no problems)"


def test_the_untouched_ledger_audits_clean(db: Db) -> None:
    report = audit_ledger(db.ledger.recorder)

    assert report.ok, described(report)
    assert report.orders == len(LIFECYCLES)
    assert report.records == sum(len(s.steps) for s in LIFECYCLES.values())


@pytest.mark.parametrize("case", TAMPERS, ids=lambda c: c.name)
def test_audit_finds_a_change_made_in_the_database(db: Db, case: Tamper) -> None:
    case.attack(db)

    report = audit_ledger(db.ledger.recorder)

    found = {(p.tenant, p.order, p.seq, p.check) for p in report.problems}
    assert case.expect <= found, described(report)
    touched = {(tenant, order) for tenant, order, _, _ in case.expect}
    assert {(p.tenant, p.order) for p in report.problems} <= touched, described(report)
    if case.exact:
        assert found == case.expect, described(report)


def test_audit_finds_a_cut_tail_whose_head_was_moved_back(db: Db) -> None:
    """Every chain is consistent after this; only the Merkle log still holds the record."""
    ledger = db.ledger
    Sequencer(
        ledger.recorder,
        log_key=ledger.keyring.log_key(),
        origin=LOG_ORIGIN,
        clock=ledger.clock,
    ).integrate_all()
    kept = db.record(A, last_seq(A) - 1)
    db.delete_record(A, last_seq(A))
    db.set_head(A, head_seq=kept.statement.seq, head_hash=kept.statement_hash)
    db.set_head(A, sub_state=kept.statement.to_state, main_state=kept.statement.to_state[:3])

    report = audit_ledger(ledger.recorder)

    assert not report.ok


# --- the database's own refusal --------------------------------------------------------

DIRECT_CHANGES = [
    pytest.param(
        "UPDATE records SET event_time = '2026-03-02T01:00:00.000Z' "
        "WHERE tenant = 'shop-1' AND order_id = 'order-a' AND seq = 3",
        id="update-a-record",
    ),
    pytest.param(
        "UPDATE records SET to_state = 'M12.03' WHERE tenant = 'shop-2'", id="update-many"
    ),
    pytest.param(
        "DELETE FROM records WHERE tenant = 'shop-1' AND order_id = 'order-b' AND seq = 19",
        id="delete-the-last-record",
    ),
    pytest.param("DELETE FROM records", id="delete-every-record"),
    pytest.param(
        "UPDATE payloads SET payload = '{}' WHERE record_id = (SELECT min(id) FROM records)",
        id="update-a-payload",
    ),
    pytest.param(
        "DELETE FROM payloads WHERE record_id = (SELECT max(id) FROM records)",
        id="delete-a-payload",
    ),
]


@pytest.mark.parametrize("sql", DIRECT_CHANGES)
def test_the_database_refuses_to_change_evidence(db: Db, sql: str) -> None:
    before = snapshot(db.url)

    with pytest.raises(sa_exc.DBAPIError, match="orderledger: "), raw_connection(db.url) as conn:
        conn.execute(text(sql))

    assert snapshot(db.url) == before
    assert audit_ledger(db.ledger.recorder).ok


def test_erasing_a_payload_outside_retention_is_refused_or_found(db: Db) -> None:
    """PostgreSQL refuses an erasure that does not declare retention's purpose; SQLite
    has no session settings to tell retention's UPDATE from any other, so there the
    erasure goes through and audit must report it."""
    erase = (
        "UPDATE payloads SET payload = NULL, salt = NULL WHERE record_id = "
        "(SELECT id FROM records WHERE tenant = 'shop-1' AND order_id = 'order-b' AND seq = 2)"
    )
    before = snapshot(db.url)
    if db.ledger.recorder.dialect == "postgresql":
        with (
            pytest.raises(sa_exc.DBAPIError, match="payloads_erasure_only"),
            raw_connection(db.url) as conn,
        ):
            conn.execute(text(erase))
        assert snapshot(db.url) == before
        return
    with raw_connection(db.url) as conn:
        conn.execute(text(erase))

    report = audit_ledger(db.ledger.recorder)

    assert [(p.tenant, p.order, p.seq, p.check) for p in report.problems] == [
        at(B, 2, "payload")
    ], described(report)


# --- the CLI ---------------------------------------------------------------------------


def run_audit_cli(db: Db, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "ORDERLEDGER_DATABASE_URL": db.url,
        "ORDERLEDGER_DATA_DIR": str(data_dir),
        "ORDERLEDGER_LOG_ORIGIN": LOG_ORIGIN,
    }
    command = [sys.executable, "-c", "import sys; from api.cli import main; sys.exit(main())"]
    return subprocess.run(
        [*command, "audit", "--quiet"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )


def test_cli_audit_exits_0_on_a_clean_ledger_and_1_naming_order_and_seq(
    db: Db, tmp_path: Path
) -> None:
    clean = run_audit_cli(db, tmp_path / "data")
    assert clean.returncode == 0, clean.stderr
    assert clean.stdout.strip().endswith("clean"), clean.stdout

    db.set_record(X, 6, event_time="2026-03-03T12:00:00.000Z")
    tampered = run_audit_cli(db, tmp_path / "data")

    assert tampered.returncode == 1, tampered.stderr
    assert "shop-2/order-a seq 6: statement-hash" in tampered.stdout, tampered.stdout
    assert "shop-1/order-a" not in tampered.stdout
    assert tampered.stdout.splitlines()[-1].endswith("problem(s)"), tampered.stdout
