"""CLI commands for API keys (`orderledger apikeys create|list|revoke`) and the server
(`orderledger serve`)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TextIO

from api.apikeys import IssuedKey, ensure_demo_keys, issue_key
from api.demo import TENANTS
from ledger.service import Ledger, open_ledger
from ledger.settings import Settings
from ledger.store.apikeys import api_key_store
from ledger.timefmt import format_time
from retention.scheduler import start_scheduler


def _open() -> Ledger:
    return open_ledger(Settings.from_env())


def _now(ledger: Ledger) -> str:
    return format_time(ledger.clock.now())


def apikeys_create(args: argparse.Namespace, out: TextIO) -> int:
    """Issue a key and print its token once. Bad name, role or scope: InvalidInput."""
    ledger = _open()
    try:
        issued = issue_key(
            api_key_store(ledger.recorder),
            name=args.name,
            role=args.role,
            tenant=args.tenant,
            now=_now(ledger),
        )
    finally:
        ledger.close()
    scope = issued.row.tenant or "all tenants"
    out.write(f"API key {issued.row.name!r} ({issued.row.role}, {scope}) created.\n")
    out.write("Token (shown once, store it now):\n")
    out.write(f"{issued.token}\n")
    return 0


def apikeys_list(args: argparse.Namespace, out: TextIO) -> int:
    ledger = _open()
    try:
        rows = api_key_store(ledger.recorder).list()
    finally:
        ledger.close()
    out.write(f"{'id':>4} {'name':<32} {'role':<9} {'tenant':<20} {'created_at':<25} state\n")
    for row in rows:
        state = f"revoked {row.revoked_at}" if row.revoked_at else "active"
        out.write(
            f"{row.id:>4} {row.name:<32} {row.role:<9} {row.tenant or '*':<20} "
            f"{row.created_at:<25} {state}\n"
        )
    return 0


def apikeys_revoke(args: argparse.Namespace, out: TextIO) -> int:
    """Revoke by name; unknown name: UnknownApiKey (exit 2)."""
    ledger = _open()
    try:
        row = api_key_store(ledger.recorder).revoke(args.name, _now(ledger))
    finally:
        ledger.close()
    out.write(f"API key {row.name!r} revoked at {row.revoked_at}\n")
    return 0


def format_demo_keys(issued: list[IssuedKey]) -> str:
    lines = ["demo API keys (shown once; `orderledger apikeys list` shows names only):"]
    for key in issued:
        scope = key.row.tenant or "*"
        lines.append(f"  {key.row.role:<9} {scope:<15} {key.token}")
    return "\n".join(lines) + "\n"


def serve(args: argparse.Namespace, out: TextIO) -> int:
    """Run the API with uvicorn until interrupted. On an empty key table, demo keys are
    issued and printed first. With `--workers N` (N > 1) N processes answer requests,
    each with its own ledger, since one Python process appends on one core at a time;
    background jobs run here, once."""
    import uvicorn  # imported here: every other command starts faster without it

    from api.app import create_app
    from api.logs import configure_json_logs
    from api.worker import LOG_LEVEL_ENV

    settings = Settings.from_env()
    ledger = open_ledger(settings)
    try:
        issued = ensure_demo_keys(api_key_store(ledger.recorder), TENANTS, _now(ledger))
        base = f"http://{_url_host(args.host)}:{args.port}"
        out.write(f"orderledger API on {base}\n")
        out.write(f"OpenAPI docs:   {base}/docs\n")
        out.write(f"database:       {settings.database_url}\n")
        keys_file = settings.data_dir / DEMO_KEYS_FILE
        if issued:
            text = format_demo_keys(issued)
            _write_private(keys_file, text)
            out.write(text)
            out.write(f"(also kept in {keys_file}, readable only by you)\n")
        elif keys_file.exists():
            out.write(f"demo API keys: {keys_file}\n")
        scheduler = start_scheduler(ledger)
        out.flush()
        configure_json_logs(args.log_level)
        # Our JSON logs instead of uvicorn's; our access line carries the request id.
        try:
            if args.workers == 1:
                uvicorn.run(create_app(settings, ledger=ledger, freeze_startup_objects=True),
                            host=args.host, port=args.port, log_config=None,
                            access_log=False)
            else:  # each worker process opens its own ledger (api/worker.py)
                os.environ[LOG_LEVEL_ENV] = args.log_level
                uvicorn.run("api.worker:app", factory=True, workers=args.workers,
                            host=args.host, port=args.port, log_config=None,
                            access_log=False)
        finally:
            scheduler.shutdown(wait=True)
    finally:
        ledger.close()
    return 0


DEMO_KEYS_FILE = "demo-api-keys.txt"


def _write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (created 0600, never wider)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
