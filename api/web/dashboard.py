"""The dashboard's figures: SLA on-time rates by carrier and sub-state, semantic
completeness and findings by rule per tenant (`ledger.compliance`), and log health
(tree size, age of the latest checkpoint, records waiting for the sequencer)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from api.web import queries
from api.web.charts import Bar, bar_chart, rate_tone
from ledger.compliance import OnTime, compliance_report
from ledger.service import Ledger
from ledger.timefmt import parse_time
from statemodel.catalogue import Catalogue


@dataclass(frozen=True, slots=True)
class LogHealth:
    tree_size: int
    checkpoint_size: int | None
    checkpoint_at: str | None
    checkpoint_age: str | None
    queued: int

    @property
    def lagging(self) -> int:
        """Leaves not yet under a checkpoint plus records not yet leaves."""
        return (self.tree_size - (self.checkpoint_size or 0)) + self.queued


@dataclass(frozen=True, slots=True)
class Chart:
    heading: str
    svg: str
    note: str = ""


#: Charts by sub-state show the worst rows first, at most this many.
MAX_ROWS = 14


def _worst_first(bars: list[Bar]) -> tuple[list[Bar], str]:
    """The MAX_ROWS lowest bars, and a note on what was left out."""
    ranked = sorted(bars, key=lambda b: (b.value, b.label))
    shown, rest = ranked[:MAX_ROWS], ranked[MAX_ROWS:]
    if not rest:
        return shown, ""
    return shown, (f"worst {len(shown)} of {len(ranked)} shown; the other {len(rest)} are at "
                   f"{min(b.value for b in rest):.0%} or better")


@dataclass(frozen=True, slots=True)
class TenantPanel:
    tenant: str
    orders: int
    records: int
    breaches: int
    findings: int
    charts: tuple[Chart, ...]


def age_text(seconds: float) -> str:
    """A short human duration: "42 s", "7 min", "3 h 5 min", "2 d 4 h"."""
    s = int(max(0.0, seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min"
    if s < 86400:
        return f"{s // 3600} h {s % 3600 // 60} min"
    return f"{s // 86400} d {s % 86400 // 3600} h"


def log_health(ledger: Ledger, now: datetime) -> LogHealth:
    with ledger.recorder.unit_of_work(read_only=True) as uow:
        size = uow.log_size()
        latest = uow.latest_checkpoint()
    queued = queries.queued_records(ledger)
    if latest is None:
        return LogHealth(size, None, None, None, queued)
    age = (now - parse_time(latest.created_at)).total_seconds()
    return LogHealth(size, latest.size, latest.created_at, age_text(age), queued)


def _rate_bar(label: str, tally: OnTime, lang: str | None = None) -> Bar:
    data = tally.to_json()
    rate = data["on_time_rate"]
    shown = "–" if rate is None else f"{rate:.0%}"
    return Bar(label, rate or 0.0, f"{shown} ({tally.met} met, {tally.breached} breached)",
               rate_tone(rate), lang)


def _state_name(catalogue: Catalogue, code: str) -> str:
    sub = catalogue.sub_states.get(code)
    return f"{code} {sub.name_zh}" if sub else code


def tenant_panels(ledger: Ledger, scope: str | None, catalogue: Catalogue) -> list[TenantPanel]:
    """One panel per tenant within `scope` (None: every tenant), with its charts."""
    panels = []
    for tenant, figures in compliance_report(ledger.recorder, tenant=scope).items():
        carriers = [_rate_bar(name, tally) for name, tally in
                    sorted(figures.on_time_by_carrier.items())]
        sub_rates = [_rate_bar(_state_name(catalogue, code), tally, "zh-CN") for code, tally in
                     sorted(figures.on_time_by_sub_state.items())]
        breaches = [Bar(_state_name(catalogue, code), tally.breached, f"{tally.breached}",
                        "bad" if tally.breached else "good", "zh-CN")
                    for code, tally in sorted(figures.on_time_by_sub_state.items())
                    if tally.breached]
        completeness = []
        for code, cell in sorted(figures.sub_states.items()):
            share = cell.to_json()["completeness"]
            if share is None:
                continue
            completeness.append(Bar(_state_name(catalogue, code), share,
                                    f"{share:.0%} of {cell.updates} update(s)",
                                    rate_tone(share), "zh-CN"))
        findings = [Bar(rule, n, str(n), "warn") for rule, n in
                    sorted(figures.findings_by_rule.items())]
        sub_rates, rates_note = _worst_first(sub_rates)
        completeness, complete_note = _worst_first(completeness)
        charts = (
            Chart("SLA on-time rate by carrier", bar_chart(
                f"{tenant}: SLA on-time rate by carrier", carriers, maximum=1.0)),
            Chart("SLA on-time rate by sub-state", bar_chart(
                f"{tenant}: SLA on-time rate by sub-state", sub_rates, maximum=1.0), rates_note),
            Chart("SLA breaches by sub-state", bar_chart(
                f"{tenant}: SLA breaches by sub-state", breaches)),
            Chart("Semantic completeness by sub-state", bar_chart(
                f"{tenant}: semantic completeness by sub-state", completeness, maximum=1.0),
                  complete_note),
            Chart("Regulation findings by rule", bar_chart(
                f"{tenant}: regulation findings by rule", findings)),
        )
        panels.append(TenantPanel(
            tenant=tenant, orders=figures.orders, records=figures.records,
            breaches=sum(t.breached for t in figures.on_time_by_carrier.values()),
            findings=sum(figures.findings_by_rule.values()), charts=charts,
        ))
    return panels
