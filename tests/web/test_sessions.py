"""Console sessions, in the database: expiry, sign-out, the cap, and sharing between the
stores of several worker processes (each opens its own), on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from api.apikeys import Role
from api.auth import Principal
from api.web import session as session_module
from api.web.session import ABSOLUTE_TIMEOUT, IDLE_TIMEOUT, Session, SessionStore
from ledger.store import Recorder
from ledger.store.console_sessions import console_session_store

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
WHO = Principal(key_id=1, name="auditor-a", role=Role.AUDITOR, tenant="shop-a")


def _store(recorder: Recorder) -> SessionStore:
    return SessionStore(console_session_store(recorder))


@pytest.mark.parametrize(
    ("name", "steps", "alive"),
    [
        ("fresh", [timedelta(0)], True),
        ("idle just under the limit", [IDLE_TIMEOUT - timedelta(seconds=1)], True),
        ("idle at the limit", [IDLE_TIMEOUT], False),
        ("kept alive by use", [IDLE_TIMEOUT * 0.9] * 5, True),
        ("absolute limit despite use", [IDLE_TIMEOUT * 0.9] * 20, False),
    ],
)
def test_session_expiry(recorder: Recorder, name: str, steps: list[timedelta],
                        alive: bool) -> None:
    store = _store(recorder)
    session_id, opened = store.open(WHO, T0)
    now = T0
    found: Session | None = opened
    for step in steps:
        now += step
        got = store.get(session_id, now)
        if got is None:
            found = None
            break
        found = got
    assert (found is not None) is alive, name
    if alive:
        assert found == Session(WHO, opened.csrf, T0, now)
    else:
        assert len(store) == 0  # an expired session is dropped when met
    assert IDLE_TIMEOUT * 0.9 * 20 >= ABSOLUTE_TIMEOUT


def test_sessions_end_at_sign_out_and_ids_are_not_stored(recorder: Recorder) -> None:
    store = _store(recorder)
    session_id, session = store.open(WHO, T0)
    assert store.get(session_id, T0) == session
    rows = console_session_store(recorder).all()
    assert len(rows) == 1
    assert session_id not in repr(rows)  # only its digest is kept
    assert store.get("guess", T0) is None
    assert store.get(None, T0) is None
    store.close(session_id)
    assert store.get(session_id, T0) is None
    assert console_session_store(recorder).all() == []


def test_worker_processes_share_sessions(recorder: Recorder) -> None:
    """Each worker of `serve --workers N` has its own store on the one database: a
    session opened through one is known to, kept alive by and closed for all."""
    first, second = _store(recorder), _store(recorder)
    session_id, session = first.open(WHO, T0)
    later = T0 + IDLE_TIMEOUT * 0.9
    assert second.get(session_id, later) == Session(WHO, session.csrf, T0, later)
    # kept alive by the second worker's request: still live for the first
    assert first.get(session_id, later + IDLE_TIMEOUT * 0.9) is not None
    second.close(session_id)
    assert first.get(session_id, later + IDLE_TIMEOUT * 0.9) is None


def test_opening_past_the_cap_drops_expired_then_least_recently_used(
    recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(session_module, "MAX_SESSIONS", 3)
    store = _store(recorder)
    stale, _ = store.open(WHO, T0)
    old, _ = store.open(WHO, T0 + IDLE_TIMEOUT * 0.5)
    used, _ = store.open(WHO, T0 + IDLE_TIMEOUT * 0.6)
    now = T0 + IDLE_TIMEOUT * 1.1  # `stale` has expired, the others have not
    assert store.get(used, now) is not None
    newest, _ = store.open(WHO, now)
    assert len(store) == 3  # only the expired one had to go
    assert store.get(stale, now) is None
    fresh, _ = store.open(WHO, now + timedelta(seconds=1))
    assert len(store) == 3  # the cap: the least recently used one (`old`) went
    assert store.get(old, now) is None
    assert all(store.get(s, now + timedelta(seconds=2)) is not None
               for s in (used, newest, fresh))
