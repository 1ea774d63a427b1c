"""The alert delivery job: fan the outbox out to webhooks and attempt what is due.

One APScheduler interval job runs `AlertDeliverer.run_round` every `interval_seconds`
(default 10 s). Retries are due at times the policy computed and stored, so the interval
only bounds how late an attempt may start (at most about one interval after it is due);
it does not shape the backoff. `max_instances=1` keeps rounds from overlapping inside
one scheduler, `coalesce=True` folds rounds missed while one was slow into one. Rounds
in other processes are kept apart by the database (the fan-out cursor lock and claimed
attempts), so running this job in every service process is safe.
"""

from __future__ import annotations

import logging
from typing import Final

from apscheduler.job import Job
from apscheduler.schedulers.base import BaseScheduler

from ledger.alerts import AlertDeliverer, DeliveryRound

#: The default time, in seconds, between two delivery rounds.
DEFAULT_INTERVAL_SECONDS: Final = 10.0
#: The job's id in the scheduler (one alert delivery job per scheduler).
JOB_ID: Final = "orderledger.alert_delivery"

_log = logging.getLogger(__name__)


def schedule_alert_delivery(
    scheduler: BaseScheduler,
    deliverer: AlertDeliverer,
    *,
    interval_seconds: float = DEFAULT_INTERVAL_SECONDS,
) -> Job:
    """Add (or replace) the alert delivery job on `scheduler`: one delivery round every
    `interval_seconds` (the first one interval after the scheduler starts), never two
    at once, missed rounds coalesced. Returns the job. Raises ValueError for an interval
    that is not positive.

    A failing round (database unreachable) is logged by the scheduler and the next round
    tries again; failed webhook requests are not failures of the job (they are retried
    by the policy).
    """
    if not interval_seconds > 0:
        raise ValueError(f"the alert delivery interval must be positive, not {interval_seconds}")
    # `replace_existing` only replaces once the scheduler has started; remove by hand so
    # a scheduler that is not running yet does not end up with two delivery jobs.
    if scheduler.get_job(JOB_ID) is not None:
        scheduler.remove_job(JOB_ID)
    return scheduler.add_job(
        run_alert_delivery,
        trigger="interval",
        args=(deliverer,),
        seconds=interval_seconds,
        id=JOB_ID,
        name="deliver SLA alerts to webhook subscriptions",
        replace_existing=True,
        max_instances=1,
        coalesce=True,
        # A late round still delivers everything due: never skip it.
        misfire_grace_time=None,
    )


def run_alert_delivery(deliverer: AlertDeliverer) -> DeliveryRound:
    """One run of the job: a delivery round at the deliverer's clock. Logs a summary at
    INFO when it did anything; raises what `run_round` raises (the scheduler logs it)."""
    result = deliverer.run_round()
    if result.fanned_out or result.attempts:
        _log.info(
            "alerts: %d delivery(ies) created, %d attempt(s): %d delivered, %d to retry, "
            "%d dead",
            result.fanned_out,
            len(result.attempts),
            result.count("delivered"),
            result.count("pending"),
            result.count("dead"),
        )
    return result
