"""SLA alerts out: webhook subscriptions, signed delivery with retries, dead letters.

Alerts are decided into the outbox by `ledger.sla`; this package sends them. Receivers
verify requests with `verify_signature`; the format is in docs/alerts.md.
"""

from ledger.alerts.delivery import (
    CURSOR_NAME,
    DEFAULT_TIMEOUT_SECONDS,
    AlertDeliverer,
    Attempt,
    DeliveryRound,
    alert_body,
    request_headers,
)
from ledger.alerts.errors import (
    DeliveryNotDead,
    SignatureRejected,
    SubscriptionDisabled,
    UnknownDelivery,
    UnknownSubscription,
)
from ledger.alerts.policy import Jitter, RetryPolicy, full_jitter
from ledger.alerts.signing import (
    DEFAULT_REPLAY_WINDOW,
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    sign,
    verify_signature,
)
from ledger.alerts.subscriptions import ALERT_KINDS, WebhookSubscriptions, parse_events
from ledger.alerts.transport import Outcome, Sender, UrllibSender
from ledger.store.alert_sql import DeliveryDetail, DeliveryRow, SubscriptionRow

__all__ = [
    "ALERT_KINDS",
    "CURSOR_NAME",
    "DEFAULT_REPLAY_WINDOW",
    "DEFAULT_TIMEOUT_SECONDS",
    "DELIVERY_HEADER",
    "EVENT_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "AlertDeliverer",
    "Attempt",
    "DeliveryDetail",
    "DeliveryNotDead",
    "DeliveryRound",
    "DeliveryRow",
    "Jitter",
    "Outcome",
    "RetryPolicy",
    "Sender",
    "SignatureRejected",
    "SubscriptionDisabled",
    "SubscriptionRow",
    "UnknownDelivery",
    "UnknownSubscription",
    "UrllibSender",
    "WebhookSubscriptions",
    "alert_body",
    "full_jitter",
    "parse_events",
    "request_headers",
    "sign",
    "verify_signature",
]
