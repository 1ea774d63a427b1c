"""docs/regulations.md documents every rule of every shipped pack, with its severity."""

from __future__ import annotations

from pathlib import Path

import pytest

from regulations.model import Rule
from regulations.registry import all_packs

DOC = (Path(__file__).resolve().parents[2] / "docs" / "regulations.md").read_text(encoding="utf-8")
RULES = {rule.rule_id: rule for pack in all_packs() for rule in pack.rules}


@pytest.mark.parametrize("rule", RULES.values(), ids=list(RULES))
def test_rule_row_names_citation_and_severity(rule: Rule) -> None:
    rows = [line for line in DOC.splitlines() if line.startswith(f"| {rule.rule_id} |")]
    assert len(rows) == 1, f"{rule.rule_id} needs exactly one row in docs/regulations.md"
    cells = [cell.strip() for cell in rows[0].split("|")]
    assert cells[3] == rule.severity.value
    assert rule.citation.instrument.removeprefix("orderledger ") in cells[2]
    assert f"({rule.citation.status.value}" in cells[2]


def test_every_shipped_pack_is_listed() -> None:
    for pack in all_packs():
        assert f"`{pack}`" in DOC
