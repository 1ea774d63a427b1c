"""The CLI functions of `orderledger retention …` and `orderledger hold …` (the parser
is wired in api/cli.py; here the handlers run on the test's database)."""

from __future__ import annotations

import argparse
import io
import json
from collections.abc import Callable
from typing import TextIO

import pytest

from api import commands_retention as commands
from ledger.errors import InvalidInput
from tests.ledger.support import snapshot
from tests.retention.support import TENANT, Harness


@pytest.fixture
def env(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> Harness:
    harness.feed_orders(o="happy")
    monkeypatch.setenv("ORDERLEDGER_DATABASE_URL", harness.url)
    monkeypatch.setenv("ORDERLEDGER_DATA_DIR", str(harness.data_dir))
    monkeypatch.setenv("ORDERLEDGER_LOG_ORIGIN", "test.orderledger.example/log")
    return harness


def call(handler: Callable[[argparse.Namespace, TextIO], int], **args: object) -> tuple[int, str]:
    out = io.StringIO()
    code = handler(argparse.Namespace(**args), out)
    return code, out.getvalue()


def test_dry_run_prints_what_and_why_and_changes_nothing(env: Harness) -> None:
    before = snapshot(env.url)

    code, text = call(commands.retention_run, dry_run=True, now="2031-01-01T00:00:00Z")

    assert code == 0
    assert f"erase {TENANT}/o seq 0 " in text
    assert "would erase 17 payload(s); 0 order(s) held; nothing changed" in text
    assert snapshot(env.url) == before


def test_run_then_list_and_show_the_signed_report(env: Harness) -> None:
    code, text = call(commands.retention_run, dry_run=False, now="2026-06-01T00:00:00Z")
    assert (code, text) == (0, "run 1: 0 payload(s) erased, 0 skipped; archive -\n")

    code, listing = call(commands.retention_runs)
    assert code == 0
    assert listing.splitlines()[1].split()[:2] == ["1", "finished"]

    code, shown = call(commands.retention_show, run=1)
    assert code == 0
    assert json.loads(shown)["signature_verifies"] is True
    with pytest.raises(InvalidInput):
        call(commands.retention_show, run=99)


def test_a_real_run_may_not_judge_after_the_clock(env: Harness) -> None:
    with pytest.raises(InvalidInput) as refused:
        call(commands.retention_run, dry_run=False, now="2099-01-01T00:00:00Z")
    assert refused.value.field == "--now"


def test_hold_place_list_release(env: Harness) -> None:
    code, placed = call(commands.hold_place, tenant=TENANT, order="o", reason="case 9",
                        actor="legal")
    assert (code, placed) == (0, f"hold 1 placed on {TENANT}/o; 1 legal_hold record(s)\n")
    code, listing = call(commands.hold_list, tenant=None, all=False)
    assert "case 9" in listing

    code, released = call(commands.hold_release, tenant=TENANT, order="o", reason="over",
                          actor="legal", hold=None)
    assert released == f"hold 1 released on {TENANT}/o; 1 legal_hold_release record(s)\n"
    assert env.kinds("o")[-2:] == ["legal_hold", "legal_hold_release"]
