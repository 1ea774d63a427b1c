"""Group commit: concurrent single appends share a unit of work, each keeps its answer.

First the coordination itself (ledger/group_commit.py) with plain functions: who leads,
what a group holds, where each outcome goes. Then the append service on both databases:
concurrent `append` calls really form groups, every caller gets its own record or its own
refusal, and (PostgreSQL) a group whose writes fail as a whole falls back to one unit of
work per request, so only the request at fault fails.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from ledger.append import AppendService, EventRequest
from ledger.audit import audit_ledger
from ledger.errors import IllegalTransition, InvalidInput, OrderExists, StorageError
from ledger.group_commit import GroupCommit
from ledger.service import Ledger
from ledger.store import Recorder, UnitOfWork
from statemodel.scenarios import scenario
from tests.ledger.support import open_test_ledger, requests_for

HAPPY = scenario("domestic_happy_path")


def wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.001)


class GatedRunner:
    """A run_group that holds its FIRST group until `release()`, and records groups."""

    def __init__(self, answer: Callable[[int], int | BaseException] = lambda x: x * 10) -> None:
        self.groups: list[list[int]] = []
        self._gate = threading.Event()
        self._answer = answer

    def release(self) -> None:
        self._gate.set()

    def __call__(self, items: Sequence[int]) -> list[int | BaseException]:
        if not self.groups:
            self._gate.wait(timeout=30)
        self.groups.append(list(items))
        return [self._answer(x) for x in items]


def _waiting_is(group: GroupCommit[int, int], count: int) -> bool:
    return group.waiting == count


def submit_behind_first(group: GroupCommit[int, int], runner: GatedRunner,
                        items: list[int]) -> list[Any]:
    """Submit items[0], which leads and is held; then the others, which queue behind it;
    release; every caller's outcome (result or exception) in item order."""
    def call(item: int) -> Any:
        try:
            return group.submit(item)
        except Exception as exc:  # the outcome under test
            return exc

    with ThreadPoolExecutor(max_workers=len(items)) as pool:
        futures = [pool.submit(call, items[0])]
        wait_until(lambda: len(runner.groups) == 0 and group.waiting == 0)
        for queued, item in enumerate(items[1:], start=1):
            futures.append(pool.submit(call, item))
            wait_until(partial(_waiting_is, group, queued))
        runner.release()
        return [f.result(timeout=30) for f in futures]


def test_callers_that_arrive_during_a_group_form_the_next_one_in_arrival_order() -> None:
    runner = GatedRunner()
    group: GroupCommit[int, int] = GroupCommit(runner)
    outcomes = submit_behind_first(group, runner, [1, 2, 3, 4, 5])
    assert outcomes == [10, 20, 30, 40, 50]
    assert runner.groups == [[1], [2, 3, 4, 5]]
    assert group.waiting == 0


def test_a_group_holds_at_most_max_group_items() -> None:
    runner = GatedRunner()
    group: GroupCommit[int, int] = GroupCommit(runner, max_group=2)
    assert submit_behind_first(group, runner, [1, 2, 3, 4, 5]) == [10, 20, 30, 40, 50]
    assert runner.groups == [[1], [2, 3], [4, 5]]


def test_each_caller_gets_its_own_exception() -> None:
    def answer(x: int) -> int | BaseException:
        return ValueError(f"item {x} refused") if x % 2 == 0 else x * 10

    runner = GatedRunner(answer)
    outcomes = submit_behind_first(GroupCommit(runner), runner, [1, 2, 3, 4])
    assert outcomes[0] == 10
    assert outcomes[2] == 30
    assert [str(o) for o in (outcomes[1], outcomes[3])] == ["item 2 refused", "item 4 refused"]


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        pytest.param(lambda items: 1 / 0, "division by zero", id="run_group raises"),
        pytest.param(lambda items: [1], "returned 1 outcomes for 3 items", id="too few outcomes"),
    ],
)
def test_a_failed_group_fails_each_of_its_callers_and_the_next_group_still_runs(
    broken: Callable[[Sequence[int]], Any], message: str,
) -> None:
    gate = threading.Event()
    calls: list[list[int]] = []

    def run(items: Sequence[int]) -> Any:
        calls.append(list(items))
        if len(calls) == 1:
            gate.wait(timeout=30)
            return list(items)
        if len(calls) == 2:
            return broken(items)
        return list(items)

    group: GroupCommit[int, int] = GroupCommit(run)

    def call(item: int) -> Any:
        try:
            return group.submit(item)
        except Exception as exc:
            return exc

    with ThreadPoolExecutor(max_workers=4) as pool:
        first = pool.submit(call, 0)
        wait_until(lambda: len(calls) == 1)
        rest = [pool.submit(call, i) for i in (1, 2, 3)]
        wait_until(lambda: group.waiting == 3)
        gate.set()
        outcomes = [f.result(timeout=30) for f in rest]
        assert first.result(timeout=30) == 0
    assert all(isinstance(o, Exception) and message in str(o) for o in outcomes), outcomes
    assert group.submit(7) == 7  # no leader is left stuck: a new caller leads at once


def test_max_group_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_group"):
        GroupCommit(lambda items: list(items), max_group=0)


# --- the append service ---------------------------------------------------------------

@pytest.fixture
def ledger(database_url: str, tmp_path: Path) -> Iterator[Ledger]:
    opened = open_test_ledger(database_url, tmp_path / "data")
    yield opened
    opened.close()


def at_hub(ledger: Ledger, orders: list[str]) -> EventRequest:
    """Bring `orders` to M05.02, where hub_scan may repeat; the hub-scan request."""
    steps = [s.expect for s in HAPPY.steps].index("M05.02") + 1
    for order in orders:
        ledger.appender.append_many(requests_for(HAPPY, order=order, steps=steps))
    return requests_for(HAPPY, steps=steps + 1)[steps]


def held_groups(service: AppendService) -> tuple[list[int], threading.Event]:
    """Record the size of every group the service runs; hold the first until released."""
    sizes: list[int] = []
    gate = threading.Event()
    real = service.append_many

    def append_many(requests: Sequence[EventRequest]) -> Any:
        if not sizes:
            gate.wait(timeout=30)
        sizes.append(len(requests))
        return real(requests)

    service.append_many = append_many  # type: ignore[method-assign]
    return sizes, gate


def concurrent_appends(service: AppendService, gate: threading.Event,
                       requests: list[EventRequest],
                       catch: type[Exception] = InvalidInput) -> list[Any]:
    """requests[0] leads (held at the gate), the rest queue behind it; the outcomes
    (exceptions of type `catch` as values)."""
    group = service.group_commit
    assert group is not None

    def call(request: EventRequest) -> Any:
        try:
            return service.append(request)
        except catch as exc:
            return exc

    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        futures = [pool.submit(call, requests[0])]
        wait_until(lambda: group.waiting == 0)
        for request in requests[1:]:
            futures.append(pool.submit(call, request))
        wait_until(lambda: group.waiting == len(requests) - 1)
        gate.set()
        return [f.result(timeout=60) for f in futures]


def test_concurrent_appends_share_a_unit_of_work_and_each_gets_its_record(
    ledger: Ledger,
) -> None:
    orders = [f"order-{i}" for i in range(4)]
    scan = at_hub(ledger, orders)
    service = ledger.appender
    sizes, gate = held_groups(service)
    requests = [scan.__class__(**{**_fields(scan), "order": o}) for o in orders * 2]
    outcomes = concurrent_appends(service, gate, requests)
    assert sizes == [1, 7]
    for request, outcome in zip(requests, outcomes, strict=True):
        assert not isinstance(outcome, Exception), outcome
        assert outcome.record.statement.order == request.order
        assert outcome.record.record_id is not None
    seqs = sorted((o.record.statement.order, o.record.statement.seq) for o in outcomes)
    first_scan = len(at_hub_steps())
    assert seqs == sorted((o, first_scan + k) for o in orders for k in (0, 1))
    assert audit_ledger(ledger.recorder).ok


def test_a_refused_request_fails_alone_inside_its_group(ledger: Ledger) -> None:
    orders = ["order-a", "order-b"]
    scan = at_hub(ledger, orders)
    service = ledger.appender
    sizes, gate = held_groups(service)
    illegal = scan.__class__(**{**_fields(scan), "order": "order-b", "event": "order_placed"})
    requests = [scan.__class__(**{**_fields(scan), "order": "order-a"}), illegal,
                scan.__class__(**{**_fields(scan), "order": "order-b"})]
    outcomes = concurrent_appends(service, gate, requests)
    assert sizes == [1, 2]
    assert isinstance(outcomes[1], IllegalTransition)
    assert not isinstance(outcomes[0], Exception)
    assert not isinstance(outcomes[2], Exception)
    assert audit_ledger(ledger.recorder).ok


def test_a_group_whose_writes_fail_falls_back_to_one_request_at_a_time(
    postgres_url: str, tmp_path: Path,
) -> None:
    # Another writer (a second process, here a second ledger) creates order-x after the
    # group locked its heads and before it writes: the group's one write statement fails
    # as a whole; alone, only the creation of order-x must fail.
    ledger = open_test_ledger(postgres_url, tmp_path / "a")
    other = open_test_ledger(postgres_url, tmp_path / "a")  # one deployment, two processes
    try:
        scan = at_hub(ledger, ["order-a"])
        creation = requests_for(HAPPY, order="order-x", steps=1)[0]
        service = ledger.appender
        _interleave_before_first_write(ledger.recorder, lambda: other.appender.append(creation))
        sizes, gate = held_groups(service)
        outcomes = concurrent_appends(service, gate, [
            scan.__class__(**{**_fields(scan), "order": "order-a"}),
            creation,
            scan.__class__(**{**_fields(scan), "order": "order-a"}),
        ])
        assert sizes == [1, 2, 1, 1]  # the group of two failed, then each alone
        assert isinstance(outcomes[1], OrderExists)
        assert not isinstance(outcomes[0], Exception)
        assert not isinstance(outcomes[2], Exception)
        assert audit_ledger(ledger.recorder).ok
    finally:
        ledger.close()
        other.close()


def test_a_group_that_fails_otherwise_is_not_retried(ledger: Ledger) -> None:
    # A failure other than a refusal (the database gone, maybe during COMMIT) leaves it
    # unknown whether the group was stored: every caller hears of it, nobody is retried.
    scan = at_hub(ledger, ["order-a", "order-b"])

    def database_gone() -> None:
        raise StorageError("connection lost")

    _interleave_before_first_write(ledger.recorder, database_gone, failing=True)
    service = ledger.appender
    sizes, gate = held_groups(service)
    requests = [scan.__class__(**{**_fields(scan), "order": o})
                for o in ("order-a", "order-a", "order-b")]
    outcomes = concurrent_appends(service, gate, requests, catch=StorageError)
    assert sizes == [1, 2]
    assert not isinstance(outcomes[0], Exception)
    assert [str(o) for o in outcomes[1:]] == ["connection lost"] * 2
    assert audit_ledger(ledger.recorder).ok


def _interleave_before_first_write(recorder: Recorder, meanwhile: Callable[[], object], *,
                                   failing: bool = False) -> None:
    """Run `meanwhile` (in another thread, so in another transaction) just before the
    first `write_appends` of more than one record on this recorder; with `failing`, what
    it raises is raised from that write."""
    real_unit_of_work = recorder.unit_of_work
    done = threading.Event()
    failures: list[BaseException] = []

    def run() -> None:
        try:
            meanwhile()
        except BaseException as exc:  # re-raised in the writer's thread
            failures.append(exc)

    @contextmanager
    def unit_of_work(**kwargs: Any) -> Iterator[UnitOfWork]:
        with real_unit_of_work(**kwargs) as uow:
            real_write = uow.write_appends

            def write_appends(writes: Any) -> list[int]:
                if len(writes.records) > 1 and not done.is_set():
                    done.set()
                    worker = threading.Thread(target=run)
                    worker.start()
                    worker.join(timeout=30)
                    if failures and failing:
                        raise failures[0]
                    if failures:
                        raise AssertionError("the interleaved write failed") from failures[0]
                return real_write(writes)

            uow.write_appends = write_appends  # type: ignore[method-assign]
            yield uow

    recorder.unit_of_work = unit_of_work  # type: ignore[method-assign]


def _fields(request: EventRequest) -> dict[str, Any]:
    return {name: getattr(request, name) for name in EventRequest.__slots__}


def at_hub_steps() -> list[str]:
    steps = [s.expect for s in HAPPY.steps].index("M05.02") + 1
    return [s.expect for s in HAPPY.steps[:steps]]
