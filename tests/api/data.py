"""Request bodies built from the reference scenarios (payloads the catalogue accepts)."""

from __future__ import annotations

from typing import Any

from statemodel.scenarios import SCENARIOS, Step

HAPPY = SCENARIOS[0]  # domestic_happy_path: order_placed, payment_captured, ...
PLACED: Step = HAPPY.steps[0]
PAID: Step = HAPPY.steps[1]
AUDIT: Step = HAPPY.steps[2]


def create_body(tenant: str, order: str, step: Step = PLACED) -> dict[str, Any]:
    return {
        "tenant": tenant,
        "order": order,
        "event": step.event,
        "event_time": step.at,
        "payload": dict(step.payload),
    }


def event_body(step: Step = PAID, **extra: Any) -> dict[str, Any]:
    return {"event": step.event, "event_time": step.at, "payload": dict(step.payload), **extra}


def batch_item(tenant: str, order: str, step: Step, **extra: Any) -> dict[str, Any]:
    return {"tenant": tenant, "order": order, **event_body(step), **extra}
