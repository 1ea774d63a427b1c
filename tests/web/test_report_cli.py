"""`orderledger report`: the PDF and its bundle written together, the PDF naming the
bundle's SHA-256 and every record's sub-state in Chinese and English, the bundle
verifying offline, a tampered order reported as such."""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from api.commands_report import report
from api.demo import scenario_requests
from ledger.sequencer import sequencer_for
from statemodel.catalogue import load_catalogue
from statemodel.scenarios import scenario
from tests.ledger.support import open_test_ledger, tamper

ORDERLEDGER = Path(sys.executable).with_name("orderledger")
TENANT = "shop-r"


@pytest.fixture
def ledger_env(sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A ledger with one cross-border order, and the environment the CLI reads."""
    data = tmp_path / "data"
    ledger = open_test_ledger(sqlite_url, data)
    try:
        ledger.appender.append_many(
            scenario_requests(TENANT, scenario("cross_border_documents_missing_then_released")))
        sequencer_for(ledger).integrate_all()
    finally:
        ledger.close()
    monkeypatch.setenv("ORDERLEDGER_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("ORDERLEDGER_DATA_DIR", str(data))
    monkeypatch.setenv("ORDERLEDGER_LOG_ORIGIN", "test.orderledger.example/log")
    return sqlite_url


ORDER = "SR-CROSS-BORDER-DOCUMENTS-MISSING-THEN-RELEASED"


def _run(tmp_path: Path) -> tuple[str, str, Path]:
    out = io.StringIO()
    pdf = tmp_path / "evidence.pdf"
    args = argparse.Namespace(tenant=TENANT, order=ORDER, output=pdf, bundle=None)
    assert report(args, out) == 0
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout
    return out.getvalue(), text, pdf


def test_report_names_the_bundle_hash_and_every_sub_state(
    ledger_env: str, tmp_path: Path
) -> None:
    printed, text, pdf = _run(tmp_path)
    bundles = list(tmp_path.glob("*.bundle.json"))
    assert len(bundles) == 1
    digest = hashlib.sha256(bundles[0].read_bytes()).hexdigest()
    assert f"sha256 {digest}" in printed
    flat, dense = " ".join(text.split()), "".join(text.split())
    assert ORDER in flat
    assert digest in flat
    assert bundles[0].name in flat
    assert "VERIFIED" in flat
    assert "orderledger verify" in flat
    catalogue = load_catalogue()
    entries = json.loads(bundles[0].read_bytes())["entries"]
    codes = {entry["statement"]["to"] for entry in entries}
    assert {"M06.02", "M06.04"} <= codes  # the customs detour this scenario takes
    for code in sorted(codes):
        sub = catalogue.sub_states[code]
        assert sub.name_zh in dense, code
        assert sub.name_en in flat, code
    verified = subprocess.run([str(ORDERLEDGER), "verify", str(bundles[0])],
                              capture_output=True, text=True, check=False)
    assert verified.returncode == 0, verified.stdout
    assert pdf.read_bytes().startswith(b"%PDF-")


def test_report_of_a_tampered_order_says_it_fails(ledger_env: str, tmp_path: Path) -> None:
    tamper(ledger_env, "UPDATE records SET actor_id = 'someone-else' "
                       "WHERE tenant = :tenant AND order_id = :order AND seq = 1",
           tenant=TENANT, order=ORDER)
    printed, text, _ = _run(tmp_path)
    assert "FAILS verification" in printed
    flat = " ".join(text.split())
    assert "VERIFICATION FAILED" in flat
    assert "BadSignature" in flat
