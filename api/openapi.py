"""The OpenAPI document as the API really answers: every error is problem+json.

FastAPI documents its own 422 as `application/json` with its `HTTPValidationError`
shape, and error responses the routers declare without a model get no content at all.
The API answers every 4xx and 5xx with an RFC 9457 problem (`api.problems`), so the
document says exactly that: `install(app)` rewrites each error response to
`application/problem+json` with the `Problem` schema below, and drops FastAPI's
validation schemas, which nothing then refers to.
"""

from __future__ import annotations

from typing import Any, Final

from fastapi import FastAPI

from api.problems import PROBLEM_MEDIA_TYPE

PROBLEM_SCHEMA: Final[dict[str, Any]] = {
    "title": "Problem",
    "description": "RFC 9457 problem details, with the offending `field` where there is one",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "description": "https://orderledger.dev/problems/<slug>"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "field": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": ["string", "null"]},
                               "message": {"type": "string"}},
            },
        },
    },
    "additionalProperties": True,
}
_FASTAPI_VALIDATION_SCHEMAS: Final = ("HTTPValidationError", "ValidationError")


def install(app: FastAPI) -> None:
    """Make `app.openapi()` document every error response as a problem (cached as
    FastAPI caches its own document)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = with_problem_responses(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def with_problem_responses(document: dict[str, Any]) -> dict[str, Any]:
    """`document` with each 4xx/5xx response's content replaced by a Problem."""
    problem = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for item in document.get("paths", {}).values():
        for operation in item.values():
            if not isinstance(operation, dict):
                continue
            for code, response in operation.get("responses", {}).items():
                if code[:1] in ("4", "5") and isinstance(response, dict):
                    response["content"] = problem
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name in _FASTAPI_VALIDATION_SCHEMAS:
        schemas.pop(name, None)
    schemas["Problem"] = PROBLEM_SCHEMA
    return document
