"""The compliance report: semantic completeness, regulation findings and SLA on-time
rates, per tenant, sub-state and carrier.

Semantic completeness of a status update is the share of its sub-state's actionable
fields (every property of the sub-state's payload schema, required or optional) that the
update actually carried. Required fields are enforced at append time, so a sub-state
whose updates all reach 100 % carries the optional facts too (a revised EDD, a location
code, the raw carrier message); a lower figure shows which facts sources leave out.
Erased payloads (retention) are counted apart, not as incomplete.

An SLA timer is met when it was disarmed (its sub-state left, or its awaited event came)
and breached when it fired; armed timers are not counted yet. A timer's carrier is the
last `carrier_code` the order's records carried.
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
class OnTime:
    """SLA timers that closed: disarmed in time (met) or fired (breached)."""

    met: int = 0
    breached: int = 0

    def to_json(self) -> dict[str, Any]:
        closed = self.met + self.breached
        rate = round(self.met / closed, 4) if closed else None
        return {"met": self.met, "breached": self.breached, "on_time_rate": rate}


@dataclass
class TenantFigures:
    orders: int = 0
    records: int = 0
    sub_states: dict[str, SubStateFigures] = field(
        default_factory=lambda: defaultdict(SubStateFigures)
    )
    findings_by_rule: Counter[str] = field(default_factory=Counter)
    on_time_by_sub_state: dict[str, OnTime] = field(default_factory=lambda: defaultdict(OnTime))
    on_time_by_carrier: dict[str, OnTime] = field(default_factory=lambda: defaultdict(OnTime))

    def to_json(self) -> dict[str, Any]:
        return {
            "orders": self.orders,
            "records": self.records,
            "sub_states": {k: v.to_json() for k, v in sorted(self.sub_states.items())},
            "findings_by_rule": dict(sorted(self.findings_by_rule.items())),
            "sla_on_time_by_sub_state": {
                k: v.to_json() for k, v in sorted(self.on_time_by_sub_state.items())
            },
            "sla_on_time_by_carrier": {
                k: v.to_json() for k, v in sorted(self.on_time_by_carrier.items())
            },
        }


def compliance_report(
    recorder: Recorder, *, tenant: str | None = None, since: str | None = None
) -> dict[str, TenantFigures]:
    """Figures per tenant (optionally one tenant, and only records recorded at or after
    `since`, an RFC 3339 text in the canonical form)."""
    report: dict[str, TenantFigures] = defaultdict(TenantFigures)
    carriers: dict[tuple[str, str], str] = {}
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
                carrier = record.payload.get("carrier_code")
                if isinstance(carrier, str):
                    carriers[(head.tenant, head.order)] = carrier
                carried = len(actionable & record.payload.keys())
                share = carried / len(actionable) if actionable else 1.0
                cell.field_share_sum += share
                cell.complete += share == 1.0
        for state in ("disarmed", "fired"):
            for timer in uow.list_timers(tenant=tenant, state=state, limit=10_000_000):
                if since is not None and (timer.closed_at or "") < since:
                    continue
                figures = report[timer.tenant]
                carrier = carriers.get((timer.tenant, timer.order), "(no carrier)")
                for tally in (
                    figures.on_time_by_sub_state[timer.sub_state],
                    figures.on_time_by_carrier[carrier],
                ):
                    if state == "fired":
                        tally.breached += 1
                    else:
                        tally.met += 1
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
        if figures.on_time_by_carrier:
            lines.append("  SLA on time by carrier:")
            for carrier, tally in sorted(figures.on_time_by_carrier.items()):
                rate = tally.to_json()["on_time_rate"]
                shown = "-" if rate is None else f"{rate:.0%}"
                lines.append(
                    f"    {carrier:<22} {shown:>5}  ({tally.met} met, {tally.breached} breached)"
                )
        if figures.findings_by_rule:
            lines.append("  findings by rule:")
            lines += [f"    {rule:<22} {n}" for rule, n in figures.findings_by_rule.items()]
        else:
            lines.append("  findings by rule: none")
        lines.append("")
    return "\n".join(lines) if lines else "no records\n"
