"""Store faults on real files and a real server: each becomes a message, never a traceback.

Every fault is made for real: a full disk (a tmpfs of a few hundred kB), a read-only mount (a
tmpfs remounted read-only; chmod when not root), a damaged header, overwritten pages, and a
PostgreSQL server that was stopped. For each, the CLI's commands end with exit status 2 and one
message that says what happened and what to do (or succeed, where the store is still readable),
and the app shows the message on Analyze, History and Results while Method still works.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from ganglioside.errors import StoreLocked
from ganglioside.runs.store import RunStore
from tests.postgresql_server import PostgreSQLServer

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO.parent / "shared" / "data" / "testwork_user.csv"
OTHER_TABLE = b"Name,RT,Volume,Log P,Anchor\nGM1(36:1;O2),10.4,500000,4.0,F\n"
USAGE_ERROR = 2
PAGE_SIZE = 4096


@dataclass
class Fault:
    """A store with one completed and one pending run, then broken in one way."""

    target: str          # GANGLIOSIDE_DB
    completed_run: str
    advice: str          # words of the message that says what to do
    readable: bool       # whether reading the runs may still work


def cli(target: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ganglioside", *args], cwd=REPO,
                          env={**os.environ, "GANGLIOSIDE_DB": target},
                          capture_output=True, text=True, timeout=timeout)


def fill_store(target: str) -> str:
    """A completed run and a pending one, written by the CLI (no engine of this process ever
    opens the file, so nothing is cached when it breaks); the completed run's id."""
    done = cli(target, "submit", str(SAMPLE), "--name", "done")
    assert done.returncode == 0, done.stderr
    assert cli(target, "worker", "--once").returncode == 0
    pending = cli(target, "submit", str(SAMPLE), "--name", "waiting")
    assert pending.returncode == 0, pending.stderr
    return done.stdout.strip()


def as_root() -> bool:
    return os.geteuid() == 0


@contextmanager
def tmpfs(size: str) -> Iterator[Path]:
    """A small RAM file system mounted for the test (root only)."""
    folder = Path(tempfile.mkdtemp(prefix="ganglioside-tmpfs-"))
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                   check=True)
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)
        folder.rmdir()


@contextmanager
def disk_full() -> Iterator[Fault]:
    if not as_root():
        pytest.skip("mounting a tiny tmpfs needs root (CI runs as root)")
    with tmpfs("2m") as folder:
        target = str(folder / "store.db")
        run_id = fill_store(target)
        with open(folder / "filler", "wb", buffering=0) as filler:  # take every free byte
            with suppress(OSError):
                while True:
                    filler.write(b"\0" * PAGE_SIZE)
        yield Fault(target, run_id, "Free disk space", readable=True)


@contextmanager
def read_only() -> Iterator[Fault]:
    if as_root():  # root writes through permissions: mount the folder read-only instead
        with tmpfs("64m") as folder:
            target = str(folder / "store.db")
            run_id = fill_store(target)
            subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
            yield Fault(target, run_id, "writable", readable=True)
        return
    folder = Path(tempfile.mkdtemp(prefix="ganglioside-ro-"))
    target = str(folder / "store.db")
    run_id = fill_store(target)
    for path in [*folder.iterdir(), folder]:
        path.chmod(0o555 if path.is_dir() else 0o444)
    try:
        yield Fault(target, run_id, "writable", readable=True)
    finally:
        folder.chmod(0o755)
        shutil.rmtree(folder)


@contextmanager
def damaged(tmp_path: Path, offset: int, length: int) -> Iterator[Fault]:
    target = str(tmp_path / "store.db")
    run_id = fill_store(target)
    assert not Path(target + "-wal").exists() or Path(target + "-wal").stat().st_size == 0
    noise = random.Random(offset).randbytes(length)
    with open(target, "r+b") as file:
        file.seek(offset)
        file.write(noise)
    yield Fault(target, run_id, "restore it from your latest backup", readable=False)


@contextmanager
def server_down() -> Iterator[Fault]:
    server = PostgreSQLServer().start()
    try:
        with server.database() as url:
            run_id = fill_store(url)
            server.executor.stop()
            yield Fault(url, run_id, "Check that the database server is running",
                        readable=False)
            server.executor.start()
    finally:
        server.stop()


FAULTS = {
    "disk full": lambda tmp_path: disk_full(),
    "read-only": lambda tmp_path: read_only(),
    "damaged header": lambda tmp_path: damaged(tmp_path, 0, 100),
    "overwritten pages": lambda tmp_path: damaged(tmp_path, PAGE_SIZE, 12 * PAGE_SIZE),
    "server down": lambda tmp_path: server_down(),
}
FAULT_PARAMS = [pytest.param(name, marks=[pytest.mark.postgresql] if name == "server down"
                             else []) for name in FAULTS]


@pytest.fixture(params=FAULT_PARAMS)
def fault(request, tmp_path) -> Iterator[Fault]:
    with FAULTS[request.param](tmp_path) as made:
        yield made


def assert_message(result: subprocess.CompletedProcess, fault: Fault) -> None:
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == USAGE_ERROR, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("error: ") and fault.advice in lines[-1], result.stderr
    assert "***" in lines[-1] or fault.target in lines[-1] or "store.db" in lines[-1]


# ---- the command line -------------------------------------------------------------------------

@pytest.mark.slow
def test_every_command_ends_with_a_message_and_status_2(fault, tmp_path):
    table = tmp_path / "other.csv"
    table.write_bytes(OTHER_TABLE)
    assert_message(cli(fault.target, "submit", str(table), "--name", "new"), fault)
    assert_message(cli(fault.target, "worker", "--once"), fault)
    for reading in (["runs", "list"], ["runs", "show", fault.completed_run]):
        result = cli(fault.target, *reading)
        if fault.readable and result.returncode == 0:
            assert "done" in result.stdout or fault.completed_run in result.stdout
        else:
            assert_message(result, fault)


WORKER_FAULTS = ["damaged header", "overwritten pages",
                 pytest.param("server down", marks=pytest.mark.postgresql)]


@pytest.mark.slow
@pytest.mark.parametrize("fault_name", WORKER_FAULTS)
def test_the_long_running_worker_ends_at_once_on_a_store_broken_at_start(fault_name, tmp_path):
    """Without --once the worker used to log the fault every second forever; a store that cannot
    be used when it starts now ends it like every other command (a supervisor may retry)."""
    with FAULTS[fault_name](tmp_path) as fault:
        try:
            result = cli(fault.target, "worker", "--poll-interval", "0.1", timeout=60)
        except subprocess.TimeoutExpired as expired:
            log = (expired.stderr or b"").decode(errors="replace")
            pytest.fail(f"the worker kept running on a broken store: ...{log[-600:]}")
    assert_message(result, fault)
    assert "worker started" not in result.stderr
    assert result.stderr.count(fault.advice) == 1, result.stderr


@pytest.mark.slow
@pytest.mark.postgresql
def test_the_long_running_worker_outlives_a_database_server_restart(tmp_path):
    """A fault after the start is logged and retried, never the end of the worker: the runs
    submitted after the server is back are executed by the same process; the outage is logged
    when it starts and when it ends, not at every poll."""
    log = tmp_path / "worker.log"
    server = PostgreSQLServer().start()
    try:
        with server.database() as url, open(log, "w") as log_file:
            store = RunStore(url)
            worker = subprocess.Popen(
                [sys.executable, "-m", "ganglioside", "worker", "--poll-interval", "0.1"],
                cwd=REPO, env={**os.environ, "GANGLIOSIDE_DB": url}, stderr=log_file)
            try:
                before = store.create_run(OTHER_TABLE, "before.csv")
                wait_until(lambda: store.get_run(before).status == "completed")
                store.close()
                server.executor.stop()
                wait_until(lambda: "Check that the database server is running"
                           in log.read_text())
                time.sleep(OUTAGE_SECONDS)  # some 20 polls of each thread fail meanwhile
                assert worker.poll() is None, log.read_text()
                server.executor.start()
                after = store.create_run(OTHER_TABLE, "after.csv", name="after the restart")
                wait_until(lambda: store.get_run(after).status == "completed")
                assert worker.poll() is None, log.read_text()
                worker.send_signal(signal.SIGTERM)
                assert worker.wait(timeout=30) == 0
            finally:
                if worker.poll() is None:
                    worker.kill()
                    worker.wait()
                store.close()
    finally:
        server.stop()
    text = log.read_text()
    assert "Traceback" not in text and text.count("worker started") == 1, text
    # logged when it started, not at every failed poll (about 10 in 2 s): once per message a stopping
    # server gives, by the claiming and by the upkeep loop
    assert 1 <= text.count("worker step failed") <= 4, text
    assert 1 <= text.count("the run store works again") <= 2, text


OUTAGE_SECONDS = 2.0


def wait_until(predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


# ---- the app ----------------------------------------------------------------------------------

@pytest.fixture
def app_on(monkeypatch):
    def open_app(fault: Fault) -> AppTest:
        monkeypatch.setenv("GANGLIOSIDE_DB", fault.target)
        monkeypatch.setenv("GANGLIOSIDE_EXECUTOR", "sync")
        st.cache_data.clear()
        st.cache_resource.clear()
        return AppTest.from_file(str(REPO / "app.py"), default_timeout=60).run()
    yield open_app
    st.cache_data.clear()
    st.cache_resource.clear()


def shown_errors(app: AppTest) -> str:
    return "\n".join(str(e.value) for e in [*app.error, *app.sidebar.error]).replace("\\", "")


def button(app: AppTest, key: str):
    return next(b for b in app.button if b.key == key)


@pytest.mark.slow
def test_every_page_shows_the_message_and_method_still_works(fault, app_on):
    app = app_on(fault)
    assert not app.exception, [e.value for e in app.exception]
    button(app, "analyze_demo").click().run()      # the preview needs no store
    assert any(m.label == "Rows" for m in app.metric)
    button(app, "analyze_run").click().run()       # submitting does
    assert not app.exception, [e.value for e in app.exception]
    assert fault.advice in shown_errors(app)

    for page, run_id in (("history", None), ("results", fault.completed_run)):
        if run_id:
            app.query_params["run"] = run_id
        app.switch_page(f"app_pages/{page}.py").run()
        assert not app.exception, [e.value for e in app.exception]
        if not fault.readable:
            assert fault.advice in shown_errors(app), page

    app.switch_page("app_pages/method.py").run()
    assert not app.exception, [e.value for e in app.exception]
    assert all(fault.advice in str(e.value).replace("\\", "") for e in app.error)
    assert "What each status means" in [header.value for header in app.subheader]


# ---- a lock held too long -------------------------------------------------------------------

def test_a_lock_held_past_the_busy_timeout_is_a_message(tmp_path):
    path = tmp_path / "store.db"
    RunStore(path).counts()                      # create the file and its schema
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")            # another process's write lock
    try:
        with pytest.raises(StoreLocked) as locked:
            RunStore(path, busy_timeout=0.5).create_run(OTHER_TABLE, "other.csv")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert str(path) in str(locked.value) and "wait and try again" in str(locked.value)
