"""What every console page needs: the signed-in user, CSRF checks, HTML error pages,
template rendering and the response headers of a page.

Errors inside the console are pages, not problem+json: `PageError` renders
`error.html` with its status, `LoginRequired` redirects to the sign-in form.
"""

from __future__ import annotations

import contextlib
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from api.apikeys import parse_role
from api.auth import Principal
from api.web.session import (
    COOKIE_PATH,
    CSRF_FIELD,
    SESSION_COOKIE,
    Session,
    SessionStore,
    same_secret,
)
from ledger.service import Ledger
from ledger.store.apikeys import ApiKeyStore

TEMPLATES_DIR: Final = Path(__file__).parent / "templates"
STATIC_DIR: Final = Path(__file__).parent / "static"
HOME: Final = "/console/orders"

#: No script or style from anywhere but this server; no framing; no referrer leaks.
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; script-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


class PageError(Exception):
    """Answer with the error page: `status`, a short title and a sentence for the user."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail


class LoginRequired(Exception):
    """No live session: redirect to the sign-in form, then back to `next_url`."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


@dataclass(frozen=True, slots=True)
class Console:
    """The console's state on the app: its templates (its sessions are in the database,
    `sessions_of`)."""

    templates: Jinja2Templates


def console_of(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


def sessions_of(request: Request) -> SessionStore:
    """The console sessions, on the ledger's database (set up with the app's ledger)."""
    sessions: SessionStore = request.app.state.console_sessions
    return sessions


def ledger_of(request: Request) -> Ledger:
    ledger: Ledger = request.app.state.ledger
    return ledger


def safe_next(value: str | None) -> str:
    """A redirect target inside the console, never elsewhere (no open redirect)."""
    if value and value.startswith("/console/") and not value.startswith("//") \
            and "\\" not in value and "://" not in value:
        return value
    return HOME


def is_tls(request: Request) -> bool:
    return request.url.scheme == "https"


def current_session(request: Request) -> Session:
    """The live session of the request's cookie whose API key is still in force.

    Raises LoginRequired otherwise (no cookie, unknown or expired session, key revoked
    or deleted since sign-in; such a session is closed).
    """
    ledger = ledger_of(request)
    session_id = request.cookies.get(SESSION_COOKIE)
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    session = sessions_of(request).get(session_id, ledger.clock.now())
    if session is None:
        raise LoginRequired(here)
    store: ApiKeyStore = request.app.state.api_keys
    row = store.find_by_name(session.principal.name)
    if row is None or row.id != session.principal.key_id or row.revoked_at is not None:
        sessions_of(request).close(session_id)
        raise LoginRequired(here)
    return session


def principal_of(row_id: int, name: str, role: str, tenant: str | None) -> Principal:
    return Principal(key_id=row_id, name=name, role=parse_role(role), tenant=tenant)


async def require_csrf(request: Request, expected: str | None) -> dict[str, str]:
    """The posted form, once its CSRF field matches `expected`. Raises PageError 403
    when the token is missing or wrong (or there is nothing to match it against)."""
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    if expected is None or not same_secret(fields.get(CSRF_FIELD), expected):
        raise PageError(403, "Request refused",
                        "The form was sent without a valid CSRF token. Reload the page and "
                        "try again; if this keeps happening, sign in again.")
    return fields


def render(request: Request, template: str, context: dict[str, Any], *,
           status: int = 200, session: Session | None = None) -> HTMLResponse:
    """A console page with its security headers."""
    console = console_of(request)
    page = {"session": session, "csrf_field": CSRF_FIELD, **context}
    response = console.templates.TemplateResponse(request, template, page, status_code=status)
    response.headers.update(SECURITY_HEADERS)
    return response


def attachment(data: bytes, media_type: str, filename: str,
               extra: dict[str, str] | None = None) -> Response:
    quoted = urllib.parse.quote(filename)
    headers = {
        **SECURITY_HEADERS,
        "Content-Disposition": f"attachment; filename=\"{filename}\"; filename*=UTF-8''{quoted}",
        **(extra or {}),
    }
    return Response(data, media_type=media_type, headers=headers)


def install_error_pages(app: FastAPI) -> None:
    async def on_page_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PageError)
        session = None
        with contextlib.suppress(LoginRequired):
            session = current_session(request)
        return render(request, "error.html",
                      {"status": exc.status, "title": exc.title, "detail": exc.detail},
                      status=exc.status, session=session)

    async def on_login_required(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LoginRequired)
        target = "/console/login?" + urllib.parse.urlencode({"next": safe_next(exc.next_url)})
        response = RedirectResponse(target, status_code=303)
        response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH)
        return response

    app.add_exception_handler(PageError, on_page_error)
    app.add_exception_handler(LoginRequired, on_login_required)
