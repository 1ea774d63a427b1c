"""`orderledger demo`: realistic orders walked through whole lifecycles.

Replays the reference scenarios of `statemodel.scenarios` (domestic, cross-border,
weather and facility exceptions, lockers, proxy signatures, returns, installation,
cancellation, cold chain) for a few merchants. Every step carries an idempotency key, so
running the demo again changes nothing: the second run gets replays.
"""

from __future__ import annotations

from ledger.append import EventRequest
from ledger.sequencer import Sequencer
from ledger.service import Ledger
from ledger.statement import Actor, ActorType
from statemodel.errors import InvalidInput
from statemodel.scenarios import SCENARIOS, Scenario, Step

TENANTS = ("hz-tea-house", "sz-electronics")

_CARRIER_MAINS = ("M04", "M05", "M07", "M09")
_CARRIER_SUBS = ("M08.01", "M08.02")


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
    created = replayed = 0
    orders: list[tuple[str, str, str]] = []
    for tenant in TENANTS:
        for scenario in SCENARIOS:
            for result in ledger.appender.append_many(scenario_requests(tenant, scenario)):
                if isinstance(result, InvalidInput):
                    raise result
                if result.replayed:
                    replayed += 1
                else:
                    created += 1
            orders.append((tenant, demo_order_id(tenant, scenario), scenario.description))
    integration = Sequencer(
        ledger.recorder,
        log_key=ledger.keyring.log_key(),
        origin=ledger.settings.log_origin,
        clock=ledger.clock,
    ).integrate_all()
    lines = [
        f"demo: {len(orders)} orders, {created} new records, {replayed} already present",
        f"log: {integration.size} leaves under the latest checkpoint",
        f"database: {ledger.settings.database_url}",
        "",
        "orders:",
        *(f"  {tenant:<15} {order:<34} {description}" for tenant, order, description in orders),
        "",
        "where to look:",
        "  orderledger audit                      check every chain, signature and payload",
        f"  orderledger export --tenant {orders[0][0]} --order {orders[0][1]} -o bundle.json",
        "  orderledger verify bundle.json         offline verification of that bundle",
        "  orderledger checkpoint                 the latest signed checkpoint",
        "  orderledger model show                 the 12 main and 41 sub-states",
        "",
    ]
    return "\n".join(lines)
