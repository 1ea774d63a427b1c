"""Errors as RFC 9457 problem details (`application/problem+json`), mapped in ONE place.

Every 4xx/5xx the API sends has a body with a stable `type` URI, a `title` per type, a
`detail` naming the field or rule, the offending `field` where there is one, and the
`status`. No stack trace or driver message ever leaves the process: a 500 says only that
something failed, and the log has the rest.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.auth import AccessError, Forbidden, Unauthenticated, WrongTenant
from ledger.errors import (
    ConcurrencyConflict,
    IdempotencyConflict,
    KeyStoreError,
    OrderExists,
    StorageError,
    UnknownKey,
    UnknownOrder,
)
from ledger.store.apikeys import DuplicateKeyName, UnknownApiKey
from statemodel.errors import (
    IllegalTransition,
    InvalidInput,
    OrderledgerError,
    PayloadInvalid,
    UnknownEvent,
    UnknownState,
)

PROBLEM_MEDIA_TYPE: Final = "application/problem+json"
PROBLEM_BASE: Final = "https://orderledger.dev/problems/"

log = logging.getLogger("orderledger.api")


@dataclass(frozen=True, slots=True)
class ProblemType:
    slug: str
    status: int
    title: str

    @property
    def uri(self) -> str:
        return PROBLEM_BASE + self.slug


def _p(slug: str, status: int, title: str) -> ProblemType:
    return ProblemType(slug, status, title)


UNAUTHENTICATED = _p("unauthenticated", 401, "Missing or invalid API key")
FORBIDDEN = _p("forbidden", 403, "This API key's role may not do this")
WRONG_TENANT = _p("wrong-tenant", 403, "This API key does not act for that tenant")
UNKNOWN_ORDER = _p("unknown-order", 404, "No such order")
UNKNOWN_API_KEY = _p("unknown-api-key", 404, "No such API key")
ORDER_EXISTS = _p("order-exists", 409, "The order exists already")
ILLEGAL_TRANSITION = _p("illegal-transition", 409, "Event not allowed in the current state")
CONCURRENCY_CONFLICT = _p("concurrency-conflict", 409, "The order's chain has moved")
IDEMPOTENCY_CONFLICT = _p(
    "idempotency-conflict", 409, "Idempotency-Key reused with a different request"
)
DUPLICATE_NAME = _p("duplicate-name", 409, "The name is taken")
UNKNOWN_EVENT = _p("unknown-event", 422, "Unknown event")
UNKNOWN_STATE = _p("unknown-state", 422, "Unknown sub-state")
MISSING_FIELD = _p("missing-actionable-field", 422, "A required actionable field is missing")
PAYLOAD_INVALID = _p("payload-invalid", 422, "The payload violates the sub-state's schema")
UNKNOWN_SIGNING_KEY = _p("unknown-key", 422, "Unknown key")
INVALID_INPUT = _p("invalid-input", 422, "Invalid input")
VALIDATION = _p("validation-error", 422, "The request does not match the schema")
UNKNOWN_FIELD = _p("unknown-field", 422, "The request carries a field we do not know")
MALFORMED_JSON = _p("malformed-json", 400, "The body is not valid JSON")
BAD_REQUEST = _p("bad-request", 400, "Bad request")
NOT_FOUND = _p("not-found", 404, "No such resource")
METHOD_NOT_ALLOWED = _p("method-not-allowed", 405, "Method not allowed")
BODY_TOO_LARGE = _p("body-too-large", 413, "The request body is too large")
UNSUPPORTED_MEDIA_TYPE = _p("unsupported-media-type", 415, "Send application/json")
UNAVAILABLE = _p("service-unavailable", 503, "The ledger's database is unavailable")
INTERNAL = _p("internal-error", 500, "Internal error")

#: Exception type → problem type; the most specific class wins (walked in MRO order).
_BY_EXCEPTION: Final[dict[type[BaseException], ProblemType]] = {
    Unauthenticated: UNAUTHENTICATED,
    WrongTenant: WRONG_TENANT,
    Forbidden: FORBIDDEN,
    UnknownOrder: UNKNOWN_ORDER,
    UnknownApiKey: UNKNOWN_API_KEY,
    OrderExists: ORDER_EXISTS,
    IllegalTransition: ILLEGAL_TRANSITION,
    ConcurrencyConflict: CONCURRENCY_CONFLICT,
    IdempotencyConflict: IDEMPOTENCY_CONFLICT,
    DuplicateKeyName: DUPLICATE_NAME,
    UnknownEvent: UNKNOWN_EVENT,
    UnknownState: UNKNOWN_STATE,
    PayloadInvalid: PAYLOAD_INVALID,
    UnknownKey: UNKNOWN_SIGNING_KEY,
    InvalidInput: INVALID_INPUT,
    StorageError: UNAVAILABLE,
    KeyStoreError: INTERNAL,
}

_BY_STATUS: Final[dict[int, ProblemType]] = {
    400: BAD_REQUEST,
    404: NOT_FOUND,
    405: METHOD_NOT_ALLOWED,
    413: BODY_TOO_LARGE,
    415: UNSUPPORTED_MEDIA_TYPE,
}

_MISSING_FIELD_MESSAGE: Final = "missing required actionable field"


def problem_body(
    kind: ProblemType,
    detail: str,
    *,
    field: str | None = None,
    instance: str | None = None,
    **extensions: Any,
) -> dict[str, Any]:
    """A problem details object (RFC 9457 §3) with our `field` extension."""
    body: dict[str, Any] = {
        "type": kind.uri,
        "title": kind.title,
        "status": kind.status,
        "detail": detail,
    }
    if field is not None:
        body["field"] = field
    if instance is not None:
        body["instance"] = instance
    body.update({k: v for k, v in extensions.items() if v is not None})
    return body


def problem_response(
    body: Mapping[str, Any], headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        dict(body), status_code=int(body["status"]), media_type=PROBLEM_MEDIA_TYPE,
        headers=dict(headers or {}),
    )


def problem_for(exc: OrderledgerError, instance: str | None = None) -> dict[str, Any]:
    """The problem object for one of our errors (also used for batch items)."""
    kind = next((_BY_EXCEPTION[c] for c in type(exc).__mro__ if c in _BY_EXCEPTION), INTERNAL)
    if kind.status >= 500:
        # The detail of a server-side failure may name tables or paths: log it, say less.
        log.error("request failed: %s: %s", type(exc).__name__, exc)
        return problem_body(kind, kind.title, instance=instance)
    extensions: dict[str, Any] = {}
    if isinstance(exc, PayloadInvalid):
        if exc.errors and all(m == _MISSING_FIELD_MESSAGE for _, m in exc.errors):
            kind = MISSING_FIELD
        extensions["errors"] = [{"field": f, "message": m} for f, m in exc.errors]
    if isinstance(exc, ConcurrencyConflict):
        extensions.update(expected_seq=exc.expected_seq, actual_seq=exc.actual_seq)
    if isinstance(exc, IllegalTransition):
        extensions.update(state=exc.state, event=exc.event)
    field = exc.field if isinstance(exc, InvalidInput | AccessError) else None
    return problem_body(kind, str(exc), field=field, instance=instance, **extensions)


def _field_of(loc: Sequence[Any]) -> str | None:
    """A dotted field path from a Pydantic error location, without where it came from
    (`body`, `query`, `header`, `path`)."""
    parts = list(loc[1:]) if loc and loc[0] in ("body", "query", "header", "path") else list(loc)
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or None


def validation_problem(
    errors: Sequence[Mapping[str, Any]], instance: str | None = None
) -> dict[str, Any]:
    """The problem for Pydantic validation errors: malformed JSON is a 400, an unknown
    field a 422 `unknown-field`, anything else a 422 `validation-error`; every error is
    listed under `errors` with its field."""
    listed = [
        {"field": _field_of(e.get("loc", ())), "message": str(e.get("msg", ""))} for e in errors
    ]
    first = errors[0] if errors else {}
    field = listed[0]["field"] if listed else None
    if first.get("type") == "json_invalid":
        reason = (first.get("ctx") or {}).get("error", "invalid JSON")
        return problem_body(MALFORMED_JSON, f"malformed JSON: {reason}", instance=instance)
    kind = UNKNOWN_FIELD if first.get("type") == "extra_forbidden" else VALIDATION
    detail = f"{field}: {listed[0]['message']}" if listed and field else kind.title
    if len(listed) > 1:
        detail += f" (and {len(listed) - 1} more)"
    return problem_body(kind, detail, field=field, instance=instance, errors=listed)


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into problem+json."""

    async def on_ours(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, OrderledgerError)
        body = problem_for(exc, request.url.path)
        headers = {"WWW-Authenticate": "Bearer"} if body["status"] == 401 else None
        return problem_response(body, headers)

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return problem_response(validation_problem(exc.errors(), request.url.path))

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        kind = _BY_STATUS.get(exc.status_code) or ProblemType(
            "http-" + str(exc.status_code), exc.status_code, str(exc.detail)
        )
        detail = str(exc.detail) if exc.detail else kind.title
        return problem_response(
            problem_body(kind, detail, instance=request.url.path), exc.headers
        )

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(problem_body(INTERNAL, INTERNAL.title, instance=request.url.path))

    app.add_exception_handler(OrderledgerError, on_ours)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)
