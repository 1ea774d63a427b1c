"""The sequencing job: every record is integrated into the Merkle log within a bound.

One APScheduler interval job runs `Sequencer.integrate_all` every `bound_seconds`
(default 1 s), so a committed record is a leaf under a signed checkpoint at most about
one bound (plus one integration's run time) after its commit. Each batch publishes one
checkpoint: while the log grows it gets a checkpoint every bound, far more often than
the once a minute an auditor may demand; an idle log gets none.

`max_instances=1` keeps runs from overlapping inside one scheduler; `coalesce=True`
turns runs missed while one was slow into a single run. Sequencers in other processes
are kept apart by the database (the sequencer lock), so running this job in every
service process is safe.
"""

from __future__ import annotations

import logging
from typing import Final

from apscheduler.job import Job
from apscheduler.schedulers.base import BaseScheduler

from ledger.sequencer import Sequencer

#: The default bound, in seconds, between a record's commit and its integration.
DEFAULT_BOUND_SECONDS: Final = 1.0
#: The job's id in the scheduler (one sequencing job per scheduler).
JOB_ID: Final = "orderledger.sequencer"

_log = logging.getLogger(__name__)


def schedule_sequencing(
    scheduler: BaseScheduler,
    sequencer: Sequencer,
    *,
    bound_seconds: float = DEFAULT_BOUND_SECONDS,
) -> Job:
    """Add (or replace) the sequencing job on `scheduler`: `sequencer.integrate_all`
    every `bound_seconds` (the first run one bound after the scheduler starts), never
    two runs at once, missed runs coalesced. Returns the job. Raises ValueError for a
    bound that is not positive.

    A failing run (database unreachable, log corrupted) is logged and the next run tries
    again; the scheduler itself keeps running.
    """
    if not bound_seconds > 0:
        raise ValueError(f"the sequencing bound must be positive, not {bound_seconds}")
    # `replace_existing` only replaces once the scheduler has started; remove by hand so
    # a scheduler that is not running yet does not end up with two sequencing jobs.
    if scheduler.get_job(JOB_ID) is not None:
        scheduler.remove_job(JOB_ID)
    return scheduler.add_job(
        run_sequencer,
        trigger="interval",
        args=(sequencer,),
        seconds=bound_seconds,
        id=JOB_ID,
        name="integrate queued records into the Merkle log",
        replace_existing=True,
        max_instances=1,
        coalesce=True,
        # A run that starts late still integrates everything queued: never skip it.
        misfire_grace_time=None,
    )


def run_sequencer(sequencer: Sequencer) -> int:
    """One run of the job: integrate everything queued; returns how many records became
    leaves. Logs the new checkpoint's size at INFO; raises what `integrate_all` raises
    (the scheduler logs it)."""
    integration = sequencer.integrate_all()
    if integration.integrated:
        _log.info("integrated %d record(s): log size %d", integration.integrated,
                  integration.size)
    return integration.integrated
