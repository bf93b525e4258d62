"""The Celery profile against real servers: Redis (``redis_server.py``), the run store on SQLite
and PostgreSQL, and real ``python -m ganglioside worker|beat`` processes. No eager mode, no mock.

The fault and concurrency tests are in ``test_celery_faults.py``; their large versions in
``bench/scale_out.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ganglioside.params import AnalysisParams
from ganglioside.runs.store import RunStore
from tests.store_support import ADMIN
from tests.celery_workers import (REPO, celery_environment, completions, start_beat,
                                  start_worker, wait_until)

SMALL = REPO.parent / "shared" / "data" / "testwork_small.csv"
FAST = {"heartbeat_interval": 1, "stale_after": 4, "reconcile_interval": 1}


@pytest.fixture
def profile(broker, tmp_path):
    """Start Celery processes for a store: profile(db, "worker"|"beat", host=..., ...)."""
    started = []

    def start(db: str, kind: str = "worker", host: str = "host-a", **tuning):
        environment = celery_environment(broker, db, tmp_path / host, **{**FAST, **tuning})
        process = (start_worker(environment, f"worker-{len(started)}") if kind == "worker"
                   else start_beat(environment))
        started.append(process)
        return process

    start.processes = started
    yield start
    for process in started:
        process.stop()


def cli(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ganglioside", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)


def ended(store: RunStore, run_ids: list[str]) -> bool:
    return all(store.get_run(run_id).is_finished for run_id in run_ids)


def test_runs_submitted_on_the_command_line_run_on_celery_workers(db_target, broker, profile):
    store = RunStore(db_target)
    worker = profile(db_target)
    env = {**os.environ, "GANGLIOSIDE_DB": db_target, "GANGLIOSIDE_BROKER": broker}
    run_ids = [cli("submit", str(SMALL), "--name", "from the shell", env=env).stdout.strip()]
    assert len(run_ids[0]) == 16, run_ids

    assert wait_until(lambda: ended(store, run_ids), 90), worker.log_text()[-3000:]
    rows = len(SMALL.read_text().splitlines()) - 1
    for run_id in run_ids:
        assert store.get_run(run_id).status == "completed"
        assert len(store.load_result(run_id).rows) == rows
    listing = cli("runs", "list", env=env).stdout
    assert all(f"{run_id}  completed" in listing for run_id in run_ids), listing
    assert "status: completed" in cli("runs", "show", run_ids[0], env=env).stdout
    assert store.integrity_check() == "ok"


def test_a_second_delivery_of_a_run_does_nothing(tmp_path, broker, profile):
    from ganglioside.runs.celery_app import enqueue

    db = str(tmp_path / "store.db")
    store = RunStore(db)
    worker = profile(db)
    run_id = store.create_run(SMALL.read_bytes(), SMALL.name)
    enqueue(run_id)
    assert wait_until(lambda: ended(store, [run_id]), 90), worker.log_text()[-3000:]
    first = store.get_run(run_id)

    enqueue(run_id)  # delivered again (a redelivery, a reconciler's re-send)
    assert wait_until(lambda: f"run {run_id}: not pending" in worker.log_text(), 30)
    again = store.get_run(run_id)
    assert (again.status, again.attempts, again.completed_at) == (
        "completed", 1, first.completed_at)
    assert completions([worker])[run_id] == 1


def test_cancel_stops_a_run_on_a_celery_worker_at_its_next_step(tmp_path, broker, profile):
    from ganglioside.demo import make_demo_table
    from ganglioside.runs.executors import executor_from_env

    db = str(tmp_path / "store.db")
    store = RunStore(db)
    worker = profile(db)
    data = make_demo_table(10_000, seed=3).to_csv(index=False).encode()
    run_id = store.create_run(data, "demo.csv")
    executor_from_env(store).submit(run_id)
    assert wait_until(lambda: store.get_run(run_id).progress > 0, 60), worker.log_text()[-3000:]

    assert store.request_cancel(run_id, ADMIN)
    assert wait_until(lambda: ended(store, [run_id]), 60)
    assert store.get_run(run_id).status == "cancelled"
    assert store.load_result(run_id) is None


def test_reconciler_resends_only_the_pending_runs_the_broker_lost(tmp_path, broker):
    from ganglioside.runs.celery_app import QUEUE, app, enqueue
    from ganglioside.runs.reconciler import queued_task_ids, reconcile

    store = RunStore(str(tmp_path / "store.db"))
    data = SMALL.read_bytes()
    queued, lost, finished = (store.create_run(data, SMALL.name, name=name)
                              for name in ("queued", "lost", "finished"))
    enqueue(queued)
    store.request_cancel(finished, ADMIN)
    sent = []

    assert reconcile(store, app, QUEUE, sent.append, grace=60) == []  # all younger than 60 s
    assert reconcile(store, app, QUEUE, enqueue, grace=0) == [lost]
    assert queued_task_ids(app, QUEUE) == {queued, lost}
    assert reconcile(store, app, QUEUE, enqueue, grace=0) == []


@pytest.mark.slow
def test_runs_queued_before_a_redis_restart_or_sent_while_it_was_down_all_end(
        tmp_path, redis_server, broker, profile):
    from ganglioside.runs.executors import CeleryExecutor

    db = str(tmp_path / "store.db")
    store = RunStore(db)
    executor = CeleryExecutor()
    data = SMALL.read_bytes()
    run_ids = []
    for number in range(4):
        run_ids.append(store.create_run(data, SMALL.name, name=f"before {number}"))
        executor.submit(run_ids[-1])
    redis_server.restart()  # no persistence: the four messages are gone
    redis_server.executor.stop()
    run_ids.append(store.create_run(data, SMALL.name, name="while down"))
    executor.submit(run_ids[-1])  # no error for the user: the run stays pending
    redis_server.start()

    workers = [profile(db), profile(db, "beat")]
    assert wait_until(lambda: ended(store, run_ids), 120), workers[0].log_text()[-3000:]
    assert {store.get_run(run_id).status for run_id in run_ids} == {"completed"}
    assert "re-sent" in workers[0].log_text()


def test_the_embedded_profile_never_imports_celery(tmp_path):
    code = ("import sys; from ganglioside import cli; "
            "from ganglioside.runs.executors import executor_from_env; "
            "from ganglioside.runs.store import RunStore; "
            f"executor = executor_from_env(RunStore({str(tmp_path / 's.db')!r})); "
            "print(type(executor).__name__, sorted(m for m in sys.modules "
            "if m.split('.')[0] in ('celery', 'kombu')))")
    env = {key: value for key, value in os.environ.items() if key != "GANGLIOSIDE_BROKER"}
    env.pop("GANGLIOSIDE_EXECUTOR", None)
    output = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=60).stdout
    assert output.strip() == "BackgroundWorker []"


def test_beat_needs_a_broker_and_worker_once_needs_none(tmp_path):
    env = {key: value for key, value in os.environ.items() if key != "GANGLIOSIDE_BROKER"}
    env["GANGLIOSIDE_DB"] = str(tmp_path / "s.db")
    beat = cli("beat", env=env)
    assert beat.returncode == 2
    assert "set GANGLIOSIDE_BROKER" in beat.stderr and "Traceback" not in beat.stderr

    worker = cli("worker", "--once", env={**env, "GANGLIOSIDE_BROKER": "redis://127.0.0.1:1/0"})
    assert worker.returncode == 2
    assert "embedded worker only" in worker.stderr and "Traceback" not in worker.stderr


def test_celery_settings_for_long_analyses():
    from ganglioside.runs.celery_app import RUN_TASK, VISIBILITY_TIMEOUT, app

    conf = app.conf
    assert conf.task_acks_late and conf.task_reject_on_worker_lost
    assert conf.worker_prefetch_multiplier == 1 and conf.task_ignore_result
    assert conf.broker_transport_options["visibility_timeout"] == VISIBILITY_TIMEOUT >= 3600
    assert RUN_TASK in app.tasks


def test_a_bad_setting_is_named_without_a_traceback(tmp_path):
    env = {**os.environ, "GANGLIOSIDE_DB": str(tmp_path / "s.db"),
           "GANGLIOSIDE_BROKER": "redis://127.0.0.1:1/0", "GANGLIOSIDE_STALE_AFTER": "soon"}
    worker = cli("worker", env=env)
    assert worker.returncode == 2
    assert "GANGLIOSIDE_STALE_AFTER = 'soon' is not a number of seconds" in worker.stderr
    assert "Traceback" not in worker.stderr
