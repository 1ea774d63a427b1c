"""Console sessions: an API key exchanged for a server-side session, and CSRF tokens.

Decision (docs/console.md): sessions live in the server's memory, not in a signed cookie.
The cookie carries only a random 256-bit session id; the store keeps the SHA-256 of it
(so a memory dump shows no usable cookie) with the key it was opened for, its CSRF token
and its times. That makes sign-out final (a copied cookie dies with the session), lets
every request re-check that the API key is not revoked, and needs no secret to manage.
The price: a restart signs everyone out, and several worker processes would each need
the same store (`orderledger serve` runs one).

Time is injected (`now`), never read here: idle expiry and absolute expiry are tested by
moving a clock.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Final

from api.auth import Principal

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
    """Sessions by the digest of their id; safe to share between request threads.

    Holds at most MAX_SESSIONS: opening one more first drops expired sessions, then the
    least recently used one (a flood of sign-ins cannot exhaust memory).
    """

    def __init__(self) -> None:
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def open(self, principal: Principal, now: datetime) -> tuple[str, Session]:
        """A new session for `principal`; returns (session id for the cookie, session)."""
        session_id = new_secret()
        session = Session(principal=principal, csrf=new_secret(), created=now, last_seen=now)
        with self._lock:
            if len(self._sessions) >= MAX_SESSIONS:
                self._evict(now)
            self._sessions[_digest(session_id)] = session
        return session_id, session

    def get(self, session_id: str | None, now: datetime) -> Session | None:
        """The live session of this id (its idle clock restarted), or None when there is
        none or it expired (an expired one is dropped)."""
        if not session_id:
            return None
        key = _digest(session_id)
        with self._lock:
            session = self._sessions.get(key)
            if session is None:
                return None
            if session.expired(now):
                del self._sessions[key]
                return None
            session = replace(session, last_seen=now)
            self._sessions[key] = session
            return session

    def close(self, session_id: str | None) -> None:
        """End a session (sign-out); unknown ids are ignored."""
        if session_id:
            with self._lock:
                self._sessions.pop(_digest(session_id), None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._sessions)

    def _evict(self, now: datetime) -> None:
        for key in [k for k, s in self._sessions.items() if s.expired(now)]:
            del self._sessions[key]
        if len(self._sessions) >= MAX_SESSIONS:
            oldest = min(self._sessions, key=lambda k: self._sessions[k].last_seen)
            del self._sessions[oldest]
