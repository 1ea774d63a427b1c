"""`orderledger checkpoint` and `orderledger proof inclusion|consistency`, in-process."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.cli import main
from ledger.export import export_bundle
from ledger.service import Ledger
from ledger.verify import leaf_hash, verify_bundle, verify_inclusion
from statemodel.scenarios import scenario
from tests.evidence_ledger.support import TENANT, load_order, sequencer, verified_checkpoint
from tests.ledger.support import open_test_ledger

HAPPY = scenario("domestic_happy_path")


def _point_cli_at(ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> Ledger:
    """The CLI opens the same database, keys and origin as `ledger`."""
    monkeypatch.setenv("ORDERLEDGER_DATABASE_URL", ledger.settings.database_url)
    monkeypatch.setenv("ORDERLEDGER_DATA_DIR", str(ledger.settings.data_dir))
    monkeypatch.setenv("ORDERLEDGER_LOG_ORIGIN", ledger.settings.log_origin)
    return ledger


@pytest.fixture
def cli_env(ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> Ledger:
    return _point_cli_at(ledger, monkeypatch)


@pytest.fixture
def sqlite_cli_env(sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                   ) -> Iterator[Ledger]:
    """For argument checks, which happen before any backend-specific work."""
    opened = open_test_ledger(sqlite_url, tmp_path / "data")
    yield _point_cli_at(opened, monkeypatch)
    opened.close()


def _run(*args: str | Path) -> tuple[int, str]:
    out = io.StringIO()
    return main([str(a) for a in args], out), out.getvalue()


def test_checkpoint_integrates_then_prints_the_newest_or_the_one_asked(cli_env: Ledger) -> None:
    load_order(cli_env, HAPPY, "o-1", steps=3)
    sequencer(cli_env).integrate_all()
    load_order(cli_env, HAPPY, "o-2", steps=2)  # queued: the command integrates it

    code, newest = _run("checkpoint")
    old_code, old = _run("checkpoint", "--size", "3")

    assert (code, old_code) == (0, 0)
    assert verified_checkpoint(cli_env, newest).size == 5
    assert verified_checkpoint(cli_env, old).size == 3


def test_checkpoint_of_an_empty_log_exits_1(cli_env: Ledger) -> None:
    code, out = _run("checkpoint")

    assert (code, out) == (1, "no checkpoint yet: nothing has been integrated into the log\n")


def test_proof_inclusion_of_a_just_appended_record_verifies(cli_env: Ledger) -> None:
    load_order(cli_env, HAPPY, "o-1", steps=4)

    code, out = _run("proof", "inclusion", "--tenant", TENANT, "--order", "o-1", "--seq", "2")

    assert code == 0
    proof = json.loads(out)
    head = verified_checkpoint(cli_env, proof["checkpoint"])
    leaf = leaf_hash(bytes.fromhex(proof["statement_hash"]))
    assert (proof["seq"], proof["tree_size"], proof["leaf_hash"]) == (2, head.size, leaf.hex())
    verify_inclusion(proof["leaf_index"], head.size, leaf,
                     [bytes.fromhex(h) for h in proof["inclusion_proof"]], head.root)


def test_proof_consistency_file_feeds_verify(cli_env: Ledger, tmp_path: Path) -> None:
    load_order(cli_env, HAPPY, "o-1", steps=3)
    assert _run("checkpoint", "-o", tmp_path / "old.cp") == (0, "")
    load_order(cli_env, HAPPY, "o-2", steps=4)
    (tmp_path / "b.json").write_text(json.dumps(export_bundle(cli_env, TENANT, "o-2")))

    code, _ = _run("proof", "consistency", "--old", "3", "-o", tmp_path / "c.json")
    verified, out = _run("verify", tmp_path / "b.json", "--checkpoint", tmp_path / "old.cp",
                         "--consistency-proof", tmp_path / "c.json")

    assert code == 0
    assert json.loads((tmp_path / "c.json").read_text())["new_size"] == 7
    assert verified == 0, out
    assert verify_bundle(json.loads((tmp_path / "b.json").read_text())).ok


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(("proof", "inclusion", "--tenant", TENANT, "--order", "nope", "--seq", "0"),
                     "no order 'nope'", id="unknown-order"),
        pytest.param(("proof", "inclusion", "--tenant", TENANT, "--order", "o-1", "--seq", "9"),
                     "not 9", id="seq-beyond-head"),
        pytest.param(("proof", "inclusion", "--leaf-index", "0", "--seq", "0"),
                     "either --leaf-index", id="leaf-and-record"),
        pytest.param(("proof", "inclusion", "--tenant", TENANT), "go together",
                     id="record-half-given"),
        pytest.param(("proof", "consistency", "--old", "0"), "at least 1", id="old-zero"),
        pytest.param(("proof", "consistency", "--old", "2", "--new", "1"), "larger",
                     id="old-beyond-new"),
        pytest.param(("proof", "consistency", "--old", "1", "--new", "99"), "beyond",
                     id="new-beyond-log"),
        pytest.param(("checkpoint", "--size", "2"), "no checkpoint of tree size 2",
                     id="size-not-stored"),
        pytest.param(("proof", "consistency"), "required", id="old-missing"),
    ],
)
def test_bad_proof_arguments_exit_2(
    sqlite_cli_env: Ledger, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], message: str
) -> None:
    load_order(sqlite_cli_env, HAPPY, "o-1", steps=3)

    code, out = _run(*args)

    assert (code, out) == (2, "")
    assert message in capsys.readouterr().err
