"""Executors: who runs the job function (``job.run_job``) for a submitted run.

``SynchronousExecutor`` runs it inside ``submit`` (tests, scripts). The dashboard creates one
``BackgroundWorker`` per server process; ``python -m ganglioside worker`` runs the same worker on
its own. Any number of them may share one database: runs are claimed atomically in the order they
were created, so each is executed once. With ``$GANGLIOSIDE_BROKER`` set, ``CeleryExecutor`` sends
each run to Celery workers instead (``celery_app``); ``executor_from_env`` picks one.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Protocol

from ..errors import GangliosideError, StoreFault
from .isolation import job_memory_limit_from_env, run_isolated, start_job_server
from .job import AnalyzeFunction, execute_claim, run_job, worker_name
from .store import RunStore

RETENTION_ENV_VAR = "GANGLIOSIDE_RETENTION_DAYS"
BROKER_ENV_VAR = "GANGLIOSIDE_BROKER"      # set: the Celery profile (scale-out)
EXECUTOR_ENV_VAR = "GANGLIOSIDE_EXECUTOR"  # without a broker: "background" (default) or "sync"
DEFAULT_RETENTION_DAYS = 30.0
FAULT_REMINDER_SECONDS = 300.0  # how often a lasting store fault is logged again

log = logging.getLogger(__name__)


class SettingError(GangliosideError, ValueError):
    """An environment variable has a value that cannot be used."""


def number_from_env(name: str, default: float, unit: str) -> float:
    """The number in $name, else default; SettingError naming the variable if it is not one."""
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        return float(text)
    except ValueError:
        raise SettingError(f"{name} = {text!r} is not a number of {unit}") from None


def retention_days_from_env() -> float:
    """Days finished runs are kept: $GANGLIOSIDE_RETENTION_DAYS, default 30; 0 = forever."""
    return max(number_from_env(RETENTION_ENV_VAR, DEFAULT_RETENTION_DAYS, "days"), 0.0)


class Executor(Protocol):
    """What the pages need from an executor: hand it the id of a pending run."""

    def submit(self, run_id: str) -> None: ...


class SynchronousExecutor:
    """Runs each submitted run to its end inside submit() (tests, scripts)."""

    def __init__(self, store: RunStore, analyze: AnalyzeFunction | None = None):
        self.store = store
        self.analyze = analyze

    def submit(self, run_id: str) -> None:
        run_job(self.store, run_id, analyze=self.analyze)


class CeleryExecutor:
    """Sends each submitted run to the Celery workers on $GANGLIOSIDE_BROKER. A broker that
    cannot be reached is not the user's error: the run stays pending in the store and the
    reconciler sends it later."""

    def __init__(self) -> None:
        from .celery_app import try_enqueue  # Celery is imported only in this profile
        self._send = try_enqueue

    def submit(self, run_id: str) -> None:
        self._send(run_id)


def broker_from_env() -> str | None:
    """$GANGLIOSIDE_BROKER, or None for the embedded profile."""
    return os.environ.get(BROKER_ENV_VAR, "").strip() or None


def executor_from_env(store: RunStore) -> Executor:
    """The executor of this process: Celery when $GANGLIOSIDE_BROKER is set, else a started
    BackgroundWorker on store ($GANGLIOSIDE_EXECUTOR=sync: a SynchronousExecutor)."""
    if broker_from_env():
        return CeleryExecutor()
    if os.environ.get(EXECUTOR_ENV_VAR, "").strip().lower() == "sync":
        return SynchronousExecutor(store)
    return BackgroundWorker(store, memory_limit=job_memory_limit_from_env()).start()


class FaultLog:
    """Logs a store outage once, not at every poll of every thread: each message the first time
    it is seen in the outage (a server going down can fail one thread's step one way and
    another's another way), a reminder every ``reminder`` seconds while it lasts, and once
    when the store works again."""

    def __init__(self, reminder: float = FAULT_REMINDER_SECONDS,
                 clock: Callable[[], float] = time.monotonic):
        self.reminder = reminder
        self._clock = clock
        self._lock = threading.Lock()
        self._seen: set[str] = set()  # the messages of the current outage (empty: none)
        self._since = self._logged = 0.0
        self._failures = 0

    def failed(self, fault: StoreFault) -> None:
        """One step failed with ``fault``."""
        message, now = str(fault), self._clock()
        with self._lock:
            if not self._seen:
                self._since, self._logged, self._failures = now, now, 0
            self._failures += 1
            if message not in self._seen:
                self._seen.add(message)
                log.error("worker step failed: %s", message)
            elif now - self._logged >= self.reminder:
                self._logged = now
                log.error("worker steps still failing (%d times in %.0f s): %s",
                          self._failures, now - self._since, message)

    def succeeded(self) -> None:
        """One step worked: if an outage was being logged, say that it is over."""
        with self._lock:
            if not self._seen:
                return
            log.warning("the run store works again after %d failed worker steps in %.0f s",
                        self._failures, self._clock() - self._since)
            self._seen.clear()


class BackgroundWorker:
    """Threads that execute pending runs in created order, plus periodic recovery and clean-up.

    Create one per server process. Stopping it lets each running job stop at its next progress
    step and puts that run back in the queue.
    """

    def __init__(self, store: RunStore, threads: int = 2, poll_interval: float = 1.0,
                 retention_days: float | None = None, cleanup_interval: float = 3600.0,
                 stale_after: float = 60.0, heartbeat_interval: float = 5.0,
                 analyze: AnalyzeFunction | None = None, memory_limit: int | None = None):
        """``memory_limit``: None runs jobs in this process; a number of bytes runs each job in
        a child process limited to it (``isolation``), as the dashboard's embedded worker does."""
        if stale_after <= 2 * heartbeat_interval:
            raise ValueError("stale_after must be more than twice heartbeat_interval")
        self.store = store
        self.threads = threads
        self.poll_interval = poll_interval
        self.retention_days = (retention_days_from_env() if retention_days is None
                               else retention_days)
        self.cleanup_interval = cleanup_interval
        self.stale_after = stale_after
        self.heartbeat_interval = heartbeat_interval
        self.analyze = analyze
        self.memory_limit = memory_limit
        self._stopping = threading.Event()
        self._wake = threading.Condition()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        # one per kind of step, so that a read that works (recovery finding nothing stale) does
        # not end the outage of the writes that fail (claiming a run on a full disk)
        self._claim_faults, self._upkeep_faults = FaultLog(), FaultLog()

    @property
    def running(self) -> bool:
        return any(thread.is_alive() for thread in self._threads)

    def start(self) -> "BackgroundWorker":
        """Start the threads (no effect when already running)."""
        with self._lock:
            if self.running:
                return self
            self._stopping.clear()
            loops = [self._work_loop] * self.threads + [self._maintenance_loop]
            self._threads = [threading.Thread(target=loop, name=f"ganglioside-worker-{i}",
                                              daemon=True) for i, loop in enumerate(loops)]
            if self.memory_limit is not None:  # jobs run isolated: ready their process server
                self._threads.append(threading.Thread(target=start_job_server, daemon=True,
                                                      name="ganglioside-job-server"))
            for thread in self._threads:
                thread.start()
        return self

    def submit(self, run_id: str) -> None:
        """Wake an idle thread; the run (already pending in the store) is taken in order."""
        with self._wake:
            self._wake.notify()

    def request_stop(self) -> None:
        """Ask the threads to stop without waiting (safe from a signal handler)."""
        self._stopping.set()
        with self._wake:
            self._wake.notify_all()

    def stop(self, timeout: float | None = None) -> None:
        """Stop claiming runs; running jobs go back to the queue at their next progress step."""
        self.request_stop()
        for thread in self._threads:
            thread.join(timeout)

    def drain(self) -> int:
        """Execute pending runs in the calling thread until none is left (or stop() is called);
        return how many were executed."""
        self.recover()
        executed = 0
        while not self._stopping.is_set() and self._execute_next():
            executed += 1
        return executed

    def recover(self) -> None:
        """Requeue or fail runs whose worker died (stale heartbeat)."""
        recovery = self.store.recover_stale(self.stale_after)
        for run_id in recovery.requeued:
            log.warning("run %s requeued: its worker stopped responding", run_id)
        for run_id in recovery.failed:
            log.warning("run %s failed: its worker died twice", run_id)

    def _execute_next(self) -> bool:
        claim = self.store.claim_next(worker=worker_name())
        if claim is None:
            return False
        if self.memory_limit is None:
            status = execute_claim(self.store, claim, self.analyze, self.heartbeat_interval,
                                   self._stopping)
        else:
            status = run_isolated(self.store, claim, self.memory_limit, self.analyze,
                                  self.heartbeat_interval, self._stopping)
        log.info("run %s (attempt %d): %s", claim.run_id, claim.attempt, status or "taken over")
        return True

    def _work_loop(self) -> None:
        while not self._stopping.is_set():
            if self._guarded(self._execute_next, self._claim_faults):
                continue
            with self._wake:
                self._wake.wait(self.poll_interval)

    def _maintenance_loop(self) -> None:
        next_cleanup = time.monotonic()
        while not self._stopping.is_set():
            self._guarded(self.recover, self._upkeep_faults)
            if time.monotonic() >= next_cleanup:
                self._guarded(lambda: self.store.cleanup(self.retention_days),
                              self._upkeep_faults)
                next_cleanup = time.monotonic() + self.cleanup_interval
            self._stopping.wait(min(self.stale_after / 4, self.cleanup_interval))

    def _guarded(self, action: Callable[[], object], faults: FaultLog) -> object:
        """Run one loop step; log and pause on an error so the thread survives (a store fault
        once while it lasts, in ``faults``)."""
        try:
            outcome = action()
        except StoreFault as fault:  # the message says it all; no traceback in the log
            faults.failed(fault)
        except Exception:
            log.exception("worker step failed")
        else:
            faults.succeeded()
            return outcome
        self._stopping.wait(self.poll_interval)
        return None


def start_background_worker(target=None, **options) -> BackgroundWorker:
    """A started BackgroundWorker on RunStore(target): a file path or database URL (None:
    $GANGLIOSIDE_DB)."""
    return BackgroundWorker(RunStore(target), **options).start()
