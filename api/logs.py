"""Structured logs: one JSON object per line, carrying the request id of the request
being served (set by `api.middleware.RequestIds`)."""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Final

#: The id of the request this code runs for ("" outside requests). Context variables
#: follow a request into the worker thread that runs a sync endpoint.
REQUEST_ID: ContextVar[str] = ContextVar("request_id", default="")

# Attributes every LogRecord has; anything else was passed in `extra` and is logged.
_STANDARD: Final = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime", "taskName"
}


class JsonFormatter(logging.Formatter):
    """`{"time", "level", "logger", "message", "request_id", **extra}` as one JSON line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or REQUEST_ID.get()
        if request_id:
            entry["request_id"] = request_id
        entry.update(
            {k: v for k, v in vars(record).items() if k not in _STANDARD and k != "request_id"}
        )
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_json_logs(level: str = "info") -> None:
    """Send every logger's records to stderr as JSON lines (replaces root handlers)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
