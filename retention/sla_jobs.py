"""The SLA sweep job: one APScheduler interval job fires due timers in batches.

Timers are rows, not jobs: however many are armed, the scheduler holds this one job.
Exactly-once firing is the sweep's own property (ledger/sla.py), so the job may run in
every service process; `max_instances=1` only keeps one process from overlapping itself.
"""

from __future__ import annotations

import logging
from typing import Final

from apscheduler.job import Job
from apscheduler.schedulers.base import BaseScheduler

from ledger.sla import SlaSweeper

DEFAULT_INTERVAL_SECONDS: Final = 10.0
JOB_ID: Final = "orderledger.sla_sweep"

_log = logging.getLogger(__name__)


def schedule_sla_sweep(
    scheduler: BaseScheduler,
    sweeper: SlaSweeper,
    *,
    interval_seconds: float = DEFAULT_INTERVAL_SECONDS,
) -> Job:
    """Add (or replace) the sweep job: `sweeper.sweep()` every `interval_seconds`, never
    two runs at once, missed runs coalesced. Raises ValueError for a non-positive interval."""
    if not interval_seconds > 0:
        raise ValueError(f"the sweep interval must be positive, not {interval_seconds}")
    if scheduler.get_job(JOB_ID) is not None:
        scheduler.remove_job(JOB_ID)
    return scheduler.add_job(
        run_sla_sweep,
        trigger="interval",
        args=(sweeper,),
        seconds=interval_seconds,
        id=JOB_ID,
        name="fire due SLA timers as breach records",
        replace_existing=True,
        max_instances=1,
        coalesce=True,
        misfire_grace_time=None,
    )


def run_sla_sweep(sweeper: SlaSweeper) -> int:
    """One sweep; returns how many breach records it appended."""
    result = sweeper.sweep()
    if result.fired or result.warned:
        _log.info("sla sweep: %d breach(es), %d warning(s)", len(result.fired), len(result.warned))
    return len(result.fired)
