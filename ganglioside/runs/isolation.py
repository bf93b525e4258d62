"""Jobs in a child process with a memory limit, so that no upload can take the server down.

The embedded worker (``executors.BackgroundWorker`` with ``memory_limit``) hands each claimed run
to ``run_isolated``: a child process, started by multiprocessing's fork server (a clean process,
never a fork of the threaded web server), caps its address space with ``RLIMIT_AS`` and runs the
job function there. Reading, analysing and saving happen in the child; progress, cancel and the
heartbeat go through the store as usual. A file that needs more memory fails its own run with a
clear message; if the child is killed outright, the parent records the failure.

``GANGLIOSIDE_JOB_MEMORY_GB`` sets the limit (default 8 GB, at least 1 GB; 0 runs jobs without a
limit; a job process reads the environment of the moment the first job started). The limit
is on address space, not resident memory: a job's libraries alone reserve
about 0.6 GB of it.
"""

from __future__ import annotations

import logging
import multiprocessing
from multiprocessing import forkserver
import os
import resource
import signal
import threading

from ..errors import GangliosideError
from .job import AnalyzeFunction, execute_claim
from .store import Claim, ClaimLostError, RunStore

MEMORY_ENV_VAR = "GANGLIOSIDE_JOB_MEMORY_GB"
DEFAULT_MEMORY_GB = 8.0
MINIMUM_MEMORY_GB = 1.0  # below the libraries' own address space a job cannot even start
_POLL_SECONDS = 0.2

log = logging.getLogger(__name__)


def job_memory_limit_from_env() -> int | None:
    """Bytes a job may use: $GANGLIOSIDE_JOB_MEMORY_GB (default 8); None when it is 0."""
    text = os.environ.get(MEMORY_ENV_VAR, "").strip()
    try:
        gigabytes = float(text) if text else DEFAULT_MEMORY_GB
    except ValueError:
        raise GangliosideError(f"{MEMORY_ENV_VAR} = {text!r} is not a number of GB.") from None
    if 0 < gigabytes < MINIMUM_MEMORY_GB:
        raise GangliosideError(f"{MEMORY_ENV_VAR} = {text}: a job needs at least "
                               f"{MINIMUM_MEMORY_GB:g} GB (its libraries take about 0.6 GB).")
    return int(gigabytes * 2**30) if gigabytes > 0 else None


def run_isolated(store: RunStore, claim: Claim, memory_limit: int,
                 analyze: AnalyzeFunction | None = None, heartbeat_interval: float = 5.0,
                 stopping: threading.Event | None = None) -> str | None:
    """Execute a claimed run in a child process limited to ``memory_limit`` bytes; return its
    final status as ``job.execute_claim`` does. ``stopping``, once set, is passed on to the
    child (the run goes back to the queue at its next progress step)."""
    context = _job_context()
    child_stopping = context.Event()
    receive, send = context.Pipe(duplex=False)
    target = store.database.url.render_as_string(hide_password=False)
    child = context.Process(
        target=_child_main, name=f"ganglioside-job-{claim.run_id}", daemon=True,
        args=(target, claim, memory_limit, analyze, heartbeat_interval, child_stopping, send))
    child.start()
    send.close()
    while child.is_alive():
        child.join(_POLL_SECONDS)
        if stopping is not None and stopping.is_set():
            child_stopping.set()
    try:
        return receive.recv()
    except EOFError:  # the child ended without reporting: it was killed or crashed
        if stopping is not None and stopping.is_set():  # the server is stopping: requeue
            return _released(store, claim)
        return _record_death(store, claim, child.exitcode, memory_limit)


def _released(store: RunStore, claim: Claim) -> str | None:
    try:
        store.release_run(claim)
    except ClaimLostError:
        return None
    return "pending"


def start_job_server() -> None:
    """Start the fork server that job processes come from, with the analysis imported, so the
    first run does not wait for it (the embedded worker calls this as it starts)."""
    _job_context()
    forkserver.ensure_running()


def _job_context():
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["ganglioside.runs.job"])  # jobs start without imports
    return context


def died_message(exitcode: int | None, memory_limit: int) -> str:
    """What a user reads when the job's process ended without recording an outcome."""
    how = (f"was stopped by signal {signal.Signals(-exitcode).name}" if exitcode and exitcode < 0
           else f"ended with status {exitcode}")
    return (f"The analysis process {how} before it finished, most likely because the file "
            f"needs more memory than a job may use ({memory_limit / 2**30:.1f} GB, "
            f"{MEMORY_ENV_VAR}). Split the file into smaller ones, or ask whoever runs the "
            "server to raise the limit.")


def _record_death(store: RunStore, claim: Claim, exitcode: int | None,
                  memory_limit: int) -> str | None:
    message = died_message(exitcode, memory_limit)
    log.error("run %s: %s", claim.run_id, message)
    try:
        store.fail_run(claim, message)
    except ClaimLostError:
        return None
    return "failed"


def _child_main(target: str, claim: Claim, memory_limit: int, analyze: AnalyzeFunction | None,
                heartbeat_interval: float, stopping, send) -> None:
    """In the child: die with the parent, cap the address space, run the job, report.

    SIGINT and SIGTERM are ignored: a server stopped from its terminal or by systemd signals
    its whole process group, and its job must then go back to the queue at the next progress
    step (``stopping``), not die and fail its run. SIGKILL (the kernel's out-of-memory killer,
    an operator's ``kill -9``) still ends it, and the parent records why.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _die_with_parent()
    resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
    status = execute_claim(RunStore(target), claim, analyze, heartbeat_interval, stopping)
    send.send(status)


def _die_with_parent() -> None:
    """End this process when the process that started it (the server or worker, not the fork
    server) ends, so a job never outlives a killed server; its run is then recovered."""
    parent = multiprocessing.parent_process()

    def watch() -> None:
        parent.join()
        os._exit(1)

    if parent is not None:
        threading.Thread(target=watch, name="parent-watch", daemon=True).start()
