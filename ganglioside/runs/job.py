"""The job function: execute one stored run, from claim to result, with progress and heartbeats.

``run_job(store, run_id)`` is the whole job; every executor (``executors``) calls it, or
``execute_claim`` for a run it has claimed itself.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from contextlib import contextmanager
from typing import Iterator

from ..analysis import analyze as analyze_table
from ..errors import AnalysisCancelled, GangliosideError, StoreLocked, StoreUnreachable
from ..params import AnalysisParams
from ..reader import read_table
from ..result import AnalysisResult
from .store import Claim, ClaimLostError, RunStore

CANCELLED_MESSAGE = "Cancelled on request."
OUT_OF_MEMORY_MESSAGE = ("The analysis ran out of memory: this file needs more than a job may use "
                         "(GANGLIOSIDE_JOB_MEMORY_GB). Split it into smaller files, or ask "
                         "whoever runs the server to raise the limit.")

AnalyzeFunction = Callable[..., AnalysisResult]

log = logging.getLogger(__name__)


class WorkerStopping(Exception):
    """Raised from the progress callback when the worker shuts down: the run goes back to the
    queue instead of failing."""


def worker_name() -> str:
    """Who holds a claim: host, process and thread, for diagnosing stuck runs."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.current_thread().name}"


def run_job(store: RunStore, run_id: str, analyze: AnalyzeFunction | None = None,
            heartbeat_interval: float = 5.0) -> str | None:
    """Execute one pending run to its end; return its final status.

    Returns None without doing anything when the run is no longer pending (another worker took
    it, or it was cancelled before it started).
    """
    claim = store.claim_run(run_id, worker=worker_name())
    if claim is None:
        return None
    return execute_claim(store, claim, analyze, heartbeat_interval)


def execute_claim(store: RunStore, claim: Claim, analyze: AnalyzeFunction | None = None,
                  heartbeat_interval: float = 5.0,
                  stopping: threading.Event | None = None) -> str | None:
    """Run a claimed run and record completed / failed / cancelled; return that status.

    ``stopping``, when set during the run, puts the run back in the queue at its next progress
    step (returns "pending"). Returns None if the claim was lost to stale-run recovery, or if the
    store became unreachable or stayed locked mid-run: the run is then left `processing` for
    stale-run recovery to hand on, instead of failing for a fault that was not its own.
    """
    try:
        with _heartbeat(store, claim, heartbeat_interval):
            _analyze_run(store, claim, analyze or analyze_table, stopping)
        return "completed"
    except ClaimLostError:
        log.warning("run %s was taken over while this worker ran it", claim.run_id)
        return None
    except WorkerStopping:
        return _record_end(store.release_run, claim, "pending")
    except AnalysisCancelled:
        return _record_end(store.cancel_run, claim, "cancelled")
    except (StoreUnreachable, StoreLocked) as fault:  # passing: recovery hands the run on
        log.warning("run %s left to stale-run recovery: %s", claim.run_id, fault)
        return None
    except Exception as error:  # every other failure is the run's, reported to the user
        if not isinstance(error, GangliosideError):
            log.exception("run %s failed", claim.run_id)
        return _record_end(lambda c: store.fail_run(c, describe_error(error)), claim, "failed")


def describe_error(error: BaseException) -> str:
    """The text a user sees for a failed run: our own errors as they are, others with type."""
    if isinstance(error, GangliosideError):
        return str(error)
    if isinstance(error, MemoryError):
        return OUT_OF_MEMORY_MESSAGE
    return f"Unexpected error ({type(error).__name__}): {error}"


def _record_end(record: Callable[[Claim], None], claim: Claim, status: str) -> str | None:
    try:
        record(claim)
    except ClaimLostError:
        return None
    return status


def _analyze_run(store: RunStore, claim: Claim, analyze: AnalyzeFunction,
                 stopping: threading.Event | None) -> None:
    saved = []

    def save(result: AnalysisResult) -> None:
        store.complete_run(claim, result)
        saved.append(True)

    def progress(fraction: float, step: str, message: str) -> None:
        if stopping is not None and stopping.is_set() and not saved:
            raise WorkerStopping()
        if store.report_progress(claim, fraction, step, message):
            raise AnalysisCancelled(CANCELLED_MESSAGE)

    record = store.get_run(claim.run_id)
    progress(0.0, "read", "Reading the input file…")
    table = read_table(store.load_input(claim.run_id), record.file_name, record.sheet)
    params = AnalysisParams.from_dict(record.parameters)
    result = analyze(table, params, progress=progress, save=save)
    if not saved:
        save(result)


@contextmanager
def _heartbeat(store: RunStore, claim: Claim, interval: float) -> Iterator[None]:
    """Keep the claim's heartbeat fresh from a side thread, also during long steps."""
    done = threading.Event()

    def beat() -> None:
        while not done.wait(interval):
            try:
                store.heartbeat(claim)
            except ClaimLostError:
                return
            except Exception:  # a failed beat must not kill the run; the next one may succeed
                log.exception("heartbeat of run %s failed", claim.run_id)

    thread = threading.Thread(target=beat, name=f"heartbeat-{claim.run_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


