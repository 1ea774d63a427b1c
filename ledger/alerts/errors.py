"""Errors of alert delivery: refused input (4xx, exit 2) and rejected signatures."""

from __future__ import annotations

from ledger.errors import InvalidInput, LedgerError


class UnknownSubscription(InvalidInput):
    """No webhook subscription has this id."""

    def __init__(self, subscription_id: int) -> None:
        super().__init__(f"no webhook subscription with id {subscription_id}", field="id")


class UnknownDelivery(InvalidInput):
    """No alert delivery has this id."""

    def __init__(self, delivery_id: int) -> None:
        super().__init__(f"no alert delivery with id {delivery_id}", field="id")


class DeliveryNotDead(InvalidInput):
    """Only a dead delivery can be retried: a pending one is retried anyway, a delivered
    one arrived."""

    def __init__(self, delivery_id: int, state: str) -> None:
        super().__init__(
            f"alert delivery {delivery_id} is {state}, not dead: only dead deliveries are "
            "retried by hand",
            field="id",
        )


class SubscriptionDisabled(InvalidInput):
    """The subscription is disabled: nothing is delivered to it any more."""

    def __init__(self, subscription_id: int) -> None:
        super().__init__(f"webhook subscription {subscription_id} is disabled", field="id")


class SignatureRejected(LedgerError):
    """A webhook request whose signature or timestamp does not verify. The message says
    which check failed; a receiver answers it with 401 and must not act on the body."""
