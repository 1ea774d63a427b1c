"""Bundles exported from a live ledger verify offline (evidence-format §6, §7), through the
library and through the `orderledger export` / `verify` commands, on both backends."""

from __future__ import annotations

import copy
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from api.cli import main
from ledger.export import export_bundle
from ledger.service import Ledger
from ledger.verify import TrustSet, verify_bundle
from statemodel.scenarios import SCENARIOS, scenario
from tests.evidence_ledger.support import TENANT, load_order, load_orders
from tests.ledger.support import open_test_ledger

REPO = Path(__file__).resolve().parents[2]


def _trust(ledger: Ledger) -> TrustSet:
    return TrustSet.from_json(ledger.keyring.trust_set())


def test_every_reference_lifecycle_exports_a_bundle_that_verifies(ledger: Ledger) -> None:
    orders = load_orders(ledger, len(SCENARIOS))
    trust = _trust(ledger)

    for order, lifecycle in zip(orders, SCENARIOS, strict=True):
        bundle = export_bundle(ledger, TENANT, order)
        report = verify_bundle(bundle, trust=trust)

        assert report.ok, (order, [str(f) for f in report.failures])
        assert [e["statement"]["seq"] for e in bundle["entries"]] == list(
            range(len(lifecycle.steps))
        )


def test_a_bundle_holds_the_chain_as_of_its_checkpoint(ledger: Ledger) -> None:
    happy = scenario("domestic_happy_path")
    load_order(ledger, happy, "o-1", steps=3)
    first = export_bundle(ledger, TENANT, "o-1")
    load_order(ledger, scenario("domestic_happy_path"), "o-2", steps=2)

    second = export_bundle(ledger, TENANT, "o-1")

    assert len(first["entries"]) == len(second["entries"]) == 3
    assert first["checkpoint"] != second["checkpoint"]  # the log grew by o-2's records
    assert verify_bundle(second, trust=_trust(ledger)).ok


def test_an_order_with_erased_payloads_still_verifies(ledger: Ledger) -> None:
    records = load_order(ledger, scenario("domestic_happy_path"), "erased-1")
    with ledger.recorder.unit_of_work() as uow:
        erased = uow.erase_payloads([r.record_id for r in records[:4] if r.record_id])
    assert erased == 4

    bundle = export_bundle(ledger, TENANT, "erased-1")
    report = verify_bundle(bundle, trust=_trust(ledger))

    assert report.ok, [str(f) for f in report.failures]
    assert [(e["payload"], e["salt"]) for e in bundle["entries"][:4]] == [(None, None)] * 4
    assert all(e["payload"] is not None for e in bundle["entries"][4:])


# --- the CLI, as an auditor runs it ---------------------------------------------------------

def _cli(ledger: Ledger, *args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "ORDERLEDGER_DATABASE_URL": ledger.settings.database_url,
        "ORDERLEDGER_DATA_DIR": str(ledger.settings.data_dir),
        "ORDERLEDGER_LOG_ORIGIN": ledger.settings.log_origin,
    }
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *map(str, args)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False,
    )


def _tamper_payload(bundle: dict[str, Any]) -> None:
    entry = next(e for e in bundle["entries"] if e["payload"])
    entry["payload"] = {**entry["payload"], "forged": True}


def _tamper_prev(bundle: dict[str, Any]) -> None:
    bundle["entries"][2]["statement"]["prev"] = "0" * 64


def _drop_middle_entry(bundle: dict[str, Any]) -> None:
    del bundle["entries"][1]


def test_cli_export_then_verify_and_a_tampered_copy(ledger: Ledger, tmp_path: Path) -> None:
    load_order(ledger, scenario("domestic_happy_path"), "cli-1")
    bundle_file, trust_file = tmp_path / "bundle.json", tmp_path / "trust.json"

    exported = _cli(ledger, "export", "--tenant", TENANT, "--order", "cli-1", "-o", bundle_file)
    keys = _cli(ledger, "keys", "export", "-o", trust_file)
    verified = _cli(ledger, "verify", bundle_file, "--trust", trust_file)

    assert (exported.returncode, keys.returncode) == (0, 0), exported.stderr + keys.stderr
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stdout.startswith("OK: bundle of shop-1/cli-1 verifies")

    bundle = json.loads(bundle_file.read_text())
    _tamper_payload(bundle)
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(bundle))
    refused = _cli(ledger, "verify", forged, "--trust", trust_file)

    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "FAIL rule 5 [entry " in refused.stdout


# The offline verifier needs no database: the cases below run `main` in-process on one
# exported bundle (the subprocess test above shows the installed command behaves alike).

@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
             ) -> tuple[dict[str, Any], Path]:
    """A bundle and trust file exported from a SQLite ledger (the format is the same
    whichever backend stored the records)."""
    folder = tmp_path_factory.mktemp("exported")
    shutil.copyfile(sqlite_template, folder / "ledger.db")
    ledger = open_test_ledger(f"sqlite:///{folder / 'ledger.db'}", folder / "data")
    try:
        load_order(ledger, scenario("domestic_happy_path"), "cli-3")
        bundle = export_bundle(ledger, TENANT, "cli-3")
        trust = folder / "trust.json"
        trust.write_text(json.dumps(ledger.keyring.trust_set()))
    finally:
        ledger.close()
    return bundle, trust


def _run(*args: str | Path) -> tuple[int, str]:
    out = io.StringIO()
    return main([str(a) for a in args], out), out.getvalue()


@pytest.mark.parametrize(
    ("tamper", "rule"),
    [
        pytest.param(_tamper_payload, "rule 5", id="payload-changed"),
        pytest.param(_tamper_prev, "rule 3", id="statement-changed"),
        pytest.param(_drop_middle_entry, "rule 4", id="entry-removed"),
    ],
)
def test_verify_exits_1_naming_the_rule_and_entry(
    exported: tuple[dict[str, Any], Path], tmp_path: Path, tamper: Any, rule: str
) -> None:
    bundle, trust = copy.deepcopy(exported[0]), exported[1]
    tamper(bundle)
    path = tmp_path / "forged.json"
    path.write_text(json.dumps(bundle))

    code, out = _run("verify", path, "--trust", trust)

    assert code == 1, out
    assert f"FAIL {rule} [entry " in out
    assert out.endswith("rule violation(s)\n")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(None, "cannot read bundle", id="missing-file"),
        pytest.param("{ not json", "not JSON", id="not-json"),
        pytest.param("[1, 2]", "a bundle is a JSON object", id="not-an-object"),
        pytest.param('{"entries": 3}', "entries", id="entries-not-a-list"),
        pytest.param('{"a": 1, "a": 2}', "duplicate", id="duplicate-key"),
    ],
)
def test_verify_exits_2_for_unreadable_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, message: str
) -> None:
    path = tmp_path / "input.json"
    if content is not None:
        path.write_text(content)

    code, out = _run("verify", path)

    assert code == 2
    assert message in capsys.readouterr().err
    assert out == ""


@pytest.mark.parametrize(
    "trust_text",
    [
        pytest.param('{"log_key": "not a key", "keys": []}', id="bad-log-key"),
        pytest.param('{"log_key": 1}', id="no-keys"),
        pytest.param("not json", id="not-json"),
    ],
)
def test_verify_exits_2_for_a_bad_trust_file(
    exported: tuple[dict[str, Any], Path], tmp_path: Path,
    capsys: pytest.CaptureFixture[str], trust_text: str,
) -> None:
    bundle_file, trust_file = tmp_path / "bundle.json", tmp_path / "trust.json"
    bundle_file.write_text(json.dumps(exported[0]))
    trust_file.write_text(trust_text)

    code, _ = _run("verify", bundle_file, "--trust", trust_file)

    assert code == 2
    assert "trust set" in capsys.readouterr().err


def test_verify_checks_an_old_checkpoint_with_a_consistency_proof(
    exported: tuple[dict[str, Any], Path], tmp_path: Path
) -> None:
    bundle, trust = exported
    size = int(bundle["checkpoint"].split("\n")[1])
    (tmp_path / "b.json").write_text(json.dumps(bundle))
    (tmp_path / "old.cp").write_text(bundle["checkpoint"])
    (tmp_path / "ok.json").write_text(json.dumps({"old_size": size, "new_size": size,
                                                  "proof": []}))
    (tmp_path / "bad.json").write_text(json.dumps({"old_size": size - 1, "new_size": size,
                                                   "proof": []}))
    common = ("verify", tmp_path / "b.json", "--trust", trust, "--checkpoint", tmp_path / "old.cp")

    assert _run(*common, "--consistency-proof", tmp_path / "ok.json")[0] == 0
    code, out = _run(*common, "--consistency-proof", tmp_path / "bad.json")
    assert code == 1
    assert "FAIL rule 8 [bundle]" in out
