"""Run store: persistence, queue semantics, cancellation, recovery, retention."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from datetime import timezone
from pathlib import Path

import pytest

from ganglioside.errors import ParameterError
from ganglioside.params import AnalysisParams
from ganglioside.runs.store import (WORKER_DIED_MESSAGE, ClaimLostError, DuplicateRunError,
                                    RunNotFoundError, RunStateError, RunStore)
from tests.store_support import ADMIN, query

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
DAY = 86400.0


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def store(db_target, clock):
    """A store on each backend (SQLite file, PostgreSQL database)."""
    store = RunStore(db_target, clock=clock)
    yield store
    store.close()


def submit(store: RunStore, text: str = "Name,RT\nGM1(36:1;O2),10\n", **options) -> str:
    return store.create_run(text.encode(), options.pop("file_name", "table.csv"),
                            options.pop("params", AnalysisParams()), **options)


# ---- location and file ----------------------------------------------------------------------

def test_path_comes_from_env_and_folder_is_created_on_first_use(tmp_path, monkeypatch):
    target = tmp_path / "nested" / "folder" / "lab.db"
    monkeypatch.setenv("GANGLIOSIDE_DB", str(target))
    store = RunStore()
    assert store.path == target
    assert not target.parent.exists()
    submit(store)
    assert target.exists()


def test_default_path_is_data_folder_of_working_directory(tmp_path, monkeypatch):
    monkeypatch.delenv("GANGLIOSIDE_DB", raising=False)
    monkeypatch.chdir(tmp_path)
    store = RunStore()
    submit(store)
    assert (tmp_path / "data" / "ganglioside.db").exists()


def test_sqlite_database_uses_wal_journal(tmp_path):
    store = RunStore(tmp_path / "runs.db")
    submit(store)
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.integrity_check() == "ok"


# ---- creating and reading runs --------------------------------------------------------------

def test_created_run_is_pending_with_everything_recorded(store, clock):
    data = "Name,RT\nGD1a(36:1;O2),12\n".encode()
    params = AnalysisParams(r2_threshold=0.8, sample_type="human")
    run_id = store.create_run(data, "lab.csv", params, name="  Batch 7 ", user="kim", sheet=None)
    run = store.get_run(run_id)
    assert run.id == run_id and len(run_id) == 16
    assert (run.name, run.user, run.file_name, run.sheet) == ("Batch 7", "kim", "lab.csv", None)
    assert run.status == "pending" and run.is_active and not run.is_finished
    assert run.parameters == params.to_dict()
    assert AnalysisParams.from_dict(run.parameters) == params
    assert run.sample_type == "human" and run.algorithm_version == params.algorithm_version
    assert run.input_sha256 == hashlib.sha256(data).hexdigest()
    assert run.input_size == len(data)
    assert run.created_at.tzinfo == timezone.utc
    assert run.created_at.timestamp() == clock.now
    assert (run.started_at, run.completed_at, run.duration_seconds) == (None, None, None)
    assert run.attempts == 0 and not run.cancel_requested and run.summary is None
    assert store.load_input(run_id) == data


def test_name_defaults_to_file_name(store):
    assert store.get_run(submit(store, file_name="x.xlsx", sheet="Peaks")).name == "x.xlsx"


def test_bad_parameters_are_refused_before_anything_is_stored(store):
    with pytest.raises(ParameterError, match="r2_threshold"):
        submit(store, params=AnalysisParams(r2_threshold=2.0))
    assert store.list_runs() == []


def test_unknown_run_raises_not_found(store):
    submit(store)
    for action in (store.get_run, store.load_input, lambda run_id: store.request_cancel(
            run_id, ADMIN), lambda run_id: store.delete_run(run_id, ADMIN)):
        with pytest.raises(RunNotFoundError, match="nosuchrun"):
            action("nosuchrun")
    assert store.load_result("nosuchrun") is None


def test_same_active_run_twice_is_refused(store):
    first = submit(store, name="A")
    with pytest.raises(DuplicateRunError) as refused:
        submit(store, name="A")
    assert refused.value.existing_run_id == first
    assert "already pending" in str(refused.value)
    submit(store, name="B")
    submit(store, name="A", params=AnalysisParams(min_anchors=4))
    submit(store, "Name,RT\nGM3(34:1;O2),9\n", name="A")
    assert len(store.list_runs()) == 4


def test_same_run_is_allowed_again_once_the_first_finished(store):
    first = submit(store, name="A")
    claim = store.claim_next()
    with pytest.raises(DuplicateRunError, match="already processing"):
        submit(store, name="A")
    store.fail_run(claim, "x")
    assert submit(store, name="A") != first


def test_list_runs_newest_first_with_status_and_text_filters(store, clock):
    ids = []
    for i, (name, user) in enumerate([("Ébauche porcine", "Kim"), ("brain", "Lee"),
                                      ("Liver", None)]):
        clock.now += 1
        ids.append(submit(store, name=name, user=user, file_name=f"f{i}.csv"))
    assert [r.id for r in store.list_runs()] == ids[::-1]
    assert [r.name for r in store.list_runs(text="éBAU")] == ["Ébauche porcine"]
    assert [r.name for r in store.list_runs(text="lee")] == ["brain"]
    assert [r.name for r in store.list_runs(text="F2.CSV")] == ["Liver"]
    assert [r.id for r in store.list_runs(text=ids[1][:6])] == [ids[1]]
    assert store.list_runs(text="%") == []
    store.claim_next()
    assert [r.id for r in store.list_runs(status="processing")] == [ids[0]]
    assert [r.id for r in store.list_runs(status=["pending", "processing"], limit=1)] == [ids[2]]
    assert store.counts() == {"pending": 2, "processing": 1, "completed": 0, "failed": 0,
                              "cancelled": 0}


# ---- the queue --------------------------------------------------------------------------------

def test_claims_follow_creation_order_and_count_attempts(store, clock):
    ids = [submit(store, name=str(i)) for i in range(3)]
    clock.now += 5
    claims = [store.claim_next(worker="w") for _ in range(3)]
    assert [c.run_id for c in claims] == ids
    assert store.claim_next() is None
    run = store.get_run(ids[0])
    assert run.status == "processing" and run.attempts == 1 and claims[0].attempt == 1
    assert run.started_at.timestamp() == clock.now == run.heartbeat_at.timestamp()


def test_claim_run_takes_only_a_pending_run(store):
    run_id = submit(store)
    assert store.claim_run(run_id) is not None
    assert store.claim_run(run_id) is None


def test_progress_is_stored_never_decreases_and_reports_cancel(store, clock):
    run_id = submit(store)
    claim = store.claim_next()
    clock.now += 3
    assert store.report_progress(claim, 0.5, "rules2-3", "Running Rules 2-3…") is False
    assert store.report_progress(claim, 0.25, "rule1", "late report") is False
    run = store.get_run(run_id)
    assert (run.progress, run.step, run.message) == (0.5, "rule1", "late report")
    assert run.heartbeat_at.timestamp() == clock.now
    assert store.request_cancel(run_id, ADMIN) is True
    assert store.get_run(run_id).status == "processing"
    assert store.report_progress(claim, 0.7, "rule4", "Running Rule 4…") is True
    store.cancel_run(claim)
    run = store.get_run(run_id)
    assert run.status == "cancelled" and run.error is None and run.is_finished
    assert store.request_cancel(run_id, ADMIN) is False


def test_cancelling_a_pending_run_ends_it_at_once(store):
    run_id = submit(store)
    assert store.request_cancel(run_id, ADMIN) is True
    assert store.get_run(run_id).status == "cancelled"
    assert store.claim_next() is None


def test_failed_run_keeps_its_message_and_no_result(store, clock):
    run_id = submit(store)
    claim = store.claim_next()
    clock.now += 2.5
    store.fail_run(claim, "Cannot read 'table.csv':\n- no Name column")
    run = store.get_run(run_id)
    assert run.status == "failed" and run.error.endswith("no Name column")
    assert run.duration_seconds == 2.5
    assert store.load_result(run_id) is None
    assert store.report_progress(claim, 1.0, "complete", "late") is False
    with pytest.raises(ClaimLostError):
        store.fail_run(claim, "twice")


def test_released_run_goes_back_to_the_queue_without_using_an_attempt(store):
    run_id = submit(store)
    store.release_run(store.claim_next())
    run = store.get_run(run_id)
    assert run.status == "pending" and run.attempts == 0
    assert store.claim_next().attempt == 1


# ---- crash recovery --------------------------------------------------------------------------

def test_stale_run_is_requeued_once_then_failed(store, clock):
    run_id = submit(store)
    first = store.claim_next()
    clock.now += 30
    assert store.recover_stale(60).requeued == []
    clock.now += 31
    recovery = store.recover_stale(60)
    assert recovery.requeued == [run_id] and recovery.failed == []
    run = store.get_run(run_id)
    assert run.status == "pending" and "stopped responding" in run.message
    with pytest.raises(ClaimLostError):
        store.report_progress(first, 0.5, "rule1", "zombie")
    second = store.claim_next()
    assert second.attempt == 2
    with pytest.raises(ClaimLostError):
        store.heartbeat(first)
    clock.now += 61
    recovery = store.recover_stale(60)
    assert recovery.failed == [run_id] and recovery.requeued == []
    run = store.get_run(run_id)
    assert run.status == "failed" and run.error == WORKER_DIED_MESSAGE
    assert store.list_runs(status="processing") == []


def test_heartbeat_keeps_a_long_run_alive(store, clock):
    run_id = submit(store)
    claim = store.claim_next()
    for _ in range(5):
        clock.now += 40
        store.heartbeat(claim)
        assert store.recover_stale(60).requeued == []
    assert store.get_run(run_id).status == "processing"


def test_stale_run_that_was_asked_to_stop_ends_cancelled(store, clock):
    run_id = submit(store)
    store.claim_next()
    store.request_cancel(run_id, ADMIN)
    clock.now += 100
    assert store.recover_stale(60).requeued == []
    assert store.get_run(run_id).status == "cancelled"


# ---- deletion and retention ------------------------------------------------------------------

def test_active_runs_cannot_be_deleted(store):
    run_id = submit(store)
    with pytest.raises(RunStateError, match="pending"):
        store.delete_run(run_id, ADMIN)
    store.claim_next()
    with pytest.raises(RunStateError, match="processing"):
        store.delete_run(run_id, ADMIN)


def test_purge_keeps_an_input_another_run_still_uses(store):
    first = submit(store, "Name,RT\nGT1b(36:1;O2),15\n", name="one")
    second = store.rerun(first, AnalysisParams(min_anchors=5), name="two")
    assert store.get_run(second).parameters["min_anchors"] == 5
    store.request_cancel(first, ADMIN)
    store.delete_run(first, ADMIN)
    store.purge_run(first, ADMIN)
    with pytest.raises(RunNotFoundError):
        store.get_run(first)
    assert store.load_input(second) == b"Name,RT\nGT1b(36:1;O2),15\n"
    store.request_cancel(second, ADMIN)
    store.delete_run(second, ADMIN)
    store.purge_run(second, ADMIN)
    assert query(store, "SELECT count(*) FROM inputs") == [(0,)]


def test_cleanup_removes_only_old_finished_runs(store, clock):
    old_cancelled = submit(store, name="old cancelled")
    store.request_cancel(old_cancelled, ADMIN)
    old_failed = submit(store, name="old failed")
    store.fail_run(store.claim_next(), "boom")
    old_pending = submit(store, name="old pending")
    old_processing = submit(store, name="old processing")
    clock.now += 10 * DAY
    store.claim_run(old_processing)
    recent = submit(store, name="recent")
    store.request_cancel(recent, ADMIN)
    clock.now += 25 * DAY
    assert store.cleanup(0) == 0
    assert store.cleanup(30) == 2
    remaining = {r.id for r in store.list_runs()}
    assert remaining == {old_pending, old_processing, recent}
    assert old_failed not in remaining and old_cancelled not in remaining
    clock.now += 100 * DAY
    assert store.cleanup(30) == 1
    assert {r.status for r in store.list_runs()} == {"pending", "processing"}


# ---- threads -----------------------------------------------------------------------------------

def test_threads_share_one_store_safely(store):
    created, claimed, errors = [], [], []

    def work(worker: int) -> None:
        try:
            for i in range(25):
                created.append(submit(store, name=f"{worker}-{i}"))
                claim = store.claim_next()
                if claim:
                    claimed.append(claim.run_id)
                    store.fail_run(claim, "done")
        except Exception as error:  # surfaced below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # PostgreSQL may answer "nothing to claim" while each pending run it sees is being claimed
    # by another thread (SKIP LOCKED); such a run is left for the next claim, here:
    while (claim := store.claim_next()) is not None:
        claimed.append(claim.run_id)
        store.fail_run(claim, "done")
    assert errors == []
    assert len(set(created)) == 200
    assert len(claimed) == len(set(claimed)) == 200
    assert store.counts()["failed"] == 200
