"""The compliance report: semantic completeness and regulation findings, per tenant and
sub-state.

Semantic completeness of a status update is the share of its sub-state's actionable
fields (every property of the sub-state's payload schema, required or optional) that the
update actually carried. Required fields are enforced at append time, so a sub-state
whose updates all reach 100 % carries the optional facts too (a revised EDD, a location
code, the raw carrier message); a lower figure shows which facts sources leave out.
Erased payloads (retention) are counted apart, not as incomplete.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from ledger.statement import Kind
from ledger.store import Recorder
from statemodel.catalogue import catalogue_from_document


@dataclass
class SubStateFigures:
    updates: int = 0
    complete: int = 0  # updates that carried every actionable field
    field_share_sum: float = 0.0
    erased: int = 0
    findings: int = 0

    def to_json(self) -> dict[str, Any]:
        judged = self.updates - self.erased
        return {
            "updates": self.updates,
            "fully_complete": self.complete,
            "completeness": round(self.field_share_sum / judged, 4) if judged else None,
            "erased": self.erased,
            "findings": self.findings,
        }


@dataclass
class TenantFigures:
    orders: int = 0
    records: int = 0
    sub_states: dict[str, SubStateFigures] = field(
        default_factory=lambda: defaultdict(SubStateFigures)
    )
    findings_by_rule: Counter[str] = field(default_factory=Counter)

    def to_json(self) -> dict[str, Any]:
        return {
            "orders": self.orders,
            "records": self.records,
            "sub_states": {k: v.to_json() for k, v in sorted(self.sub_states.items())},
            "findings_by_rule": dict(sorted(self.findings_by_rule.items())),
        }


def compliance_report(
    recorder: Recorder, *, tenant: str | None = None, since: str | None = None
) -> dict[str, TenantFigures]:
    """Figures per tenant (optionally one tenant, and only records recorded at or after
    `since`, an RFC 3339 text in the canonical form)."""
    report: dict[str, TenantFigures] = defaultdict(TenantFigures)
    with recorder.unit_of_work(read_only=True) as uow:
        fields_by_model: dict[str, dict[str, frozenset[str]]] = {}
        for head in uow.iter_orders():
            if tenant is not None and head.tenant != tenant:
                continue
            chain = [
                r
                for r in uow.get_chain(head.tenant, head.order)
                if since is None or r.statement.recorded_at >= since
            ]
            if not chain:
                continue
            figures = report[head.tenant]
            figures.orders += 1
            for record in chain:
                st = record.statement
                figures.records += 1
                if st.kind is not Kind.TRANSITION:
                    continue
                actionable = _actionable_fields(uow, fields_by_model, st.model).get(
                    st.to_state, frozenset()
                )
                cell = figures.sub_states[st.to_state]
                cell.updates += 1
                if record.payload is None:
                    cell.erased += 1
                    continue
                carried = len(actionable & record.payload.keys())
                share = carried / len(actionable) if actionable else 1.0
                cell.field_share_sum += share
                cell.complete += share == 1.0
        for finding in uow.list_findings(tenant=tenant, since=since):
            figures = report[finding.tenant]
            figures.findings_by_rule[finding.rule_id] += 1
            figures.sub_states[finding.sub_state].findings += 1
    return dict(sorted(report.items()))


def _actionable_fields(
    uow: Any, cache: dict[str, dict[str, frozenset[str]]], digest: str
) -> dict[str, frozenset[str]]:
    if digest not in cache:
        document = uow.get_catalogue(digest)
        cache[digest] = (
            {}
            if document is None
            else {
                code: frozenset(sub.payload_schema.get("properties", {}))
                for code, sub in catalogue_from_document(document).sub_states.items()
            }
        )
    return cache[digest]


def render_report(report: dict[str, TenantFigures]) -> str:
    """A terminal table per tenant."""
    lines: list[str] = []
    for tenant, figures in report.items():
        lines.append(f"tenant {tenant}: {figures.orders} orders, {figures.records} records")
        lines.append(
            f"  {'sub-state':<10} {'updates':>7} {'complete':>9} {'share':>7} "
            f"{'erased':>6} {'findings':>8}"
        )
        for code, cell in sorted(figures.sub_states.items()):
            data = cell.to_json()
            share = "-" if data["completeness"] is None else f"{data['completeness']:.0%}"
            lines.append(
                f"  {code:<10} {cell.updates:>7} {cell.complete:>9} {share:>7} "
                f"{cell.erased:>6} {cell.findings:>8}"
            )
        if figures.findings_by_rule:
            lines.append("  findings by rule:")
            lines += [f"    {rule:<22} {n}" for rule, n in figures.findings_by_rule.items()]
        else:
            lines.append("  findings by rule: none")
        lines.append("")
    return "\n".join(lines) if lines else "no records\n"
