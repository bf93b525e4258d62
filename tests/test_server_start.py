"""The worker and stale-run recovery start with the server (serve.py), with no page ever opened.

The real server runs in a subprocess on a free port with a temporary store; the test talks to
the store only (through the CLI and RunStore), never to the server over HTTP. The times it
measures are printed (``-s``) for the README.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ganglioside.runs.store import RunStore

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO.parent / "shared" / "data" / "testwork_user.csv"
STALE_AFTER = 60.0   # the embedded worker's default: a run is recovered this long after its
                     # last heartbeat
TIMEOUT = 300.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(db: Path) -> subprocess.Popen:
    """``streamlit run serve.py`` in its own process group (so the test can kill all of it)."""
    return subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "serve.py", "--server.headless", "true",
         "--server.port", str(free_port()), "--browser.gatherUsageStats", "false"],
        cwd=REPO, env={**os.environ, "GANGLIOSIDE_DB": str(db)}, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def kill_group(server: subprocess.Popen) -> None:
    try:
        os.killpg(server.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    server.wait()


def group_gone(group: int, within: float) -> bool:
    """Whether every process of the group has ended within so many seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


def submit(db: Path, table: Path, name: str) -> str:
    done = subprocess.run([sys.executable, "-m", "ganglioside", "submit", str(table), "--name",
                           name], cwd=REPO, env={**os.environ, "GANGLIOSIDE_DB": str(db)},
                          capture_output=True, text=True, check=True)
    return done.stdout.strip()


def wait_for(store: RunStore, run_id: str, statuses: set[str]) -> float:
    """Seconds until the run reaches one of statuses."""
    start = time.monotonic()
    while store.get_run(run_id).status not in statuses:
        assert time.monotonic() - start < TIMEOUT, store.get_run(run_id)
        time.sleep(0.1)
    return time.monotonic() - start


@pytest.mark.slow
def test_a_run_submitted_from_the_cli_completes_with_no_page_open(tmp_path):
    db = tmp_path / "store.db"
    run_id = submit(db, SAMPLE, "from the command line")
    store = RunStore(db)
    server = start_server(db)
    try:
        started = wait_for(store, run_id, {"processing", "completed", "failed"})
        finished = wait_for(store, run_id, {"completed", "failed"}) + started
    finally:
        kill_group(server)
    record = store.get_run(run_id)
    assert record.status == "completed", record.error
    assert store.load_result(run_id) is not None
    print(f"\nserver start -> pending run started {started:.1f} s, completed {finished:.1f} s")


@pytest.mark.slow
def test_a_run_interrupted_by_kill_9_is_recovered_after_restart_with_no_page_open(tmp_path):
    db = tmp_path / "store.db"
    table = tmp_path / "big.csv"
    subprocess.run([sys.executable, "-m", "ganglioside", "demo", "--rows", "60000", "--out",
                    str(table)], cwd=REPO, check=True, capture_output=True)
    run_id = submit(db, table, "interrupted")
    store = RunStore(db)
    server = start_server(db)
    try:
        wait_for(store, run_id, {"processing"})
        time.sleep(1.0)
        assert store.get_run(run_id).status == "processing", "the run ended before the kill"
        os.kill(server.pid, signal.SIGKILL)  # the server only: its job process must follow
        server.wait()
        assert group_gone(server.pid, within=15.0), "the job outlived its server"
    finally:
        kill_group(server)

    restarted = start_server(db)
    try:
        recovered = wait_for(store, run_id, {"completed", "failed"})
    finally:
        kill_group(restarted)
    record = store.get_run(run_id)
    assert record.status == "completed", record.error
    assert record.attempts == 2
    assert store.integrity_check() == "ok"
    print(f"\nrestart after kill -9 -> recovered run completed {recovered:.1f} s "
          f"(of which {STALE_AFTER:.0f} s waiting for its heartbeat to go stale)")
