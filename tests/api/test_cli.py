"""`orderledger apikeys ...` and `orderledger serve`, and readiness without a database."""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import os
import socket
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

from api.app import create_app
from api.cli import main
from api.logs import REQUEST_ID, JsonFormatter
from ledger.store import open_recorder
from tests.api.conftest import Api
from tests.api.data import create_body
from tests.api.live import LiveServer
from tests.ledger.support import open_test_ledger


def _run(args: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    return main(args, out=out), out.getvalue()


def test_apikeys_create_list_revoke(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORDERLEDGER_DATABASE_URL", database_url)
    monkeypatch.setenv("ORDERLEDGER_DATA_DIR", str(tmp_path))
    code, out = _run(["apikeys", "create", "--name", "ops", "--role", "platform",
                      "--tenant", "shop-a"])
    assert code == 0
    token = out.strip().splitlines()[-1]
    assert token.startswith("olk_")
    code, listing = _run(["apikeys", "list"])
    assert code == 0
    assert "ops" in listing
    assert "active" in listing
    assert token not in listing
    assert _run(["apikeys", "revoke", "ops"])[0] == 0
    assert "revoked" in _run(["apikeys", "list"])[1]
    # Refusals are one line and exit 2.
    assert _run(["apikeys", "create", "--name", "p2", "--role", "platform"])[0] == 2
    assert _run(["apikeys", "revoke", "nobody"])[0] == 2
    assert _run(["apikeys", "create", "--name", "x", "--role", "root"])[0] == 2


def test_serve_prints_urls_and_demo_keys_once(tmp_path: Path) -> None:
    port = _free_port()
    process = _serve(f"sqlite:///{tmp_path / 'ol.db'}", tmp_path, port, "--log-level", "info")
    try:
        lines = _first_lines(process)
        text = "".join(lines)
        assert f"http://127.0.0.1:{port}" in text
        assert f"http://127.0.0.1:{port}/docs" in text
        keys = _demo_keys(lines)
        _, reply = _once_up(port, keys["auditor"][1])
        assert reply.status == 200
        assert reply.headers["x-request-id"]
    finally:
        process.terminate()
        process.wait(timeout=30)
        rest = process.stdout.read() if process.stdout is not None else ""
        if process.stdout is not None:
            process.stdout.close()
    access = [json.loads(line) for line in rest.splitlines() if '"orderledger.api.access"' in line]
    assert any(
        entry["path"] == "/v1/keys" and entry["status"] == 200
        and entry["request_id"] == reply.headers["x-request-id"]
        for entry in access
    ), rest


def test_a_sane_client_request_id_is_kept_and_an_insane_one_replaced(api: Api) -> None:
    kept = api.server.call("GET", "/healthz", headers={"X-Request-Id": "trace-42"})
    assert kept.headers["x-request-id"] == "trace-42"
    replaced = api.server.call("GET", "/healthz", headers={"X-Request-Id": "x" * 500})
    assert len(replaced.headers["x-request-id"]) == 32


def test_json_log_lines_carry_the_request_id() -> None:
    record = logging.LogRecord("orderledger.api", logging.ERROR, __file__, 1, "boom %s",
                               ("now",), None)
    record.detail = "d"
    token = REQUEST_ID.set("rid-1")
    try:
        entry = json.loads(JsonFormatter().format(record))
    finally:
        REQUEST_ID.reset(token)
    assert entry["message"] == "boom now"
    assert entry["request_id"] == "rid-1"
    assert entry["detail"] == "d"
    assert entry["level"] == "error"


def test_readyz_is_503_without_a_database(sqlite_url: str, tmp_path: Path) -> None:
    ledger = open_test_ledger(sqlite_url, tmp_path)
    # Nothing listens on port 1: every connection attempt is refused at once.
    unreachable = open_recorder("postgresql+psycopg://nobody@127.0.0.1:1/none")
    broken = dataclasses.replace(ledger, recorder=unreachable)
    server = LiveServer(create_app(ledger.settings, ledger=broken)).start()
    try:
        assert server.call("GET", "/healthz").status == 200
        reply = server.call("GET", "/readyz")
        assert reply.status == 503
        assert reply.media_type == "application/problem+json"
        assert reply.body["type"] == "https://orderledger.dev/problems/service-unavailable"
        assert "127.0.0.1" not in reply.body["detail"]  # no driver message leaks
    finally:
        server.stop()
        unreachable.close()
        ledger.close()


@pytest.mark.parametrize(("value", "message"), [("0", "must be at least 1, not 0"),
                                               ("two", "not an integer: 'two'")])
def test_serve_refuses_a_bad_worker_count_in_one_line(
    value: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(["serve", "--workers", value])[0] == 2
    error = capsys.readouterr().err
    assert message in error
    assert len(error.strip().splitlines()) == 1


def test_serve_with_workers_answers_from_worker_processes(
    postgres_url: str, tmp_path: Path
) -> None:
    port = _free_port()
    process = _serve(postgres_url, tmp_path, port, "--workers", "2")
    try:
        keys = _demo_keys(_first_lines(process))
        server, reply = _once_up(port, keys["auditor"][1])
        assert reply.status == 200
        assert len(_worker_processes(process.pid)) == 2
        for i in range(6):  # every worker appends to the one database
            created = server.call("POST", "/v1/orders", token=keys["platform"][1],
                                  json_body=create_body(keys["platform"][0], f"workers-{i}"))
            assert created.status == 201, created.body
        # A console session opened through one worker is known to all: every page
        # below comes on a fresh connection, answered by whichever worker accepts it.
        cookie = _console_sign_in(server, keys["auditor"][1])
        for _ in range(16):
            page = server.call("GET", "/console/orders", headers={"Cookie": cookie})
            assert page.status == 200, page.headers.get("location")
    finally:
        process.terminate()
        process.wait(timeout=60)
        if process.stdout is not None:
            process.stdout.close()


def _console_sign_in(server: LiveServer, token: str) -> str:
    """Sign in to the console with the API key `token`; the session's Cookie header."""
    form = server.call("GET", "/console/login")
    login_csrf = form.headers["set-cookie"].split(";")[0]  # ol_login_csrf=<token>
    body = urllib.parse.urlencode({"api_key": token, "next": "/console/orders",
                                   "csrf_token": login_csrf.partition("=")[2]})
    signed_in = server.call("POST", "/console/login", body=body.encode(), headers={
        "Content-Type": "application/x-www-form-urlencoded", "Cookie": login_csrf})
    assert signed_in.status == 303, signed_in.raw
    session = next(c for c in signed_in.cookies if c.startswith("ol_console="))
    return session.split(";")[0]


def _worker_processes(parent: int) -> list[int]:
    """The pids of uvicorn's spawned worker processes under `parent`."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == parent and b"spawn_main" in cmdline:
            found.append(int(stat.parent.name))
    return found


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _serve(database_url: str, tmp_path: Path, port: int, *options: str) -> subprocess.Popen[str]:
    """`orderledger serve` in a child process on `port`, stdout and stderr piped."""
    env = {**os.environ, "ORDERLEDGER_DATABASE_URL": database_url,
           "ORDERLEDGER_DATA_DIR": str(tmp_path / "data")}
    return subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--port", str(port), *options],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)


def _first_lines(process: subprocess.Popen[str]) -> list[str]:
    """What serve prints before it serves: URLs, database, the demo keys."""
    assert process.stdout is not None
    return [process.stdout.readline() for _ in range(11)]


def _demo_keys(lines: list[str]) -> dict[str, tuple[str, str]]:
    """role -> (tenant or `*`, token), from serve's demo key lines; all five roles."""
    keys = {line.split()[0]: (line.split()[1], line.split()[-1])
            for line in lines if "olk_" in line}
    assert set(keys) == {"platform", "carrier", "auditor", "legal", "admin"}, lines
    return keys


def _once_up(port: int, token: str, timeout: float = 60) -> tuple[LiveServer, Any]:
    """A client of the server on `port` and its first answer to GET /v1/keys."""
    server = LiveServer.__new__(LiveServer)
    server.port = port
    deadline = time.monotonic() + timeout
    while True:
        try:
            return server, server.call("GET", "/v1/keys", token=token)
        except ConnectionRefusedError:
            assert time.monotonic() < deadline, "serve did not start"
            time.sleep(0.1)
