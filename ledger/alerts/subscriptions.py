"""Webhook subscriptions: where a tenant wants which alerts, and the secret that signs them.

The secret is 32 random bytes (URL-safe base64 text); it is shown once, when the
subscription is made, and stored so the service can sign. Subscriptions are never
deleted: disabling one keeps it (with `disabled_at`) for the record of where alerts went.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Final
from urllib.parse import urlsplit

from ledger.alerts.errors import UnknownSubscription
from ledger.clock import Clock
from ledger.errors import InvalidInput
from ledger.store import Recorder
from ledger.store.alert_sql import AlertSql, SubscriptionRow
from ledger.timefmt import format_time

#: The alert kinds the outbox carries (ledger.sla), in the order they are listed.
ALERT_KINDS: Final = ("sla_breach", "sla_warning")
#: Random bytes in a new secret (HMAC-SHA256 wants at least its 32-byte output size).
SECRET_BYTES: Final = 32
#: Prefix that makes a leaked secret recognisable to secret scanners.
SECRET_PREFIX: Final = "whsec_"  # noqa: S105 (a label, not a secret)
MAX_URL_LENGTH: Final = 2048
#: Why pending deliveries of a disabled subscription are dead.
DISABLED_REASON: Final = "subscription disabled"


def new_secret() -> str:
    """A fresh signing secret: `whsec_` + 32 random bytes as URL-safe base64."""
    return SECRET_PREFIX + secrets.token_urlsafe(SECRET_BYTES)


def parse_events(events: str | Iterable[str] | None) -> tuple[str, ...]:
    """The event filter: alert kinds as a comma-separated string or an iterable; None
    means every kind. Returns the kinds in `ALERT_KINDS` order, without repeats.

    Raises InvalidInput (field `events`) for an unknown kind or an empty filter.
    """
    if events is None:
        return ALERT_KINDS
    items = events.split(",") if isinstance(events, str) else list(events)
    chosen = {item.strip() for item in items if item.strip()}
    unknown = sorted(chosen - set(ALERT_KINDS))
    if unknown:
        raise InvalidInput(
            f"events: unknown alert kind(s) {', '.join(unknown)}; choose from "
            f"{', '.join(ALERT_KINDS)}",
            field="events",
        )
    if not chosen:
        raise InvalidInput("events: name at least one alert kind", field="events")
    return tuple(kind for kind in ALERT_KINDS if kind in chosen)


def check_url(url: str) -> str:
    """The webhook URL, checked: absolute http or https with a host, no credentials, no
    fragment, no whitespace, at most MAX_URL_LENGTH characters. Returns it unchanged.

    Raises InvalidInput (field `url`) naming what is wrong.
    """

    def refuse(why: str) -> InvalidInput:
        return InvalidInput(f"url: {why}", field="url")

    if not url or len(url) > MAX_URL_LENGTH:
        raise refuse(f"give an http(s) URL of 1 to {MAX_URL_LENGTH} characters")
    if any(ch.isspace() for ch in url) or not url.isprintable():
        raise refuse("contains whitespace or control characters")
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError for a port that is no number or out of range
    except ValueError as exc:
        raise refuse(f"not a URL ({exc})") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise refuse(f"scheme must be http or https, not {parts.scheme or 'none'!r}")
    if not parts.hostname:
        raise refuse("has no host")
    if parts.username is not None or parts.password is not None:
        raise refuse("must not carry credentials: the signature authenticates the sender")
    if parts.fragment:
        raise refuse("must not have a fragment")
    return url


class WebhookSubscriptions:
    """Creating, listing and disabling subscriptions; each call is one transaction.

    Every method raises StorageError (or a subclass) when the database fails.
    """

    def __init__(self, recorder: Recorder, clock: Clock) -> None:
        self._recorder = recorder
        self._clock = clock

    def subscribe(
        self, tenant: str, url: str, events: str | Iterable[str] | None = None
    ) -> SubscriptionRow:
        """Subscribe `url` to the tenant's alerts of the kinds in `events` (default:
        all) raised from now on; returns the subscription with its new secret, which is
        not shown again. Raises InvalidInput for an empty tenant, a bad URL or filter."""
        if not tenant or not tenant.strip():
            raise InvalidInput("tenant: must not be empty", field="tenant")
        kinds = parse_events(events)
        checked = check_url(url)
        with self._recorder.unit_of_work() as uow:
            return AlertSql(uow).insert_subscription(
                tenant=tenant,
                url=checked,
                secret=new_secret(),
                events=kinds,
                created_at=format_time(self._clock.now()),
            )

    def list(self, tenant: str | None = None) -> list[SubscriptionRow]:
        """Every subscription (of one tenant), active or disabled, by id."""
        with self._recorder.unit_of_work(read_only=True) as uow:
            return AlertSql(uow).list_subscriptions(tenant=tenant)

    def disable(self, subscription_id: int) -> SubscriptionRow:
        """Disable a subscription: no alert is fanned out to it any more, and its pending
        deliveries become dead (reason "subscription disabled"), so none is left waiting
        unseen. Disabling twice is a no-op. Raises UnknownSubscription."""
        now = format_time(self._clock.now())
        with self._recorder.unit_of_work() as uow:
            sql = AlertSql(uow)
            if sql.get_subscription(subscription_id) is None:
                raise UnknownSubscription(subscription_id)
            if sql.disable_subscription(subscription_id, at=now):
                sql.park_pending(subscription_id, reason=DISABLED_REASON, at=now)
            row = sql.get_subscription(subscription_id)
        assert row is not None
        return row
