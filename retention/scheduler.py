"""The one APScheduler instance of a service process and the jobs it runs.

`orderledger serve` starts it beside the API: the sequencer integrates records into the
Merkle log within its bound, the SLA sweep fires due timers, alert delivery posts signed
webhooks with retries, and the daily retention run archives and erases payloads past their
retention. Every job is safe to run in
several processes at once (the database keeps them apart), so scaling the API out needs
no scheduler election.
"""

from __future__ import annotations

from apscheduler.schedulers.background import BackgroundScheduler

from ledger.alerts import AlertDeliverer
from ledger.retention.runner import RetentionRunner
from ledger.sequencer import Sequencer
from ledger.service import Ledger
from ledger.sla import SlaSweeper
from retention.alerts import schedule_alert_delivery
from retention.jobs import schedule_retention
from retention.sequencing import schedule_sequencing
from retention.sla_jobs import schedule_sla_sweep


def build_scheduler(ledger: Ledger) -> BackgroundScheduler:
    """A scheduler (not started) with every job of the service registered."""
    scheduler = BackgroundScheduler(timezone="UTC")
    sequencer = Sequencer(
        ledger.recorder,
        log_key=ledger.keyring.log_key(),
        origin=ledger.settings.log_origin,
        clock=ledger.clock,
    )
    schedule_sequencing(scheduler, sequencer)
    schedule_sla_sweep(scheduler, SlaSweeper(ledger.recorder, ledger.appender, ledger.clock))
    schedule_alert_delivery(scheduler, AlertDeliverer(ledger.recorder, ledger.clock))
    schedule_retention(scheduler, RetentionRunner(ledger))
    return scheduler


def start_scheduler(ledger: Ledger) -> BackgroundScheduler:
    scheduler = build_scheduler(ledger)
    scheduler.start()
    return scheduler
