"""The Celery app of the scale-out profile: workers on a Redis broker run the same ``run_job``.

Start a worker with ``python -m ganglioside worker`` (``celery -A ganglioside.runs.celery_app
worker -Q ganglioside,ganglioside-upkeep``) and the scheduler with ``python -m ganglioside beat``
(``celery -A ganglioside.runs.celery_app beat``). Every process reads the same environment:

* ``GANGLIOSIDE_BROKER``: the broker, ``redis://host:6379/0``;
* ``GANGLIOSIDE_DB``: the run store (``database.py``), shared by the app and every worker.

A task carries only the run id: the store stays the source of truth for state, progress, cancel
and results, and no result backend is used. Configured for long analyses: a message is
acknowledged after its run ends (a worker that dies leaves it to be delivered again), a worker
reserves one message at a time, and the broker's visibility timeout is longer than the longest
run. A second delivery of a run finds it claimed or finished and does nothing. Beat runs the
upkeep: stale-run recovery, the reconciler (``reconciler.py``), and retention clean-up.

Tuning, in seconds: ``GANGLIOSIDE_HEARTBEAT_INTERVAL`` (5), ``GANGLIOSIDE_STALE_AFTER`` (60),
``GANGLIOSIDE_RECONCILE_INTERVAL`` (30), ``GANGLIOSIDE_VISIBILITY_TIMEOUT`` (43200 = 12 h).
"""

from __future__ import annotations

import logging
import os
from functools import cache

from celery import Celery
from kombu.exceptions import OperationalError as BrokerError

from . import reconciler
from .executors import BROKER_ENV_VAR, SettingError, number_from_env, retention_days_from_env
from .job import run_job
from .store import RunNotFoundError, RunStore

QUEUE = "ganglioside"
UPKEEP_QUEUE = "ganglioside-upkeep"  # its own queue: upkeep never waits behind a backlog of runs
RUN_TASK = "ganglioside.run"
CLEANUP_INTERVAL = 3600.0

log = logging.getLogger(__name__)


def seconds_from_env(name: str, default: float) -> float:
    """A positive number of seconds from $name, else default."""
    value = number_from_env(name, default, "seconds")
    if value <= 0:
        raise SettingError(f"{name} = {value:g} must be more than 0 seconds")
    return value


HEARTBEAT_INTERVAL = seconds_from_env("GANGLIOSIDE_HEARTBEAT_INTERVAL", 5.0)
STALE_AFTER = seconds_from_env("GANGLIOSIDE_STALE_AFTER", 60.0)
RECONCILE_INTERVAL = seconds_from_env("GANGLIOSIDE_RECONCILE_INTERVAL", 30.0)
VISIBILITY_TIMEOUT = seconds_from_env("GANGLIOSIDE_VISIBILITY_TIMEOUT", 12 * 3600.0)
if STALE_AFTER <= 2 * HEARTBEAT_INTERVAL:
    raise SettingError("GANGLIOSIDE_STALE_AFTER must be more than twice "
                       "GANGLIOSIDE_HEARTBEAT_INTERVAL")

app = Celery("ganglioside", broker=os.environ.get(BROKER_ENV_VAR, "").strip() or None)
app.conf.update(
    task_default_queue=QUEUE,
    task_routes={"ganglioside.recover": {"queue": UPKEEP_QUEUE},
                 "ganglioside.reconcile": {"queue": UPKEEP_QUEUE},
                 "ganglioside.cleanup": {"queue": UPKEEP_QUEUE}},
    task_acks_late=True,                 # acknowledged when the run has ended, not when received
    task_reject_on_worker_lost=True,     # a pool process killed mid-run: delivered again
    task_ignore_result=True,             # results live in the run store, never in the broker
    worker_prefetch_multiplier=1,        # a worker reserves only the message it executes
    worker_hijack_root_logger=False,
    worker_redirect_stdouts=False,
    broker_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT},
    broker_connection_retry_on_startup=True,
    broker_connection_max_retries=None,  # a worker waits for a restarting Redis, forever
    task_publish_retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5,
                               "interval_max": 1.0},
    beat_schedule={name: {"task": task, "schedule": every, "options": {"expires": every}}
                   for name, task, every in (
                       ("recover-stale-runs", "ganglioside.recover", max(STALE_AFTER / 4, 1.0)),
                       ("reconcile-queue", "ganglioside.reconcile", RECONCILE_INTERVAL),
                       ("clean-up-old-runs", "ganglioside.cleanup", CLEANUP_INTERVAL))},
)


@cache
def run_store() -> RunStore:
    """This process's store ($GANGLIOSIDE_DB)."""
    return RunStore()


def enqueue(run_id: str) -> None:
    """Send the run's task to the broker (the message id is the run id)."""
    run_analysis.apply_async(args=[run_id], task_id=run_id)


def try_enqueue(run_id: str) -> bool:
    """enqueue(), but a broker that cannot be reached only logs: the run stays pending in the
    store and the reconciler sends it once the broker is back. True when sent."""
    try:
        enqueue(run_id)
    except BrokerError as error:
        log.warning("run %s not sent to the broker (%s); the reconciler will send it",
                    run_id, error)
        return False
    return True


@app.task(name=RUN_TASK)
def run_analysis(run_id: str) -> str | None:
    """Execute one run (nothing if it is no longer pending); return its final status."""
    try:
        status = run_job(run_store(), run_id, heartbeat_interval=HEARTBEAT_INTERVAL)
    except RunNotFoundError:
        status = None  # deleted while it waited in the queue
    log.info("run %s: %s", run_id, status or "not pending, nothing to do")
    return status


@app.task(name="ganglioside.recover")
def recover_stale_runs() -> list[str]:
    """Requeue (and send again) the runs whose worker stopped responding."""
    recovery = run_store().recover_stale(STALE_AFTER)
    for run_id in recovery.failed:
        log.warning("run %s failed: its worker died twice", run_id)
    for run_id in recovery.requeued:
        log.warning("run %s requeued: its worker stopped responding", run_id)
        try_enqueue(run_id)
    return recovery.requeued


@app.task(name="ganglioside.reconcile")
def reconcile_queue() -> list[str]:
    """Send again the pending runs that the broker no longer holds."""
    sent = reconciler.reconcile(run_store(), app, QUEUE, enqueue)
    if sent:
        log.warning("re-sent %d pending runs the broker had lost: %s", len(sent), sent)
    return sent


@app.task(name="ganglioside.cleanup")
def clean_up_old_runs() -> int:
    """Delete finished runs older than the retention ($GANGLIOSIDE_RETENTION_DAYS)."""
    return run_store().cleanup(retention_days_from_env())
