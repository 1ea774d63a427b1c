"""Renderings of the catalogue, and the committed docs/state-model.md being current."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from statemodel.catalogue import load_catalogue
from statemodel.render import (
    DOC_COMMAND,
    display_width,
    render_mermaid,
    render_state_model_doc,
    render_table,
)

REPO = Path(__file__).resolve().parents[2]
STATE_MODEL_DOC = REPO / "docs" / "state-model.md"
CAT = load_catalogue()


@pytest.mark.parametrize(("text", "width"), [("abc", 3), ("待支付", 6), ("M01 下单支付", 12),
                                             ("（白云）", 8), ("", 0)])
def test_display_width(text: str, width: int) -> None:
    assert display_width(text) == width


def test_table_columns_line_up_despite_wide_characters() -> None:
    lines = render_table(CAT).splitlines()
    rows = [line for line in lines if re.search(r"\bM\d\d\.\d\d\b", line)]
    assert len(rows) == 41
    code_columns = {display_width(row[: row.index(re.findall(r"M\d\d\.\d\d", row)[0])])
                    for row in rows}
    english_columns = {display_width(row[: row.index(CAT.sub_states[code].name_en)])
                       for row in rows for code in re.findall(r"M\d\d\.\d\d", row)[:1]}
    assert len(code_columns) == 1
    assert len(english_columns) == 1
    assert any("M09 异常" in row and "M09.01" in row for row in rows)
    assert CAT.digest in lines[1]


def test_mermaid_diagram() -> None:
    diagram = render_mermaid(CAT)
    assert diagram.startswith("stateDiagram-v2\n")
    assert 'state "M01 下单支付 / Order & payment" as M01 {' in diagram
    assert 'state "M09.02 设备/运力故障滞留 / Facility / equipment fault" as M09_02' in diagram
    assert "[*] --> M01_01 : order_placed" in diagram
    assert "M12_03 --> [*]" in diagram
    edges = re.findall(r"^\s*(\S+) --> (\S+) : (\w+)$", diagram, flags=re.MULTILINE)
    expected = {(s.replace(".", "_"), t.replace(".", "_"), e) for e, s, t in CAT.edges()}
    expected |= {("[*]", c.to.replace(".", "_"), c.event) for c in CAT.creations}
    assert set(edges) == expected
    assert len(edges) == len(expected)
    assert not any("." in source + target for source, target, _ in edges)


def test_doc_has_the_required_parts() -> None:
    doc = render_state_model_doc(CAT)
    assert DOC_COMMAND in doc
    assert "make docs" in doc
    assert "Do not edit by hand" in doc
    assert CAT.digest in doc
    assert CAT.version in doc
    assert "```mermaid\nstateDiagram-v2\n" in doc
    for heading in ("## Main states", "## Sub-states", "## Transitions"):
        assert heading in doc
    assert "| M06.02 | 待补资料/待缴税 |" in doc
    assert "`payload.expected_recovery_at + 2h`" in doc
    assert "`*` (every non-final sub-state)" in doc


def test_committed_state_model_doc_is_current() -> None:
    fresh = render_state_model_doc(CAT)
    committed = STATE_MODEL_DOC.read_text(encoding="utf-8") if STATE_MODEL_DOC.exists() else ""
    assert committed == fresh, (
        f"docs/state-model.md is out of date with the catalogue; regenerate it with "
        f"`{DOC_COMMAND}` (or `make docs`) and commit the result"
    )
