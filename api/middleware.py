"""ASGI middleware: body size limits, JSON-only request bodies, request ids.

Kept as plain ASGI (no BaseHTTPMiddleware) so it neither buffers bodies nor hides
exceptions from the problem handlers.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Mapping
from typing import Final

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.logs import REQUEST_ID
from api.problems import BODY_TOO_LARGE, UNSUPPORTED_MEDIA_TYPE, problem_body, problem_response

MIB: Final = 1024 * 1024
DEFAULT_BODY_LIMIT: Final = 1 * MIB
BATCH_BODY_LIMIT: Final = 16 * MIB
_WITH_BODY: Final = frozenset({"POST", "PUT", "PATCH"})
_JSON_TYPE = re.compile(r"^application/([a-z0-9.+-]+\+)?json$")
#: Carrier webhooks that post forms (Kuaidi100 pushes `param` and `sign` as a form).
FORM_PATH_PREFIXES: Final = ("/v1/feeds/kuaidi100/",)
_FORM_TYPE: Final = "application/x-www-form-urlencoded"

access_log = logging.getLogger("orderledger.api.access")


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body exceeds {limit} bytes")


class RequestGuard:
    """Refuses request bodies that are too large (413) or not JSON (415; a form is
    accepted on FORM_PATH_PREFIXES).

    `limits` maps exact paths to their byte limit; others get `default_limit`. A declared
    Content-Length over the limit is refused before anything is read; a body streamed
    without one is counted as it arrives and refused once it passes the limit.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        default_limit: int = DEFAULT_BODY_LIMIT,
        limits: Mapping[str, int] | None = None,
    ) -> None:
        self.app = app
        self.default_limit = default_limit
        self.limits = dict(limits or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _WITH_BODY:
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        limit = self.limits.get(path, self.default_limit)
        headers = Headers(scope=scope)
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            body = problem_body(
                BODY_TOO_LARGE, f"the request body ({declared} bytes) exceeds {limit} bytes",
                instance=path,
            )
            await problem_response(body, {"Connection": "close"})(scope, receive, send)
            return
        media_type = headers.get("content-type", "").split(";")[0].strip().lower()
        form_allowed = media_type == _FORM_TYPE and path.startswith(FORM_PATH_PREFIXES)
        if not (_JSON_TYPE.match(media_type) or form_allowed):
            shown = media_type or "none"
            body = problem_body(
                UNSUPPORTED_MEDIA_TYPE,
                f"Content-Type must be application/json, not {shown}",
                field="Content-Type",
                instance=path,
            )
            await problem_response(body)(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # FastAPI re-raises HTTPExceptions from body reading: the problem
                    # handler answers it.
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, counting_receive, send)


class RequestIds:
    """Gives every request an id (the client's `X-Request-Id` if sane, else a new one),
    returns it in the response header, and logs one structured line per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = Headers(scope=scope).get("x-request-id", "")
        request_id = given if 0 < len(given) <= 128 and given.isprintable() else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        token = REQUEST_ID.set(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"], (b"x-request-id", request_id.encode("latin-1"))
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            REQUEST_ID.reset(token)
            access_log.info(
                "request",
                extra={
                    "request_id": request_id,
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )
