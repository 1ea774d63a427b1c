"""The README's promises that code can check: the Quick start and the rule table."""

from __future__ import annotations

from pathlib import Path

from regulations.registry import all_packs

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_quick_start_is_exactly_make_run_and_make_test() -> None:
    block = README.split("## Quick start", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in block.strip().splitlines()]
    assert commands == ["make run", "make test"]


def test_readme_lists_every_rule_with_its_severity() -> None:
    for pack in all_packs():
        for rule in pack.rules:
            rows = [r for r in README.splitlines() if r.startswith(f"| {rule.rule_id} |")]
            assert len(rows) == 1, rule.rule_id
            assert rows[0].rstrip(" |").endswith(rule.severity.value), rule.rule_id
