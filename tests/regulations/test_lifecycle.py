"""The lawful lifecycle the rule tests bend: valid for the catalogue, clean for the pack.

If the catalogue renames a field, this fails first, before the rule tests start to
pass for the wrong reason.
"""

from __future__ import annotations

import pytest

from regulations.facts import OrderFacts
from regulations.proposal import Proposal
from regulations.registry import get_pack
from statemodel.machine import get_machine
from tests.regulations.lifecycle import catalogue, happy_run

RUN = happy_run()


@pytest.mark.parametrize(("proposal", "facts"), RUN, ids=[p.to_state for p, _ in RUN])
def test_every_step_is_valid_and_draws_no_finding(proposal: Proposal, facts: OrderFacts) -> None:
    get_machine(catalogue()).validate_payload(proposal.to_state, dict(proposal.payload))
    verdict = get_pack("cn-fulfilment-2026@1.0.0").evaluate(proposal, facts)
    assert verdict.blocks == []
    assert verdict.flags == []


def test_regulations_imports_nothing_above_statemodel() -> None:
    import ast
    from pathlib import Path

    import regulations

    root = Path(regulations.__file__).parent
    for module in root.glob("*.py"):
        tree = ast.parse(module.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                top = name.split(".")[0]
                assert top not in {"ledger", "retention", "api"}, f"{module.name} imports {name}"
