"""`orderledger model|registry|rules` — the catalogue commands need no database."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from api.cli import main
from statemodel.catalogue import load_catalogue
from statemodel.registry import import_csv, import_json, load_registry

REPO = Path(__file__).resolve().parents[2]


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(argv), out), out.getvalue()


def test_model_show_lists_every_main_and_sub_state() -> None:
    code, text = run("model", "show")
    assert code == 0
    cat = load_catalogue()
    assert cat.digest in text
    for sub in cat.sub_states.values():
        assert sub.code in text
        assert sub.name_zh in text
        assert sub.name_en in text


def test_model_export_prints_the_catalogue_with_its_reproducible_digest(tmp_path: Path) -> None:
    target = tmp_path / "catalogue.json"
    assert run("model", "export", "-o", str(target))[0] == 0
    exported = json.loads(target.read_text(encoding="utf-8"))
    assert exported["digest"] == load_catalogue().digest
    # Another process (another hash seed) prints the same digest.
    other = subprocess.run(
        [sys.executable, "-m", "api.cli", "model", "export"], capture_output=True, text=True,
        check=True, cwd=REPO, env={"PYTHONHASHSEED": "12345", "PATH": "/usr/bin:/bin"},
    )
    assert json.loads(other.stdout)["digest"] == exported["digest"]


def test_model_diagram_is_mermaid_with_composite_main_states() -> None:
    code, text = run("model", "diagram")
    assert code == 0
    assert text.startswith("stateDiagram-v2")
    for main_state in load_catalogue().main_states:
        assert f'as {main_state} {{' in text


def test_model_doc_reproduces_the_committed_state_model_doc() -> None:
    code, text = run("model", "doc")
    assert code == 0
    assert text == (REPO / "docs" / "state-model.md").read_text(encoding="utf-8"), (
        "docs/state-model.md is stale: run `orderledger model doc -o docs/state-model.md`")


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_registry_export_round_trips(fmt: str) -> None:
    code, text = run("registry", "export", "--format", fmt)
    assert code == 0
    imported = import_json(text) if fmt == "json" else import_csv(text)
    assert imported == load_registry()


def test_rules_show_lists_every_rule_with_citation_and_severity() -> None:
    code, text = run("rules", "show")
    assert code == 0
    assert "cn-fulfilment-2026@1.0.0" in text
    assert "CN-PII-001" in text
    assert "block" in text
    assert "flag" in text


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["model"], "required"),
        (["model", "paint"], "invalid choice: 'paint'"),
        (["registry", "export", "--format", "xml"], "invalid choice: 'xml'"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["verify"], "required: bundle"),
    ],
)
def test_bad_arguments_give_one_line_and_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = run(*argv)
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1
