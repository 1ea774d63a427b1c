"""The app of one API worker process (`orderledger serve --workers N`, N > 1).

uvicorn starts each worker in a fresh interpreter and calls `app()` there: the worker
logs JSON like the single-process server and opens its own ledger from the environment
(the parent has already migrated the schema and created the keys, so opening is a
read). Background jobs (the SLA sweeper, the sequencer, retention) run in the parent
only, once.
"""

from __future__ import annotations

import os
from typing import Final

from fastapi import FastAPI

from api.app import create_app
from api.logs import configure_json_logs
from ledger.settings import Settings

#: How the parent tells its workers the log level it was given.
LOG_LEVEL_ENV: Final = "ORDERLEDGER_WORKER_LOG_LEVEL"


def app() -> FastAPI:
    """uvicorn's factory for one worker."""
    configure_json_logs(os.environ.get(LOG_LEVEL_ENV, "info"))
    return create_app(Settings.from_env(), freeze_startup_objects=True)
