"""Group commit: concurrent single calls share one unit of work, each keeps its answer.

A single-record append costs a transaction of its own: a head lock, the writes and a
COMMIT that waits for the disk. When many threads append at once (the API's worker
threads under load), `GroupCommit` lets them share: the first caller becomes the leader
and runs everything queued so far as ONE group; the callers that arrive meanwhile queue
up, and when the leader is done the first of them leads the next group. There is no timer
and no background thread — a caller never waits for company, only for the group ahead of
it, which it would have waited for anyway (its head lock or the database's own lock).

Each caller gets its own result or its own exception, raised in its own thread, and only
after the group's transaction committed: acknowledgement still means durable.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class _Slot(Generic[T, R]):
    __slots__ = ("done", "item", "leads", "outcome")

    def __init__(self, item: T) -> None:
        self.item = item
        self.leads = False
        self.done = threading.Event()
        self.outcome: R | BaseException | None = None


class GroupCommit(Generic[T, R]):
    """Runs concurrent `submit` calls in groups through `run_group`.

    `run_group` gets the items of one group in arrival order and must return one outcome
    per item, in that order (a result, or an exception for that item alone). If it raises
    instead, every item of the group gets that exception. Groups hold at most `max_group`
    items; the rest wait for the next group.
    """

    def __init__(
        self, run_group: Callable[[Sequence[T]], Sequence[R | BaseException]], *,
        max_group: int = 100,
    ) -> None:
        if max_group < 1:
            raise ValueError("max_group must be at least 1")
        self._run_group = run_group
        self._max_group = max_group
        self._lock = threading.Lock()
        self._queue: list[_Slot[T, R]] = []
        self._leading = False  # a leader is running a group
        self._groups = 0
        self._items = 0

    @property
    def totals(self) -> tuple[int, int]:
        """(groups run, items they carried) since start: their ratio is the mean group
        size, which tells how much the commits are shared (for metrics)."""
        with self._lock:
            return self._groups, self._items

    @property
    def waiting(self) -> int:
        """How many submitted items wait for a group (for metrics and tests)."""
        with self._lock:
            return len(self._queue)

    def submit(self, item: T) -> R:
        """Run `item` in the next group; return its result or raise its exception."""
        slot: _Slot[T, R] = _Slot(item)
        with self._lock:
            self._queue.append(slot)
            if not self._leading:
                self._leading = slot.leads = True
        if not slot.leads:
            slot.done.wait()  # set when our group ran, or when we are to lead the next one
        if slot.leads:
            self._lead()
        outcome = slot.outcome
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome  # type: ignore[return-value]  # set by _lead for every slot

    def _lead(self) -> None:
        """Run the queue's head as one group, then hand the lead to the next in line."""
        with self._lock:
            group = self._queue[: self._max_group]
            del self._queue[: self._max_group]
            self._groups += 1
            self._items += len(group)
        try:
            outcomes: Sequence[R | BaseException] = self._run_group([s.item for s in group])
            if len(outcomes) != len(group):
                raise RuntimeError(
                    f"run_group returned {len(outcomes)} outcomes for {len(group)} items")
        except BaseException as exc:  # every caller of the group hears of it
            outcomes = [exc] * len(group)
        finally:
            with self._lock:
                if self._queue:
                    successor = self._queue[0]
                    successor.leads = True
                    successor.done.set()
                else:
                    self._leading = False
        for slot, outcome in zip(group, outcomes, strict=True):
            slot.outcome = outcome
            slot.done.set()
