"""Jobs in a memory-limited child process (runs/isolation.py): a job that needs too much memory,
or whose process is killed, fails its own run; the worker goes on; progress and cancel work."""

from __future__ import annotations

import os
import signal
import time

import numpy as np
import pytest

from ganglioside.analysis import analyze
from ganglioside.errors import GangliosideError
from ganglioside.runs.executors import BackgroundWorker
from ganglioside.runs.isolation import MEMORY_ENV_VAR, job_memory_limit_from_env
from ganglioside.runs.job import OUT_OF_MEMORY_MESSAGE
from ganglioside.runs.store import RunStore
from tests.store_support import ADMIN
from tests.test_store_faults import SAMPLE

LIMIT = int(1.5 * 2**30)


def analyze_needing_3_gb(table, params, progress=None, save=None):
    """The real analysis, after taking 3 GB at once (as a hostile file would)."""
    hog = np.ones(3 * 2**30 // 8)
    return analyze(table, params, progress=progress, save=save) if hog.size == 0 else None


def analyze_killed(table, params, progress=None, save=None):
    os.kill(os.getpid(), signal.SIGKILL)


def analyze_until_cancelled(table, params, progress=None, save=None):
    for step in range(600):
        progress(step / 600, "wait", "Waiting to be cancelled…")
        time.sleep(0.1)
    raise AssertionError("not cancelled")


@pytest.fixture
def store(tmp_path, monkeypatch):
    db = tmp_path / "store.db"
    monkeypatch.setenv("GANGLIOSIDE_DB", str(db))
    return RunStore(db)


def run_in_child(store: RunStore, analyze_function, name: str) -> str:
    run_id = store.create_run(SAMPLE.read_bytes(), "sample.csv", name=name)
    worker = BackgroundWorker(store, memory_limit=LIMIT, analyze=analyze_function)
    assert worker.drain() == 1
    return run_id


@pytest.mark.slow
def test_a_job_over_the_memory_limit_fails_alone_and_the_next_one_completes(store):
    hog = store.get_run(run_in_child(store, analyze_needing_3_gb, "hog"))
    assert hog.status == "failed" and hog.error == OUT_OF_MEMORY_MESSAGE
    fine = store.get_run(run_in_child(store, analyze, "fine"))
    assert fine.status == "completed" and fine.progress == 1.0
    assert store.load_result(fine.id) is not None


@pytest.mark.slow
def test_a_killed_job_process_fails_its_run_with_a_reason(store):
    record = store.get_run(run_in_child(store, analyze_killed, "killed"))
    assert record.status == "failed"
    assert "stopped by signal SIGKILL" in record.error and MEMORY_ENV_VAR in record.error


def analyze_after_a_stop_signal(table, params, progress=None, save=None):
    """The real analysis, after the job's process got the SIGTERM a stopping server's process
    group receives (systemd, a terminal's Ctrl-C sends SIGINT likewise)."""
    os.kill(os.getpid(), signal.SIGTERM)
    os.kill(os.getpid(), signal.SIGINT)
    return analyze(table, params, progress=progress, save=save)


@pytest.mark.slow
def test_a_stop_signal_to_the_process_group_does_not_fail_the_running_job(store):
    record = store.get_run(run_in_child(store, analyze_after_a_stop_signal, "signalled"))
    assert record.status == "completed" and record.error is None


@pytest.mark.slow
def test_progress_and_cancel_reach_a_job_in_its_child_process(store):
    run_id = store.create_run(SAMPLE.read_bytes(), "sample.csv", name="cancel me")
    worker = BackgroundWorker(store, memory_limit=LIMIT, analyze=analyze_until_cancelled,
                              poll_interval=0.1).start()
    try:
        wait_until(lambda: store.get_run(run_id).message == "Waiting to be cancelled…")
        store.request_cancel(run_id, ADMIN)
        wait_until(lambda: store.get_run(run_id).status == "cancelled")
    finally:
        worker.stop()


def wait_until(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_the_limit_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv(MEMORY_ENV_VAR, raising=False)
    assert job_memory_limit_from_env() == 8 * 2**30
    monkeypatch.setenv(MEMORY_ENV_VAR, "2.5")
    assert job_memory_limit_from_env() == int(2.5 * 2**30)
    monkeypatch.setenv(MEMORY_ENV_VAR, "0")
    assert job_memory_limit_from_env() is None
    for bad in ("0.5", "lots"):
        monkeypatch.setenv(MEMORY_ENV_VAR, bad)
        with pytest.raises(GangliosideError, match=MEMORY_ENV_VAR):
            job_memory_limit_from_env()
