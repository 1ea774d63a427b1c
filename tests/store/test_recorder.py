"""The recorder interface, round trip by round trip: one suite, run on both backends."""

from __future__ import annotations

import pytest

from ledger.errors import ConcurrencyConflict, KeyStoreError, OrderExists, StorageError
from ledger.store import (
    IdempotencyEntry,
    OrderHead,
    Recorder,
    SequencerConflict,
    UnitOfWork,
)
from tests.store.factories import (
    head_after,
    in_unit_of_work,
    make_chain,
    make_checkpoint,
    make_key,
    make_record,
    snapshot,
    store_order,
    time_at,
)

# --- order heads ---------------------------------------------------------------------------


def test_order_head_round_trip(recorder: Recorder) -> None:
    record = make_record()
    head = head_after(record)
    with recorder.unit_of_work() as uow:
        uow.insert_records([record])
        uow.insert_order(head)
    with recorder.unit_of_work() as uow:
        assert uow.get_head("shop-1", "order-1") == head
        assert uow.lock_head("shop-1", "order-1") == head
        assert uow.get_head("shop-1", "order-2") is None
        assert uow.lock_head("shop-2", "order-1") is None


def test_lock_heads_returns_exactly_the_stored_heads_asked_for(recorder: Recorder) -> None:
    stored: dict[tuple[str, str], OrderHead] = {}
    for tenant, order in [("shop-1", "order-1"), ("shop-1", "order-2"), ("shop-2", "order-1")]:
        record = make_record(tenant=tenant, order=order)
        store_order(recorder, [record])
        stored[(tenant, order)] = head_after(record)
    asked = [("shop-2", "order-1"), ("shop-1", "order-1"), ("shop-1", "order-9"),
             ("shop-3", "order-2"), ("shop-1", "order-2")]
    with recorder.unit_of_work() as uow:
        locked = uow.lock_heads(asked)
        assert uow.lock_heads([]) == {}
        # a key that mixes one order's tenant with another's id names no head
        assert uow.lock_heads([("shop-2", "order-2")]) == {}
    assert locked == stored


def test_insert_order_twice_raises_order_exists(recorder: Recorder) -> None:
    store_order(recorder, [make_record()])
    with pytest.raises(OrderExists), recorder.unit_of_work() as uow:
        uow.insert_order(head_after(make_record()))


def test_advance_head_moves_the_head(recorder: Recorder) -> None:
    first, second = make_chain(2)
    store_order(recorder, [first])
    with recorder.unit_of_work() as uow:
        uow.insert_records([second])
        uow.advance_head("shop-1", "order-1", expected_seq=0, new_seq=1,
                         head_hash=second.statement_hash, sub_state="M01.02", main_state="M01",
                         model="sha256:new", updated_at=time_at(99))
    with recorder.unit_of_work() as uow:
        head = uow.get_head("shop-1", "order-1")
    assert head is not None
    assert (head.head_seq, head.head_hash, head.sub_state, head.model, head.updated_at) == (
        1, second.statement_hash, "M01.02", "sha256:new", time_at(99))
    assert head.created_at == first.statement.recorded_at


@pytest.mark.parametrize(
    ("order", "expected_seq", "actual_seq"),
    [
        pytest.param("order-1", 0, 2, id="stale-seq"),
        pytest.param("order-1", 5, 2, id="future-seq"),
        pytest.param("no-such-order", 0, None, id="missing-order"),
    ],
)
def test_version_checked_advance_head_refuses_a_wrong_seq(
    recorder: Recorder, order: str, expected_seq: int, actual_seq: int | None
) -> None:
    store_order(recorder, make_chain(3))
    with pytest.raises(ConcurrencyConflict) as caught, recorder.unit_of_work() as uow:
        uow.advance_head("shop-1", order, expected_seq=expected_seq, new_seq=expected_seq + 1,
                         head_hash="ff" * 32, sub_state="X", main_state="X", model="m",
                         updated_at=time_at(9))
    assert (caught.value.expected_seq, caught.value.actual_seq) == (expected_seq, actual_seq)
    with recorder.unit_of_work() as uow:
        head = uow.get_head("shop-1", "order-1")
    assert head is not None
    assert head.head_seq == 2


def test_batched_heads_and_idempotency_round_trip(recorder: Recorder) -> None:
    chains = [make_chain(2, order=f"order-{n}") for n in range(3)]
    with recorder.unit_of_work() as uow:
        ids = uow.insert_records([c[0] for c in chains])
        uow.insert_orders([head_after(c[0]) for c in chains])
        uow.put_idempotencies([IdempotencyEntry("shop-1", f"k{n}", "h", record_id, time_at(1))
                               for n, record_id in enumerate(ids)])
    with recorder.unit_of_work() as uow:
        uow.insert_records([c[1] for c in chains])
        uow.advance_heads([(0, head_after(c[1])) for c in chains])
    with recorder.unit_of_work() as uow:
        assert [uow.get_head("shop-1", f"order-{n}") for n in range(3)] == [
            head_after(c[1], created_at=c[0].statement.recorded_at) for c in chains]
        assert [e.record_id for n in range(3)
                if (e := uow.get_idempotency("shop-1", f"k{n}")) is not None] == ids


def test_a_stale_head_in_a_batch_raises_concurrency_conflict(recorder: Recorder) -> None:
    for n in range(3):
        store_order(recorder, make_chain(n + 1, order=f"order-{n}"))
    before = snapshot(recorder)
    moves = [(n, head_after(make_chain(n + 2, order=f"order-{n}")[-1])) for n in range(3)]
    moves[1] = (0, moves[1][1])  # order-1 is at seq 1, not 0
    with pytest.raises(ConcurrencyConflict) as caught, recorder.unit_of_work() as uow:
        uow.advance_heads(moves)
    assert (caught.value.expected_seq, caught.value.actual_seq) == (0, 1)
    assert "order-1" in str(caught.value)
    assert snapshot(recorder) == before


# --- records -------------------------------------------------------------------------------


def test_records_round_trip_with_payloads(recorder: Recorder) -> None:
    chain = make_chain(4)
    with recorder.unit_of_work() as uow:
        single = uow.insert_records(chain[:1])
        batch = uow.insert_records(chain[1:])
        uow.insert_order(head_after(chain[-1]))
    ids = single + batch
    assert ids == sorted(ids)
    assert len(set(ids)) == 4
    with recorder.unit_of_work() as uow:
        stored = uow.get_chain("shop-1", "order-1")
        found = uow.find_record(ids[2])
        assert uow.get_record(ids[3]) == stored[3]
        assert uow.find_record(max(ids) + 1) is None
        assert uow.get_chain("shop-1", "other") == []
    assert [r.statement for r in stored] == [r.statement for r in chain]
    assert [r.record_id for r in stored] == ids
    assert [(r.statement_hash, r.signature, r.payload, r.salt) for r in stored] == [
        (r.statement_hash, r.signature, r.payload, r.salt) for r in chain
    ]
    assert found == stored[2]


def test_get_record_of_unknown_id_raises_storage_error(recorder: Recorder) -> None:
    with pytest.raises(StorageError, match="no record"), recorder.unit_of_work() as uow:
        uow.get_record(12345)


@pytest.mark.parametrize(
    "duplicate",
    [
        pytest.param(make_record(seq=0, to_state="M02.01"), id="same-seq-other-statement"),
        pytest.param(make_record(seq=0), id="same-statement"),
    ],
)
def test_a_taken_chain_position_raises_concurrency_conflict(
    recorder: Recorder, duplicate: object
) -> None:
    store_order(recorder, [make_record(seq=0)])
    before = snapshot(recorder)
    with pytest.raises(ConcurrencyConflict), recorder.unit_of_work() as uow:
        uow.insert_records([make_record(tenant="shop-1", order="order-9"), duplicate])  # type: ignore[list-item]
    assert snapshot(recorder) == before


def test_iter_records_pages_through_every_record(recorder: Recorder) -> None:
    ids = store_order(recorder, make_chain(5)) + store_order(recorder, make_chain(3, order="b"))
    pages = []
    after = 0
    with recorder.unit_of_work(read_only=True) as uow:
        assert uow.count_records() == 8
        while page := uow.iter_records(after, limit=3):
            pages.append([r.record_id for r in page])
            after = page[-1].record_id or 0
    assert pages == [ids[0:3], ids[3:6], ids[6:8]]


def test_iter_orders_walks_every_order_in_key_order(recorder: Recorder) -> None:
    keys = [("a", "1"), ("a", "2"), ("a", "10"), ("b", "1"), ("c", "0")]
    for tenant, order in reversed(keys):
        store_order(recorder, make_chain(1, tenant=tenant, order=order))
    with recorder.unit_of_work() as uow:
        walked = [(h.tenant, h.order) for h in uow.iter_orders(batch=2)]
        assert [(h.tenant, h.order) for h in uow.iter_orders()] == walked
    assert walked == sorted(keys)


def test_records_are_queued_for_the_log_in_id_order(recorder: Recorder) -> None:
    ids = store_order(recorder, make_chain(3)) + store_order(recorder, make_chain(2, order="b"))
    with recorder.unit_of_work() as uow:
        hashes = {r.record_id: r.statement_hash for r in uow.iter_records(0, 10)}
        assert uow.take_unsequenced(10) == [(i, hashes[i]) for i in ids]
        assert uow.take_unsequenced(2) == [(i, hashes[i]) for i in ids[:2]]


def test_erase_payloads_keeps_the_statement(recorder: Recorder) -> None:
    chain = make_chain(3)
    ids = store_order(recorder, chain)
    with recorder.unit_of_work() as uow:
        assert uow.erase_payloads([ids[0], ids[2]]) == 2
        assert uow.erase_payloads([ids[0]]) == 0
        assert uow.erase_payloads([]) == 0
    with recorder.unit_of_work() as uow:
        stored = uow.get_chain("shop-1", "order-1")
    assert [(r.payload is None, r.salt is None) for r in stored] == [
        (True, True), (False, False), (True, True)]
    assert [(r.statement, r.statement_hash, r.signature) for r in stored] == [
        (r.statement, r.statement_hash, r.signature) for r in chain]


# --- idempotency, catalogues, keys --------------------------------------------------------


def test_idempotency_round_trip_and_a_lost_race(recorder: Recorder) -> None:
    [record_id] = store_order(recorder, [make_record()])
    entry = IdempotencyEntry(tenant="shop-1", key="req-1", request_hash="aa" * 32,
                             record_id=record_id, created_at=time_at(5))
    with recorder.unit_of_work() as uow:
        assert uow.get_idempotency("shop-1", "req-1") is None
        uow.put_idempotency(entry)
    with recorder.unit_of_work() as uow:
        assert uow.get_idempotency("shop-1", "req-1") == entry
        assert uow.get_idempotency("shop-2", "req-1") is None
    with pytest.raises(ConcurrencyConflict), recorder.unit_of_work() as uow:
        uow.put_idempotency(entry)


def test_catalogues_are_saved_once_by_digest(recorder: Recorder) -> None:
    document = {"version": "1.0.0", "sub_states": [{"code": "M01.01", "名称": "已下单"}]}
    with recorder.unit_of_work() as uow:
        uow.save_catalogue("sha256:one", "1.0.0", document)
        uow.save_catalogue("sha256:one", "9.9.9", {"other": True})  # no-op: digest stored
        uow.save_catalogue("sha256:two", "2.0.0", {"version": "2.0.0"})
    with recorder.unit_of_work() as uow:
        assert uow.get_catalogue("sha256:one") == document
        assert uow.get_catalogue("sha256:none") is None
        listed = uow.list_catalogues()
    assert [(c.digest, c.version) for c in listed] == [("sha256:one", "1.0.0"),
                                                       ("sha256:two", "2.0.0")]
    assert listed[0].document == document


def test_keys_round_trip_and_close_once(recorder: Recorder) -> None:
    old = make_key("00000000000000aa", not_before=time_at(0))
    log = make_key("00000000000000bb", purpose="log", not_before=time_at(1))
    with recorder.unit_of_work() as uow:
        uow.insert_key(log)
        uow.insert_key(old)
    with recorder.unit_of_work() as uow:
        assert uow.list_keys() == [old, log]
        uow.close_key(old.key_id, time_at(50))
    with recorder.unit_of_work() as uow:
        assert uow.list_keys()[0].not_after == time_at(50)
    for key_id in (old.key_id, "unknown"):
        with pytest.raises(KeyStoreError), recorder.unit_of_work() as uow:
            uow.close_key(key_id, time_at(60))
    with pytest.raises(KeyStoreError), recorder.unit_of_work() as uow:
        uow.insert_key(old)


# --- Merkle log ----------------------------------------------------------------------------


def test_leaves_nodes_and_queue_round_trip(recorder: Recorder) -> None:
    ids = store_order(recorder, make_chain(3))
    leaves = [bytes([i]) * 32 for i in range(3)]
    with recorder.unit_of_work() as uow:
        assert uow.log_size() == 0
        uow.store_leaves(0, ids[:2], leaves[:2])
        uow.store_nodes({(0, 0): leaves[0], (0, 1): leaves[1], (1, 0): b"\x09" * 32})
        uow.delete_from_queue(ids[:2])
    with recorder.unit_of_work() as uow:
        assert uow.log_size() == 2
        assert [uow.leaf_of(i) for i in ids] == [0, 1, None]
        assert [record_id for record_id, _ in uow.take_unsequenced(10)] == [ids[2]]
        assert uow.get_nodes([(1, 0), (0, 1), (5, 5)]) == {(1, 0): b"\x09" * 32,
                                                             (0, 1): leaves[1]}
        assert uow.get_nodes([]) == {}
        uow.store_leaves(2, ids[2:], leaves[2:])
        assert uow.log_size() == 3


@pytest.mark.parametrize(
    ("start_index", "record_index"),
    [
        pytest.param(0, 2, id="index-taken"),
        pytest.param(2, 2, id="gap"),
        pytest.param(1, 0, id="record-is-a-leaf-already"),
    ],
)
def test_store_leaves_refuses_gaps_and_duplicates(
    recorder: Recorder, start_index: int, record_index: int
) -> None:
    ids = store_order(recorder, make_chain(3))
    with recorder.unit_of_work() as uow:
        uow.store_leaves(0, ids[:1], [b"\x00" * 32])
    with pytest.raises(SequencerConflict), recorder.unit_of_work() as uow:
        uow.store_leaves(start_index, [ids[record_index]], [b"\x01" * 32])


def test_a_stored_node_cannot_be_stored_again(recorder: Recorder) -> None:
    with recorder.unit_of_work() as uow:
        uow.store_nodes({(0, 0): b"\x01" * 32})
    with pytest.raises(SequencerConflict), recorder.unit_of_work() as uow:
        uow.store_nodes({(0, 0): b"\x02" * 32})


def test_checkpoints_round_trip(recorder: Recorder) -> None:
    with recorder.unit_of_work() as uow:
        assert uow.latest_checkpoint() is None
        assert uow.insert_checkpoint(make_checkpoint(4))
        assert uow.insert_checkpoint(make_checkpoint(2))
        assert not uow.insert_checkpoint(make_checkpoint(4))
    with recorder.unit_of_work() as uow:
        assert uow.latest_checkpoint() == make_checkpoint(4)
        assert uow.list_checkpoints() == [make_checkpoint(2), make_checkpoint(4)]


# --- transactions --------------------------------------------------------------------------


class DeliberateError(Exception):
    pass


def test_an_exception_rolls_back_every_table(recorder: Recorder) -> None:
    ids = store_order(recorder, make_chain(2))
    with recorder.unit_of_work() as uow:
        uow.insert_key(make_key())
    before = snapshot(recorder)
    chain = make_chain(4)

    def change_everything_then_fail(uow: UnitOfWork) -> None:
        new_ids = uow.insert_records(chain[2:])
        uow.advance_head("shop-1", "order-1", expected_seq=1, new_seq=3,
                         head_hash=chain[3].statement_hash, sub_state="M01.04",
                         main_state="M01", model="m", updated_at=time_at(30))
        uow.insert_order(head_after(make_record(order="new")))
        uow.put_idempotency(IdempotencyEntry("shop-1", "k", "h", new_ids[0], time_at(30)))
        uow.save_catalogue("sha256:c", "1", {"a": 1})
        uow.close_key(make_key().key_id, time_at(30))
        uow.store_leaves(0, ids, [b"\x00" * 32, b"\x01" * 32])
        uow.store_nodes({(0, 0): b"\x00" * 32})
        uow.delete_from_queue(ids)
        uow.insert_checkpoint(make_checkpoint(2))
        assert uow.erase_payloads(ids) == 2
        # Everything happened inside the transaction; only the rollback may undo it.
        assert (uow.count_records(), uow.log_size(), uow.take_unsequenced(9)) == (4, 2, [
            (new_ids[0], chain[2].statement_hash), (new_ids[1], chain[3].statement_hash)])
        raise DeliberateError

    with pytest.raises(DeliberateError):
        in_unit_of_work(recorder, change_everything_then_fail)
    assert snapshot(recorder) == before


def test_a_read_only_unit_of_work_refuses_writes(recorder: Recorder) -> None:
    with pytest.raises(StorageError), recorder.unit_of_work(read_only=True) as uow:
        uow.insert_key(make_key())
    with recorder.unit_of_work(read_only=True) as uow:
        assert uow.list_keys() == []
    with recorder.unit_of_work() as uow:  # and the connection is writable again after it
        uow.insert_key(make_key())
