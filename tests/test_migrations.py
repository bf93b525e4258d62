"""Schema migrations: today's SQLite files upgrade in place, every database ends at the schema of
``schema.py``, processes starting together upgrade once, and a newer schema is refused."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import sqlite3
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from ganglioside import analyze, read_table
from ganglioside.export import to_json
from ganglioside.params import AnalysisParams
from ganglioside.runs import migrations
from ganglioside.runs.database import SCHEMA_LOCK_KEY
from ganglioside.runs.job import run_job
from ganglioside.runs.schema import metadata
from ganglioside.runs.store import RunStore, _result_blob
from ganglioside.runs.access import Actor, PermissionDenied
from tests.store_support import ADMIN, query

REPO = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SAMPLE, SMALL = DATA / "testwork_user.csv", DATA / "testwork_small.csv"
T0 = 1_764_000_000.0
STATUSES = ("pending", "processing", "completed", "failed", "cancelled")

# The schema as the store wrote it before migrations existed (store.py of commit 4886e1a),
# verbatim: the tables of every lab's existing database file.
LEGACY_SCHEMA = (
    f"""CREATE TABLE IF NOT EXISTS runs (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        user TEXT,
        sample_type TEXT NOT NULL,
        parameters TEXT NOT NULL,
        file_name TEXT NOT NULL,
        sheet TEXT,
        input_sha256 TEXT NOT NULL,
        input_size INTEGER NOT NULL,
        dedupe_key TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN {STATUSES!r}),
        progress REAL NOT NULL DEFAULT 0,
        step TEXT,
        message TEXT,
        error TEXT,
        created_at REAL NOT NULL,
        started_at REAL,
        completed_at REAL,
        heartbeat_at REAL,
        algorithm_version TEXT NOT NULL,
        summary TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        cancel_requested INTEGER NOT NULL DEFAULT 0,
        claim_token TEXT,
        worker TEXT)""",
    "CREATE INDEX IF NOT EXISTS runs_by_status ON runs (status, seq)",
    """CREATE UNIQUE INDEX IF NOT EXISTS runs_active_dedupe ON runs (dedupe_key)
        WHERE status IN ('pending', 'processing')""",
    "CREATE TABLE IF NOT EXISTS inputs (sha256 TEXT PRIMARY KEY, data BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS results (run_id TEXT PRIMARY KEY, data BLOB NOT NULL)",
    "PRAGMA user_version = 1",
)


def legacy_run(run_id: str, data: bytes, status: str, seconds: float, **values) -> dict:
    """A runs row as the pre-migration store wrote it."""
    params = AnalysisParams(**values.pop("params", {}))
    sha256 = hashlib.sha256(data).hexdigest()
    name = values.pop("name", run_id)
    row = dict(id=run_id, name=name, user=None, sample_type=params.sample_type,
               parameters=json.dumps(params.to_dict()), file_name="lab.csv", sheet=None,
               input_sha256=sha256, input_size=len(data),
               dedupe_key=hashlib.sha256(f"{sha256}{name}".encode()).hexdigest(),
               status=status, progress=0.0, step=None, message=None, error=None,
               created_at=T0 + seconds, started_at=None, completed_at=None, heartbeat_at=None,
               algorithm_version=params.algorithm_version, summary=None, attempts=0,
               cancel_requested=0, claim_token=None, worker=None)
    row.update(values)
    return row


@pytest.fixture(scope="module")
def small_result():
    return analyze(read_table(SMALL))


@pytest.fixture
def legacy_file(tmp_path, small_result):
    """A database file written by the pre-migration store: six runs in every state, two inputs
    (one shared by two runs), a result in today's format and one in the older JSON format."""
    path = tmp_path / "lab.db"
    small, sample = SMALL.read_bytes(), SAMPLE.read_bytes()
    summary = json.dumps(small_result.summary)
    done = dict(started_at=T0 + 1, completed_at=T0 + 3, heartbeat_at=T0 + 3, attempts=1)
    rows = [
        legacy_run("c0mpleted0000001", small, "completed", 0, name="Ébauche porcine",
                   user="Kim", progress=1.0, step="complete", message="Analysis complete",
                   summary=summary, claim_token="t1", worker="host:1:w", **done),
        legacy_run("c0mpletedjson002", small, "completed", 1, name="older format",
                   params={"min_anchors": 4}, progress=1.0, summary=summary, **done),
        legacy_run("fa1led0000000003", small, "failed", 2, name="broken",
                   error="Cannot read 'lab.csv':\n- no RT column", **done),
        legacy_run("cance11ed0000004", small, "cancelled", 3, cancel_requested=1,
                   message="Cancelled before it started.", completed_at=T0 + 5),
        legacy_run("pend1ng000000005", sample, "pending", 4, name="brain run 3",
                   message="Waiting for a worker…"),
        legacy_run("process1ng000006", sample, "processing", 5, name="stuck", attempts=1,
                   started_at=T0 + 6, heartbeat_at=T0 + 6, claim_token="t6",
                   worker="gone:6:w", progress=0.4),
    ]
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode = WAL")
        for statement in LEGACY_SCHEMA:
            conn.execute(statement)
        columns = list(rows[0])
        conn.executemany(f"INSERT INTO runs ({', '.join(columns)}) VALUES "
                         f"({', '.join('?' * len(columns))})",
                         [tuple(row[c] for c in columns) for row in rows])
        conn.executemany("INSERT INTO inputs VALUES (?, ?)",
                         [(hashlib.sha256(d).hexdigest(), d) for d in (small, sample)])
        conn.executemany("INSERT INTO results VALUES (?, ?)", [
            ("c0mpleted0000001", _result_blob(small_result)),
            ("c0mpletedjson002", zlib.compress(to_json(small_result), 6))])
    return path


def schema_differences(store: RunStore) -> list:
    """What Alembic finds different between the database and schema.py (types included)."""
    with store.database.read() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(context, metadata)


# ---- today's SQLite files --------------------------------------------------------------------

def test_a_pre_migration_file_is_upgraded_in_place_without_losing_anything(legacy_file,
                                                                          small_result):
    store = RunStore(legacy_file, clock=lambda: T0 + 100)
    runs = {run.id: run for run in store.list_runs()}
    assert list(runs) == ["process1ng000006", "pend1ng000000005", "cance11ed0000004",
                          "fa1led0000000003", "c0mpletedjson002", "c0mpleted0000001"]
    first = runs["c0mpleted0000001"]
    assert (first.name, first.user, first.status, first.attempts) == (
        "Ébauche porcine", "Kim", "completed", 1)
    assert first.created_at.timestamp() == T0 and first.duration_seconds == 2.0
    assert first.summary == json.loads(json.dumps(small_result.summary))
    assert runs["c0mpletedjson002"].parameters["min_anchors"] == 4
    assert runs["fa1led0000000003"].error == "Cannot read 'lab.csv':\n- no RT column"
    assert runs["cance11ed0000004"].cancel_requested is True
    assert runs["process1ng000006"].progress == 0.4
    assert store.counts() == {"pending": 1, "processing": 1, "completed": 2, "failed": 1,
                              "cancelled": 1}
    assert store.load_input("pend1ng000000005") == SAMPLE.read_bytes()
    for run_id in ("c0mpleted0000001", "c0mpletedjson002"):
        assert to_json(store.load_result(run_id)) == to_json(small_result)
    # the search column was filled for the old runs
    assert [run.id for run in store.list_runs(text="éBAUCHE")] == ["c0mpleted0000001"]
    assert [run.id for run in store.list_runs(text="kim")] == ["c0mpleted0000001"]
    assert [run.id for run in store.list_runs(text="IN RUN")] == ["pend1ng000000005"]

    assert query(store, "SELECT version_num FROM alembic_version") == [
        (migrations.revisions()[-1],)]
    assert query(store, "PRAGMA user_version") == [(1,)]
    assert store.integrity_check() == "ok"
    # SQLite's own primary keys of the old file may hold NULL in principle (a quirk of
    # "TEXT PRIMARY KEY"); the store never writes one, and rebuilding the tables to forbid it
    # would copy every stored input and result: that difference, and only it, is kept.
    assert {(diff[0][0], diff[0][2], diff[0][3]) for diff in schema_differences(store)} == {
        ("modify_nullable", "runs", "seq"), ("modify_nullable", "inputs", "sha256"),
        ("modify_nullable", "results", "run_id")}


def test_the_upgraded_file_runs_jobs_and_recovers_its_stuck_run(legacy_file):
    store = RunStore(legacy_file)
    assert run_job(store, "pend1ng000000005") == "completed"
    assert len(store.load_result("pend1ng000000005").rows) == 323
    assert store.recover_stale(60).requeued == ["process1ng000006"]
    assert run_job(store, "process1ng000006") == "completed"
    assert store.get_run("process1ng000006").attempts == 2
    new = store.create_run(SMALL.read_bytes(), "again.csv", name="after upgrade")
    assert store.list_runs(text="AFTER")[0].id == new
    store.delete_run("c0mpleted0000001", ADMIN)
    store.purge_run("c0mpleted0000001", ADMIN)  # its input is still used by three runs
    assert store.load_input("c0mpletedjson002") == SMALL.read_bytes()
    assert store.integrity_check() == "ok"


# ---- every backend ----------------------------------------------------------------------------

def test_upgraded_runs_have_an_unknown_owner_that_only_admins_manage(legacy_file):
    store = RunStore(legacy_file)
    assert {run.owner for run in store.list_runs()} == {None}
    assert store.audit_trail("c0mpleted0000001") == []
    with pytest.raises(PermissionDenied, match="unknown"):
        store.delete_run("c0mpleted0000001", Actor("kim@lab.example"))
    store.delete_run("c0mpleted0000001", ADMIN)
    assert [e.action for e in store.audit_trail("c0mpleted0000001")] == ["deleted"]


def test_a_new_database_has_exactly_the_schema_of_schema_py(db_target):
    store = RunStore(db_target)
    store.counts()
    assert schema_differences(store) == []
    assert query(store, "SELECT version_num FROM alembic_version") == [
        (migrations.revisions()[-1],)]
    store.close()


def test_downgrade_then_upgrade_keeps_the_runs_and_refills_the_search(db_target):
    store = RunStore(db_target)
    run_id = store.create_run(SMALL.read_bytes(), "small.csv", name="Ünïcode NAME")
    with store.database.write() as conn:
        command.downgrade(migrations.alembic_config(conn), migrations.revisions()[0])
    with store.database.write() as conn:
        migrations.upgrade(conn)
    assert [run.id for run in store.list_runs(text="üNÏCODE name")] == [run_id]
    assert store.load_input(run_id) == SMALL.read_bytes()
    store.close()


def open_and_submit(target: str, number: int, start: Any) -> str:
    """One process: wait for the others at the barrier, then open the store (upgrading it)
    and submit."""
    start.wait(timeout=120)
    store = RunStore(target)
    return store.create_run(SMALL.read_bytes(), "small.csv", name=f"process {number}")


@contextmanager
def schema_lock_held(target: str) -> Iterator[None]:
    """Hold the lock a process takes to upgrade the schema (SQLite: the file's write lock;
    PostgreSQL: the advisory lock), as a slow first process would."""
    if "://" not in target:
        conn = sqlite3.connect(target, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        yield
        conn.execute("ROLLBACK")
        conn.close()
        return
    with psycopg.connect(target.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK_KEY,))
        yield


@pytest.mark.slow
def test_processes_opening_a_new_database_together_take_turns_to_upgrade_it(db_target):
    processes = 4
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, ProcessPoolExecutor(processes,
                                                           mp_context=context) as pool:
        start = manager.Barrier(processes + 1)  # every process imported: they start together
        with schema_lock_held(db_target):
            answers = [pool.submit(open_and_submit, db_target, number, start)
                       for number in range(processes)]
            start.wait(timeout=120)
            time.sleep(3.0)
            assert not any(answer.done() for answer in answers)  # each waits for the lock
        ids = [answer.result(timeout=120) for answer in answers]
    store = RunStore(db_target)
    assert sorted(run.id for run in store.list_runs()) == sorted(ids)
    assert query(store, "SELECT version_num FROM alembic_version") == [
        (migrations.revisions()[-1],)]
    assert schema_differences(store) == []
    store.close()


def test_a_database_from_a_newer_version_is_refused_with_a_clear_message(db_target):
    query(RunStore(db_target), "UPDATE alembic_version SET version_num = 'f00dfeed'")
    listed = subprocess.run([sys.executable, "-m", "ganglioside", "runs", "list"], cwd=REPO,
                            env={**os.environ, "GANGLIOSIDE_DB": db_target},
                            capture_output=True, text=True, timeout=60)
    assert listed.returncode == 2 and "Traceback" not in listed.stderr
    assert "schema revision f00dfeed" in listed.stderr and "newer version" in listed.stderr
