"""Job runner and executors, with an injected analyze and with the real pipeline."""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
import time
from pathlib import Path

import pytest

from ganglioside import analyze, read_table
from ganglioside.errors import StoreFull, StoreLocked, StoreUnreachable
from ganglioside.export import result_from_json, to_json
from ganglioside.runs.executors import (BackgroundWorker, FaultLog, SynchronousExecutor,
                                        retention_days_from_env)
from ganglioside.runs.job import run_job
from ganglioside.params import AnalysisParams
from ganglioside.runs.store import Recovery, RunStore
from tests.store_support import ADMIN

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SAMPLE = DATA / "testwork_user.csv"
SMALL = DATA / "testwork_small.csv"
STEPS = [(0.10, "preprocess", "Preprocessing data…"), (0.50, "rules2-3", "Running Rules 2-3…"),
         (0.95, "save", "Saving results…")]


@pytest.fixture(scope="module")
def small_result():
    return analyze(read_table(SMALL))


@pytest.fixture
def store(db_target):
    store = RunStore(db_target)
    yield store
    store.close()


class FakeAnalyze:
    """Reports STEPS, saves a prepared result, and lets a test act between steps."""

    def __init__(self, result, on_step=None, fail_with: Exception | None = None):
        self.result = result
        self.on_step = on_step or (lambda step: None)
        self.fail_with = fail_with
        self.tables, self.params, self.saved = [], [], 0

    def __call__(self, table, params, progress=None, save=None):
        self.tables.append(table)
        self.params.append(params)
        for fraction, step, message in STEPS:
            progress(fraction, step, message)
            self.on_step(step)
            if self.fail_with is not None:
                raise self.fail_with
        save(self.result)
        self.saved += 1
        progress(1.0, "complete", "Analysis complete")
        return self.result


def submit(store, path=SMALL, **options):
    return store.create_run(path.read_bytes(), path.name, options.pop("params", AnalysisParams()),
                            **options)


def json_round_trip(result):
    """What the store can give back at best: the result as the JSON exporter keeps it."""
    return result_from_json(to_json(result))


def wait_for(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


# ---- run_job ---------------------------------------------------------------------------------

def test_completed_run_stores_progress_summary_and_result(store, small_result):
    seen = []
    fake = FakeAnalyze(small_result, on_step=lambda step: seen.append(
        (store.get_run(run_id).status, store.get_run(run_id).step,
         store.get_run(run_id).progress)))
    params = AnalysisParams(min_anchors=4, sample_type="porcine")
    run_id = submit(store, params=params, name="small", owner="alice@lab.example",
                    submitter="admin@lab.example")
    SynchronousExecutor(store, analyze=fake).submit(run_id)
    assert seen == [("processing", step, fraction) for fraction, step, _ in STEPS]
    assert fake.params == [params]
    assert list(fake.tables[0].frame["Name"]) == list(read_table(SMALL).frame["Name"])
    run = store.get_run(run_id)
    assert (run.status, run.progress, run.step, run.error) == ("completed", 1.0, "complete", None)
    assert run.attempts == 1 and run.summary == small_result.summary
    assert run.duration_seconds >= 0
    expected = replace(small_result, provenance={
        **small_result.provenance, "owner": "alice@lab.example", "submitter": "admin@lab.example"})
    assert to_json(store.load_result(run_id)) == to_json(json_round_trip(expected))


def test_cancel_during_the_run_ends_cancelled_without_result(store, small_result):
    def cancel_after_first(step):
        if step == "preprocess":
            assert store.request_cancel(run_id, ADMIN)

    fake = FakeAnalyze(small_result, on_step=cancel_after_first)
    run_id = submit(store)
    assert run_job(store, run_id, analyze=fake) == "cancelled"
    run = store.get_run(run_id)
    assert run.status == "cancelled" and run.error is None and run.step == "rules2-3"
    assert fake.saved == 0 and store.load_result(run_id) is None


def test_unexpected_error_fails_the_run_with_its_message(store, small_result):
    run_id = submit(store)
    fake = FakeAnalyze(small_result, fail_with=ZeroDivisionError("division by zero"))
    assert run_job(store, run_id, analyze=fake) == "failed"
    run = store.get_run(run_id)
    assert run.status == "failed"
    assert run.error == "Unexpected error (ZeroDivisionError): division by zero"
    assert store.load_result(run_id) is None


def test_a_store_that_drops_mid_run_leaves_the_run_to_recovery_not_failed(store, small_result):
    """A database server restart during a progress write is not the run's fault: the run stays
    processing (its heartbeat stops), so stale-run recovery hands it to a worker again."""
    run_id = submit(store)
    fake = FakeAnalyze(small_result, fail_with=StoreUnreachable("The server went away."))
    assert run_job(store, run_id, analyze=fake) is None
    run = store.get_run(run_id)
    assert run.status == "processing" and run.error is None
    assert store.recover_stale(stale_after=0.0).requeued == [run_id]
    assert store.get_run(run_id).status == "pending"


def test_unreadable_input_fails_with_the_reader_message(store, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("Compound,Time\nGM1,1\n")
    run_id = submit(store, bad)
    assert run_job(store, run_id) == "failed"
    error = store.get_run(run_id).error
    assert error.startswith("Cannot read 'bad.csv'") and "Traceback" not in error


def test_run_job_leaves_a_run_that_is_not_pending_alone(store, small_result):
    run_id = submit(store)
    store.request_cancel(run_id, ADMIN)
    fake = FakeAnalyze(small_result)
    assert run_job(store, run_id, analyze=fake) is None
    assert fake.tables == [] and store.get_run(run_id).status == "cancelled"


def test_heartbeat_continues_during_a_long_step(store, small_result):
    beats = []

    def slow_step(step):
        if step == "preprocess":
            before = store.get_run(run_id).heartbeat_at
            wait_for(lambda: store.get_run(run_id).heartbeat_at > before, timeout=10)
            beats.append(True)

    run_id = submit(store)
    run_job(store, run_id, analyze=FakeAnalyze(small_result, on_step=slow_step),
            heartbeat_interval=0.05)
    assert beats == [True] and store.get_run(run_id).status == "completed"


# ---- the real pipeline -------------------------------------------------------------------------

def test_real_pipeline_end_to_end_on_the_sample_file(store):
    params = AnalysisParams(outlier_threshold=2.0)
    run_id = submit(store, SAMPLE, params=params)
    assert run_job(store, run_id) == "completed"
    expected = analyze(read_table(SAMPLE), params)
    stored = store.load_result(run_id)
    times = ("started_at", "finished_at", "owner", "submitter")
    assert ({k: v for k, v in stored.provenance.items() if k not in times}
            == {k: v for k, v in expected.provenance.items() if k not in times})
    assert (to_json(replace(stored, provenance=expected.provenance))
            == to_json(json_round_trip(expected)))
    assert list(stored.rows["status"]) == list(expected.rows["status"])
    assert stored.summary == expected.summary == store.get_run(run_id).summary
    assert stored.parameters == params
    assert stored.provenance["input_sha256"] == store.get_run(run_id).input_sha256


def test_run_again_uses_the_stored_input_with_new_parameters(store):
    first = submit(store, SAMPLE)
    run_job(store, first)
    again = store.rerun(first, AnalysisParams(outlier_threshold=4.0))
    assert run_job(store, again) == "completed"
    results = [store.load_result(run_id) for run_id in (first, again)]
    assert results[1].parameters.outlier_threshold == 4.0
    assert results[1].summary["total_rows"] == results[0].summary["total_rows"] == 323
    assert results[1].summary["outlier"] <= results[0].summary["outlier"]


# ---- background worker -------------------------------------------------------------------------

def test_background_worker_runs_pending_runs_in_order(store, small_result):
    order = []

    def record_running_run(step):
        if step == "save":
            order.append(store.list_runs(status="processing")[0].id)

    fake = FakeAnalyze(small_result, on_step=record_running_run)
    ids = [submit(store, name=f"run {i}") for i in range(5)]
    worker = BackgroundWorker(store, threads=1, poll_interval=0.05, analyze=fake).start()
    try:
        for run_id in ids:
            worker.submit(run_id)
        wait_for(lambda: store.counts()["completed"] == 5)
    finally:
        worker.stop()
    assert order == ids
    assert [store.get_run(i).attempts for i in ids] == [1] * 5
    assert not worker.running


def test_stopping_the_worker_puts_the_running_run_back_in_the_queue(store, small_result):
    started, release = threading.Event(), threading.Event()

    def hold(step):
        if step == "preprocess":
            started.set()
            release.wait(10)

    worker = BackgroundWorker(store, threads=1, poll_interval=0.05,
                              analyze=FakeAnalyze(small_result, on_step=hold)).start()
    run_id = submit(store)
    worker.submit(run_id)
    assert started.wait(10)
    worker.request_stop()
    release.set()
    worker.stop(timeout=10)
    run = store.get_run(run_id)
    assert (run.status, run.attempts) == ("pending", 0)
    assert "worker running it was stopped" in run.message


def test_worker_recovers_a_run_whose_worker_died(store, small_result):
    run_id = submit(store)
    store.claim_next(worker="dead worker")  # claimed, then never heard of again
    worker = BackgroundWorker(store, threads=1, poll_interval=0.05, stale_after=0.3,
                              heartbeat_interval=0.05, analyze=FakeAnalyze(small_result))
    worker.start()
    try:
        wait_for(lambda: store.get_run(run_id).status == "completed")
    finally:
        worker.stop()
    assert store.get_run(run_id).attempts == 2


def test_worker_cleans_up_old_finished_runs(db_target, small_result):
    clock = type("Clock", (), {"now": time.time(), "__call__": lambda self: self.now})()
    store = RunStore(db_target, clock=clock)
    old = submit(store, name="old")
    store.request_cancel(old, ADMIN)
    clock.now += 3 * 86400
    recent = submit(store, name="recent")
    worker = BackgroundWorker(store, threads=1, poll_interval=0.05, retention_days=2,
                              analyze=FakeAnalyze(small_result)).start()
    try:
        wait_for(lambda: store.get_run(recent).status == "completed")
        wait_for(lambda: [r.id for r in store.list_runs()] == [recent])
    finally:
        worker.stop()


def test_retention_days_come_from_the_environment(monkeypatch):
    monkeypatch.delenv("GANGLIOSIDE_RETENTION_DAYS", raising=False)
    assert retention_days_from_env() == 30
    monkeypatch.setenv("GANGLIOSIDE_RETENTION_DAYS", "7.5")
    assert retention_days_from_env() == 7.5
    monkeypatch.setenv("GANGLIOSIDE_RETENTION_DAYS", "0")
    assert retention_days_from_env() == 0
    monkeypatch.setenv("GANGLIOSIDE_RETENTION_DAYS", "a month")
    with pytest.raises(ValueError, match="GANGLIOSIDE_RETENTION_DAYS"):
        retention_days_from_env()



def test_a_lasting_store_fault_is_logged_once_with_reminders_and_its_end(caplog):
    """Every poll of every worker thread fails while a database server is down, one thread's
    step one way and another's another way: the log gives each message once, reminds every
    ``reminder`` seconds, and says when the store works again."""
    now = [0.0]
    faults = FaultLog(reminder=60.0, clock=lambda: now[0])
    down = StoreUnreachable("Cannot reach the database server at db.lab:5432.")
    locked = StoreLocked("The run store is locked.")
    with caplog.at_level(logging.INFO, logger="ganglioside.runs.executors"):
        faults.succeeded()  # nothing to say while all is well
        for _ in range(180):  # two threads, two polls a second each, for a minute and a half
            faults.failed(down)
            faults.failed(locked)
            now[0] += 0.5
        faults.succeeded()
        faults.succeeded()
        faults.failed(down)  # a new outage is logged again
    lines = [record.getMessage() for record in caplog.records]
    assert len(lines) == 5, lines
    assert lines[:2] == [f"worker step failed: {down}", f"worker step failed: {locked}"]
    assert lines[2].startswith("worker steps still failing (241 times in 60 s): Cannot reach")
    assert lines[3] == "the run store works again after 360 failed worker steps in 90 s"
    assert lines[4] == f"worker step failed: {down}"


class FullDiskStore:
    """A store on a full disk: every claim (a write) fails, recovery finds nothing stale."""

    location = "runs.db"

    def claim_next(self, worker: str):
        raise StoreFull("Cannot write to the run store runs.db: the disk is full.")

    def recover_stale(self, stale_after: float) -> Recovery:
        return Recovery([], [])

    def cleanup(self, retention_days: float) -> None:
        return None


def test_a_working_upkeep_step_does_not_end_the_claims_outage(caplog):
    """Recovery that reads nothing stale works on a full disk while every claim fails: the log
    must not say the store works again between two failed claims."""
    worker = BackgroundWorker(FullDiskStore(), threads=1, poll_interval=0.01,
                              heartbeat_interval=0.02, stale_after=0.08, retention_days=0)
    with caplog.at_level(logging.INFO, logger="ganglioside.runs.executors"):
        worker.start()
        time.sleep(0.5)  # some 25 failed claims and 25 upkeep rounds
        worker.stop(timeout=5)
    lines = [record.getMessage() for record in caplog.records]
    assert lines == ["worker step failed: Cannot write to the run store runs.db: the disk is "
                     f"full. {StoreFull.advice}"], lines
