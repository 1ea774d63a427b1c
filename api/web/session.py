"""Console sessions: an API key exchanged for a server-side session, and CSRF tokens.

Decision (docs/console.md): sessions are kept by the server, not in a signed cookie. The
cookie carries only a random 256-bit session id; the database keeps the SHA-256 of it (so
a copy of the table shows no usable cookie) with the key it was opened for, its CSRF
token and its times (`ledger.store.console_sessions`). That makes sign-out final (a
copied cookie dies with the session), lets every request re-check that the API key is not
revoked, and needs no secret to manage; and since the database holds them, every worker
process of `orderledger serve --workers N` knows every session, and a restart signs
nobody out.

Time is injected (`now`), never read here: idle expiry and absolute expiry are tested by
moving a clock.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Final

from api.apikeys import parse_role
from api.auth import Principal
from ledger.store.console_sessions import ConsoleSessionStore, SessionRow
from ledger.timefmt import format_time, parse_time

SESSION_COOKIE: Final = "ol_console"
LOGIN_CSRF_COOKIE: Final = "ol_login_csrf"
CSRF_FIELD: Final = "csrf_token"
COOKIE_PATH: Final = "/console"
IDLE_TIMEOUT: Final = timedelta(minutes=30)
ABSOLUTE_TIMEOUT: Final = timedelta(hours=8)
MAX_SESSIONS: Final = 10_000


def new_secret() -> str:
    """A fresh URL-safe random token of 256 bits (session ids, CSRF tokens)."""
    return secrets.token_urlsafe(32)


def same_secret(given: str | None, expected: str) -> bool:
    """Constant-time comparison; a missing value never matches."""
    if not given:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Session:
    """One signed-in console user: the API key's principal, a CSRF token, times."""

    principal: Principal
    csrf: str
    created: datetime
    last_seen: datetime

    def expired(self, now: datetime) -> bool:
        """Idle for IDLE_TIMEOUT, or older than ABSOLUTE_TIMEOUT."""
        return now - self.last_seen >= IDLE_TIMEOUT or now - self.created >= ABSOLUTE_TIMEOUT


class SessionStore:
    """Sessions by the digest of their id, in the database; safe to share between
    request threads and processes.

    Holds at most MAX_SESSIONS: opening one more first drops expired sessions, then the
    least recently used one (a flood of sign-ins cannot fill the table). Methods raise
    StorageError when the database fails.
    """

    def __init__(self, storage: ConsoleSessionStore) -> None:
        self._storage = storage

    def open(self, principal: Principal, now: datetime) -> tuple[str, Session]:
        """A new session for `principal`; returns (session id for the cookie, session)."""
        session_id = new_secret()
        session = Session(principal=principal, csrf=new_secret(), created=now, last_seen=now)
        row = SessionRow(
            id_digest=_digest(session_id), key_id=principal.key_id, key_name=principal.name,
            role=principal.role, tenant=principal.tenant, csrf=session.csrf,
            created_at=format_time(now), last_seen=format_time(now))
        self._storage.insert(
            row, keep_at_most=MAX_SESSIONS,
            expired_before=(format_time(now - IDLE_TIMEOUT), format_time(now - ABSOLUTE_TIMEOUT)))
        return session_id, session

    def get(self, session_id: str | None, now: datetime) -> Session | None:
        """The live session of this id (its idle clock restarted), or None when there is
        none or it expired (an expired one is dropped)."""
        if not session_id:
            return None
        key = _digest(session_id)
        row = self._storage.get(key)
        if row is None:
            return None
        session = _session_of(row)
        if session.expired(now):
            self._storage.delete(key)
            return None
        if not self._storage.touch(key, format_time(now)):
            return None  # closed meanwhile (sign-out in another request)
        return replace(session, last_seen=now)

    def close(self, session_id: str | None) -> None:
        """End a session (sign-out); unknown ids are ignored."""
        if session_id:
            self._storage.delete(_digest(session_id))

    def __len__(self) -> int:
        return self._storage.count()


def _session_of(row: SessionRow) -> Session:
    principal = Principal(key_id=row.key_id, name=row.key_name, role=parse_role(row.role),
                          tenant=row.tenant)
    return Session(principal=principal, csrf=row.csrf, created=parse_time(row.created_at),
                   last_seen=parse_time(row.last_seen))
