"""The auditor web console: server-rendered pages under `/console` on the API's app.

`install_console(app)` adds the pages, the static files and the error pages; `create_app`
calls it. `ConsoleRequestGuard` stands in for the API's `RequestGuard`: it lets the
console's small `application/x-www-form-urlencoded` posts through (the API itself stays
JSON-only) and guards everything else exactly as `RequestGuard` does.
"""

from __future__ import annotations

from typing import Final

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.datastructures import Headers
from starlette.types import Receive, Scope, Send

from api.middleware import RequestGuard
from api.problems import BODY_TOO_LARGE, problem_body, problem_response
from api.web.pages import STATIC_DIR, TEMPLATES_DIR, Console, install_error_pages

CONSOLE_PREFIX: Final = "/console/"
#: Console forms carry an API key or a CSRF token: a few hundred bytes.
CONSOLE_FORM_LIMIT: Final = 16 * 1024
_FORM_TYPE: Final = "application/x-www-form-urlencoded"


def install_console(app: FastAPI) -> None:
    """Mount the console on `app` (its ledger and API key store come from app.state at
    request time, as the API's own routes get them)."""
    from api.web.routes import router  # the routes import reportlab: load on use only

    templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
    app.state.console = Console(templates=templates)
    app.mount("/console/static", StaticFiles(directory=str(STATIC_DIR)), name="console-static")
    app.include_router(router)
    install_error_pages(app)


class ConsoleRequestGuard(RequestGuard):
    """`RequestGuard`, except that a form post to the console is accepted when its
    declared length is at most CONSOLE_FORM_LIMIT (413 otherwise, or without a length)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" \
                and scope["path"].startswith(CONSOLE_PREFIX):
            headers = Headers(scope=scope)
            media_type = headers.get("content-type", "").split(";")[0].strip().lower()
            if media_type == _FORM_TYPE:
                declared = headers.get("content-length", "")
                if not declared.isdigit() or int(declared) > CONSOLE_FORM_LIMIT:
                    body = problem_body(
                        BODY_TOO_LARGE,
                        f"a console form must declare a length of at most "
                        f"{CONSOLE_FORM_LIMIT} bytes",
                        instance=scope["path"],
                    )
                    await problem_response(body, {"Connection": "close"})(scope, receive, send)
                    return
                await self.app(scope, receive, send)
                return
        await super().__call__(scope, receive, send)
