"""`orderledger demo`: realistic orders walked through whole lifecycles.

Replays the reference scenarios of `statemodel.scenarios` (domestic, cross-border,
weather and facility exceptions, lockers, proxy signatures, returns, installation,
cancellation, cold chain) for a few merchants. Every step carries an idempotency key, so
running the demo again changes nothing: the second run gets replays.
"""

from __future__ import annotations

from dataclasses import replace

from ledger.append import EventRequest
from ledger.sequencer import Sequencer
from ledger.service import Ledger
from ledger.sla import SlaSweeper
from ledger.statement import Actor, ActorType
from statemodel.errors import InvalidInput
from statemodel.scenarios import SCENARIOS, Scenario, Step, scenario

TENANTS = ("hz-tea-house", "sz-electronics")

_CARRIER_MAINS = ("M04", "M05", "M07", "M09")
_CARRIER_SUBS = ("M08.01", "M08.02")


def _with_step(base: Scenario, name: str, description: str, index: int, step: Step) -> Scenario:
    steps = list(base.steps)
    steps[index] = step
    return Scenario(name, description, tuple(steps))


def _flagged_scenarios() -> tuple[Scenario, ...]:
    """Lawful-looking orders that the regulation pack accepts but flags, so the demo's
    compliance report has findings to show."""
    refund = scenario("return_within_cooling_off_then_refund")
    i = next(i for i, s in enumerate(refund.steps) if s.event == "refund_issued")
    late = "2026-03-19T09:00:00+08:00"
    late_refund = _with_step(
        refund,
        "late_refund",
        "Return received 03-10, refund only on 03-19: CN-REFUND-001.",
        i,
        replace(refund.steps[i], at=late, payload={**refund.steps[i].payload, "resolved_at": late}),
    )
    steps = list(late_refund.steps)
    closing = steps[i + 1]
    steps[i + 1] = replace(
        closing,
        at="2026-03-19T09:05:00+08:00",
        payload={
            **closing.payload,
            "completed_at": "2026-03-19T09:05:00+08:00",
            "retention_until": "2029-03-19T09:05:00+08:00",
        },
    )
    late_refund = Scenario(late_refund.name, late_refund.description, tuple(steps))

    happy = scenario("domestic_happy_path")
    j = [i for i, s in enumerate(happy.steps) if s.event == "hub_scan"][1]
    early = "2026-03-02T15:10:00+08:00"
    late_scan = _with_step(
        happy,
        "scan_out_of_order",
        "A departure scan reported 27 minutes before the arrival scan: CN-TIME-001.",
        j,
        replace(happy.steps[j], at=early, payload={**happy.steps[j].payload, "scanned_at": early}),
    )
    return (late_refund, late_scan)


def demo_scenarios() -> tuple[Scenario, ...]:
    return (*SCENARIOS, *_flagged_scenarios())


def demo_order_id(tenant: str, scenario: Scenario) -> str:
    prefix = "".join(part[0] for part in tenant.split("-")).upper()
    return f"{prefix}-{scenario.name.upper().replace('_', '-')}"


def actor_for(step: Step, tenant: str) -> Actor:
    """Who pushes such an update in real life: the carrier for transport scans and
    signatures, the platform for the rest."""
    if step.expect.startswith(_CARRIER_MAINS) or step.expect in _CARRIER_SUBS:
        carrier = step.payload.get("carrier_code")
        return Actor(ActorType.CARRIER, str(carrier) if carrier else "carrier-feed")
    return Actor(ActorType.PLATFORM, tenant)


def scenario_requests(tenant: str, scenario: Scenario) -> list[EventRequest]:
    order = demo_order_id(tenant, scenario)
    return [
        EventRequest(
            tenant=tenant,
            order=order,
            event=step.event,
            event_time=step.at,
            actor=actor_for(step, tenant),
            payload=dict(step.payload),
            idempotency_key=f"demo:{order}:{index}",
            create=index == 0,
        )
        for index, step in enumerate(scenario.steps)
    ]


def load_demo(ledger: Ledger) -> str:
    """Load every scenario for every demo tenant; returns a summary for the terminal.

    Raises the first refusal: a demo step that the catalogue or the rules refuse is a bug
    in the reference data, not something to skip.
    """
    created = replayed = flagged = 0
    orders: list[tuple[str, str, str]] = []
    for tenant in TENANTS:
        for lifecycle in demo_scenarios():
            for result in ledger.appender.append_many(scenario_requests(tenant, lifecycle)):
                if isinstance(result, InvalidInput):
                    raise result
                if result.replayed:
                    replayed += 1
                else:
                    created += 1
                    flagged += len(result.findings)
            orders.append((tenant, demo_order_id(tenant, lifecycle), lifecycle.description))
    # The reference orders lived in March 2026: timers still armed then (carrier EDDs,
    # archive deadlines) are long past due, so the sweep records their breaches.
    breaches = SlaSweeper(ledger.recorder, ledger.appender, ledger.clock).sweep().fired
    integration = Sequencer(
        ledger.recorder,
        log_key=ledger.keyring.log_key(),
        origin=ledger.settings.log_origin,
        clock=ledger.clock,
    ).integrate_all()
    lines = [
        f"demo: {len(orders)} orders, {created} new records ({flagged} regulation findings), "
        f"{replayed} already present",
        f"sla: {len(breaches)} breach record(s) from timers past due",
        f"log: {integration.size} leaves under the latest checkpoint",
        f"database: {ledger.settings.database_url}",
        "",
        "orders:",
        *(f"  {tenant:<15} {order:<34} {description}" for tenant, order, description in orders),
        "",
        "where to look (the commands are in .venv/bin/):",
        "  orderledger audit                      check every chain, signature and payload",
        f"  orderledger export --tenant {orders[0][0]} --order {orders[0][1]} -o bundle.json",
        "  orderledger verify bundle.json         offline verification of that bundle",
        "  orderledger checkpoint                 the latest signed checkpoint",
        "  orderledger compliance report          completeness and findings per tenant",
        "  orderledger sla list --breached        the SLA breaches, each a chained record",
        "  orderledger model show                 the 12 main and 41 sub-states",
        "  orderledger serve                      the API and the auditor console (/console)",
        "",
    ]
    return "\n".join(lines)
