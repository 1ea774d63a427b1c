"""The daily retention job: one APScheduler cron job that runs `RetentionRunner.run`.

Each run first finishes any run a crash left behind, then archives and erases what has
passed its retention minimum and is not under legal hold (`ledger.retention.runner`).
`max_instances=1` keeps runs from overlapping inside one scheduler; a run missed while
the service was down is made up once when it comes back (`coalesce`, no grace limit).
Runs in other processes are safe too: each order is erased in a transaction that locks
it and judges it again, so a second runner finds nothing left to erase.
"""

from __future__ import annotations

import logging
from datetime import tzinfo
from typing import Final

from apscheduler.job import Job
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger

from ledger.retention.runner import RetentionRunner, RunOutcome

#: The job's id in the scheduler (one retention job per scheduler).
JOB_ID: Final = "orderledger.retention"
#: Default time of day (UTC) of the daily run: a quiet hour for Chinese platforms.
DEFAULT_HOUR: Final = 18
DEFAULT_MINUTE: Final = 30

_log = logging.getLogger(__name__)


def schedule_retention(
    scheduler: BaseScheduler,
    runner: RetentionRunner,
    *,
    hour: int = DEFAULT_HOUR,
    minute: int = DEFAULT_MINUTE,
    timezone: tzinfo | str = "UTC",
) -> Job:
    """Add (or replace) the daily retention job on `scheduler` at `hour:minute` in
    `timezone`. Returns the job. Raises ValueError for an hour or minute out of range."""
    if not (0 <= hour < 24 and 0 <= minute < 60):
        raise ValueError(f"not a time of day: {hour:02d}:{minute:02d}")
    # As for the sequencing job: remove by hand, so that a scheduler that has not started
    # yet does not end up with two retention jobs.
    if scheduler.get_job(JOB_ID) is not None:
        scheduler.remove_job(JOB_ID)
    return scheduler.add_job(
        run_retention,
        trigger=CronTrigger(hour=hour, minute=minute, timezone=timezone),
        args=(runner,),
        id=JOB_ID,
        name="archive and erase payloads past their retention",
        replace_existing=True,
        max_instances=1,
        coalesce=True,
        misfire_grace_time=None,
    )


def run_retention(runner: RetentionRunner) -> list[RunOutcome]:
    """One run of the job (resumed runs first). Logs each run's erasures at INFO and
    raises what the runner raises (the scheduler logs it; the next day resumes)."""
    outcomes = runner.run()
    for outcome in outcomes:
        _log.info("retention run %d: %d payload(s) erased", outcome.run_id, outcome.erased)
    return outcomes
