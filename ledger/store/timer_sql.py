"""SQL for SLA timers and the alert outbox, mixed into the shared unit of work.

Timers are rows, indexed by (state, deadline): a sweep reads the due ones in deadline
order, and closing a timer is a conditional UPDATE (`WHERE state = 'armed'`), so two
sweepers can never both fire one timer.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Final

from sqlalchemy import (
    Connection,
    RowMapping,
    Select,
    bindparam,
    insert,
    literal_column,
    null,
    select,
    update,
)

from ledger.store.rows import AlertRow, TimerDisarm, TimerRow
from ledger.store.tables import ALERT_OUTBOX, TIMERS

_T = TIMERS.c
_A = ALERT_OUTBOX.c
#: `state = 'armed'` as SQL text, not a bound value: both databases use a partial index
#: (`WHERE state = 'armed'`, migration 0008) only for a query that says so literally.
IS_ARMED: Final = _T.state == literal_column("'armed'")

# Built once: the sweep closes timers one by one, and building a statement per call
# costs more than running it.
_CLOSE = (
    update(TIMERS)
    .where((_T.id == bindparam("timer_id")) & IS_ARMED)
    .values(
        state=bindparam("new_state"),
        closed_at=bindparam("at"),
        closed_by_seq=bindparam("by_seq"),
        next_warn_at=None,
    )
)
_INSERT_TIMER = insert(TIMERS)
# The constants are SQL literals, not bound values, so that the statement compiles to text
# whose only parameters are the five of DISARM_PARAMS (the PostgreSQL pipeline runs it so).
DISARM_ONE = (
    update(TIMERS)
    .where(
        (_T.tenant == bindparam("b_tenant"))
        & (_T.order_id == bindparam("b_order"))
        & IS_ARMED
        & (_T.name == bindparam("b_name"))
    )
    .values(
        state=literal_column("'disarmed'"),
        closed_at=bindparam("at"),
        closed_by_seq=bindparam("by_seq"),
        next_warn_at=null(),
    )
)
_INSERT_ALERT = insert(ALERT_OUTBOX)


def due_query(moment: Any, now: str, limit: int) -> Select[Any]:
    """The first `limit` armed timers whose `moment` column (deadline or next warning) is
    at or before `now`, earliest first."""
    return select(TIMERS).where(IS_ARMED & (moment <= now)).order_by(moment, _T.id).limit(limit)


class TimerSql:
    """Timer and outbox methods of `UnitOfWork` for SQLAlchemy connections."""

    _conn: Connection

    def arm_timers(self, timers: Sequence[TimerRow]) -> None:
        if timers:
            self._conn.execute(_INSERT_TIMER, [timer_params(t) for t in timers])

    def disarm_timers_many(self, disarms: Sequence[TimerDisarm]) -> None:
        if disarms:
            self._conn.execute(
                DISARM_ONE,
                [disarm_params(d) for d in disarms],
            )

    def close_timer(self, timer_id: int, *, state: str, at: str, by_seq: int | None) -> bool:
        result = self._conn.execute(
            _CLOSE, {"timer_id": timer_id, "new_state": state, "at": at, "by_seq": by_seq}
        )
        return int(result.rowcount) == 1

    def due_timers(self, now: str, limit: int) -> list[TimerRow]:
        rows = self._conn.execute(due_query(_T.deadline, now, limit)).mappings()
        return [_timer_of(r) for r in rows]

    def due_warnings(self, now: str, limit: int) -> list[TimerRow]:
        rows = self._conn.execute(due_query(_T.next_warn_at, now, limit)).mappings()
        return [_timer_of(r) for r in rows]

    def advance_warning(self, timer_id: int, next_warn_at: str | None) -> None:
        self._conn.execute(
            update(TIMERS)
            .where((_T.id == timer_id) & IS_ARMED)
            .values(next_warn_at=next_warn_at)
        )

    def list_timers(
        self,
        *,
        tenant: str | None = None,
        order: str | None = None,
        state: str | None = None,
        deadline_before: str | None = None,
        limit: int = 1000,
    ) -> list[TimerRow]:
        query = select(TIMERS).order_by(_T.deadline, _T.id).limit(limit)
        if tenant is not None:
            query = query.where(_T.tenant == tenant)
        if order is not None:
            query = query.where(_T.order_id == order)
        if state is not None:
            query = query.where(_T.state == state)
        if deadline_before is not None:
            query = query.where(_T.deadline <= deadline_before)
        return [_timer_of(r) for r in self._conn.execute(query).mappings()]

    def add_alerts(self, alerts: Sequence[AlertRow]) -> None:
        if alerts:
            self._conn.execute(
                _INSERT_ALERT,
                [
                    {
                        "tenant": a.tenant,
                        "kind": a.kind,
                        "created_at": a.created_at,
                        "body": json.dumps(a.body, ensure_ascii=False, sort_keys=True),
                    }
                    for a in alerts
                ],
            )

    def alerts_after(
        self, after_id: int, limit: int, *, tenant: str | None = None
    ) -> list[AlertRow]:
        query = select(ALERT_OUTBOX).where(_A.id > after_id).order_by(_A.id).limit(limit)
        if tenant is not None:
            query = query.where(_A.tenant == tenant)
        return [
            AlertRow(
                tenant=r["tenant"],
                kind=r["kind"],
                body=json.loads(r["body"]),
                created_at=r["created_at"],
                id=r["id"],
            )
            for r in self._conn.execute(query).mappings()
        ]


#: The parameters of DISARM_ONE that each call supplies, in TimerDisarm's order.
DISARM_PARAMS: Final = ("b_tenant", "b_order", "b_name", "at", "by_seq")


def disarm_params(disarm: TimerDisarm) -> dict[str, Any]:
    """Parameters of DISARM_ONE."""
    return dict(zip(DISARM_PARAMS, disarm, strict=True))


#: The columns `timer_row` fills, in the table's order: every one but the id.
TIMER_ROW_COLUMNS: Final = ("tenant", "order_id", "name", "sub_state", "armed_seq", "deadline",
                            "warn_at", "next_warn_at", "state", "created_at", "closed_at",
                            "closed_by_seq")


def timer_row(t: TimerRow) -> tuple[Any, ...]:
    """The timer's values in TIMER_ROW_COLUMNS order (a COPY row)."""
    warn_at = json.dumps(list(t.warn_at)) if t.warn_at else "[]"
    return (t.tenant, t.order, t.name, t.sub_state, t.armed_seq, t.deadline, warn_at,
            t.next_warn_at, t.state, t.created_at, t.closed_at, t.closed_by_seq)


def timer_params(t: TimerRow) -> dict[str, Any]:
    """The timer's values by column name (an INSERT's parameters)."""
    return dict(zip(TIMER_ROW_COLUMNS, timer_row(t), strict=True))


def _timer_of(r: RowMapping) -> TimerRow:
    return TimerRow(
        id=r["id"],
        tenant=r["tenant"],
        order=r["order_id"],
        name=r["name"],
        sub_state=r["sub_state"],
        armed_seq=r["armed_seq"],
        deadline=r["deadline"],
        warn_at=tuple(json.loads(r["warn_at"])),
        next_warn_at=r["next_warn_at"],
        state=r["state"],
        created_at=r["created_at"],
        closed_at=r["closed_at"],
        closed_by_seq=r["closed_by_seq"],
    )
