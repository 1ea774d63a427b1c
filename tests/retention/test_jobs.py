"""The daily retention job on APScheduler 3 (registered, never waited for)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

from retention.jobs import JOB_ID, run_retention, schedule_retention
from tests.retention.support import Harness


def test_the_job_runs_daily_once_at_a_time(harness: Harness) -> None:
    scheduler = BackgroundScheduler(timezone="UTC")
    runner = harness.runner()

    schedule_retention(scheduler, runner, hour=2, minute=15)
    job = schedule_retention(scheduler, runner, hour=3, minute=45)  # replaces the first

    assert [j.id for j in scheduler.get_jobs()] == [JOB_ID]
    assert isinstance(job.trigger, CronTrigger)
    moment = datetime(2027, 1, 1, 12, 0, tzinfo=UTC)
    assert job.trigger.get_next_fire_time(None, moment) == datetime(2027, 1, 2, 3, 45, tzinfo=UTC)
    assert (job.max_instances, job.coalesce, job.misfire_grace_time) == (1, True, None)


@pytest.mark.parametrize(("hour", "minute"), [(24, 0), (-1, 0), (3, 60)])
def test_a_time_of_day_out_of_range_is_refused(harness: Harness, hour: int, minute: int) -> None:
    with pytest.raises(ValueError, match="not a time of day"):
        schedule_retention(BackgroundScheduler(), harness.runner(), hour=hour, minute=minute)


def test_one_job_run_erases_what_is_due(harness: Harness) -> None:
    harness.feed_orders(o="happy")
    harness.clock.set(datetime(2031, 1, 1, tzinfo=UTC))

    [outcome] = run_retention(harness.runner())

    assert outcome.erased == len(harness.chain("o")) - 1  # all but the purge record
