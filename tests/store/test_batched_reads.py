"""The recorder's batched reads for retention (ledger/store/log_sql.py and the run item
pages of retention_sql.py), on both backends: each must answer exactly what the
one-at-a-time reads answer."""

from __future__ import annotations

import pytest

from ledger.store import Recorder, retention_sql
from ledger.store.retention_sql import RunItemEntry
from tests.store.factories import make_chain, store_order, time_at

ORDERS = [("shop-1", "a"), ("shop-1", "b"), ("shop-2", "a"), ("shop-2", "c")]


def store_orders(recorder: Recorder, lengths: list[int]) -> dict[tuple[str, str], list[int]]:
    return {
        key: store_order(recorder, make_chain(length, tenant=key[0], order=key[1]))
        for key, length in zip(ORDERS, lengths, strict=True)
    }


def test_chains_of_answers_what_get_chain_answers_for_each_order(recorder: Recorder) -> None:
    store_orders(recorder, [3, 1, 4, 2])
    asked = [*ORDERS[::-1], ("shop-1", "missing"), ("shop-3", "a"), ORDERS[0]]
    with recorder.unit_of_work(read_only=True) as uow:
        chains = uow.chains_of(asked)
        expected = {key: uow.get_chain(*key) for key in ORDERS}
        assert uow.chains_of([]) == {}
    assert chains == expected
    assert [len(chains[k]) for k in ORDERS] == [3, 1, 4, 2]


def test_leaves_of_answers_what_leaf_of_answers(recorder: Recorder) -> None:
    ids = [i for chain in store_orders(recorder, [3, 1, 4, 2]).values() for i in chain]
    sequenced = ids[:7]
    with recorder.unit_of_work() as uow:
        uow.store_leaves(0, sequenced, [bytes([i]) * 32 for i in range(len(sequenced))])
    with recorder.unit_of_work(read_only=True) as uow:
        found = uow.leaves_of([*reversed(ids), ids[0]])
        expected = {i: uow.leaf_of(i) for i in ids if uow.leaf_of(i) is not None}
        assert uow.leaves_of([]) == {}
    assert found == expected == {record_id: n for n, record_id in enumerate(sequenced)}


def items_of(run_id: int, stored: dict[tuple[str, str], list[int]]) -> list[RunItemEntry]:
    return [
        RunItemEntry(run_id=run_id, record_id=record_id, tenant=tenant, order=order, seq=0,
                     recorded_at="", record_class="operation")
        for (tenant, order), ids in stored.items()
        for record_id in ids
    ]


@pytest.mark.parametrize("keys_per_order", [1, 16])
@pytest.mark.parametrize("orders_per_page", [1, 2, 3, 10])
def test_run_item_pages_walk_every_item_once_in_run_items_order(
    recorder: Recorder, orders_per_page: int, keys_per_order: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # One key per order: orders longer than that make a page hold fewer orders.
    monkeypatch.setattr(retention_sql, "_KEYS_PER_ORDER", keys_per_order)
    stored = store_orders(recorder, [3, 1, 4, 2])
    with recorder.unit_of_work() as uow:
        run_id = uow.insert_retention_run(reference_time=time_at(0), started_at=time_at(0),
                                          state="planned")
        other = uow.insert_retention_run(reference_time=time_at(0), started_at=time_at(0),
                                         state="planned")
        uow.add_run_items(items_of(run_id, stored))
        uow.add_run_items(items_of(other, {ORDERS[0]: stored[ORDERS[0]]}))
        # Order b of shop-1 is done, and one record of shop-2/a.
        uow.mark_items_erased_many(run_id, {stored[ORDERS[1]][0]: 7, stored[ORDERS[2]][1]: 9})

    def walk(pending_only: bool) -> list[list[RunItemEntry]]:
        pages, after = [], None
        with recorder.unit_of_work(read_only=True) as uow:
            while page := uow.run_items_page(run_id, after=after, orders=orders_per_page,
                                             pending_only=pending_only):
                pages.append(page)
                after = (page[-1].tenant, page[-1].order)
        return pages

    with recorder.unit_of_work(read_only=True) as uow:
        every, pending = uow.run_items(run_id), uow.run_items(run_id, pending_only=True)
    for pending_only, expected in ((False, every), (True, pending)):
        pages = walk(pending_only)
        assert [i for page in pages for i in page] == expected
        for page in pages:  # whole orders, at most `orders_per_page` of them
            assert len({(i.tenant, i.order) for i in page}) <= orders_per_page
    assert len(every) == 10
    assert len(pending) == 8
    marked = {(i.record_id, i.purge_seq) for i in every if i.erased}
    assert marked == {(stored[ORDERS[1]][0], 7), (stored[ORDERS[2]][1], 9)}


def test_a_run_item_page_of_no_orders_is_refused(recorder: Recorder) -> None:
    with pytest.raises(ValueError, match="orders"), recorder.unit_of_work() as uow:
        uow.run_items_page(1, orders=0)
