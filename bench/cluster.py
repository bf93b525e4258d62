"""A local scale-out profile on one machine: ``make cluster`` / ``make cluster-stop``.

Starts PostgreSQL and Redis from the installed binaries (a temporary folder, free ports: never the
machine's own servers), two Celery workers (two "host" folders), beat, and the dashboard on
$PORT (8501), all with the same GANGLIOSIDE_DB and GANGLIOSIDE_BROKER; prints them, then waits.
Ctrl-C, SIGTERM or ``python bench/cluster.py stop`` (``make cluster-stop``) stops every process
and server and deletes the folder (the runs with it: this profile is for trying, not keeping).

    python bench/cluster.py [--port 8501] [--workers 2]
    python bench/cluster.py stop
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
STATE = ROOT / "data" / "cluster.json"   # the running cluster: its supervisor's pid, its URLs

from tests.celery_scenarios import Cluster  # noqa: E402
from tests.postgresql_server import PostgreSQLServer  # noqa: E402
from tests.redis_server import RedisServer  # noqa: E402


def start(port: int, workers: int) -> int:
    if STATE.exists():
        print(f"a cluster seems to be running ({STATE}); run `make cluster-stop` first",
              file=sys.stderr)
        return 2
    stopping = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stopping.set())
    folder = Path(tempfile.mkdtemp(prefix="ganglioside-cluster-"))
    with ExitStack() as cleanup:
        cleanup.callback(STATE.unlink, missing_ok=True)  # last: `stop` waits for it
        cleanup.callback(shutil.rmtree, folder, ignore_errors=True)
        cleanup.callback(print, "cluster stopped", file=sys.stderr)
        postgresql = _started(PostgreSQLServer(), cleanup)
        db_url = cleanup.enter_context(postgresql.database())
        broker = _started(RedisServer(), cleanup).url()
        cluster = Cluster(broker, db_url, folder, heartbeat_interval=5, stale_after=60,
                          reconcile_interval=30)
        cleanup.callback(cluster.stop)
        for number in range(workers):
            cluster.worker(host=f"host-{number + 1}")
        cluster.beat()
        cleanup.callback(_stop_app, _start_app(cluster.environment("app"), port))
        STATE.parent.mkdir(parents=True, exist_ok=True)
        STATE.write_text(json.dumps({"pid": os.getpid(), "folder": str(folder),
                                     "GANGLIOSIDE_DB": db_url, "GANGLIOSIDE_BROKER": broker}))
        print(f"dashboard  http://localhost:{port}\nGANGLIOSIDE_DB={db_url}\n"
              f"GANGLIOSIDE_BROKER={broker}\nlogs in {folder}/*/\n"
              "stop with Ctrl-C or `make cluster-stop`", flush=True)
        stopping.wait()
        print("stopping the cluster…", file=sys.stderr, flush=True)
    return 0


def _started(server, cleanup: ExitStack):
    """Start a server (PostgreSQLServer, RedisServer), stopped when cleanup closes."""
    server.start()
    cleanup.callback(server.stop)
    return server


def _start_app(environment: dict, port: int) -> subprocess.Popen:
    log = Path(environment["HOME"]) / "app.log"
    with open(log, "ab") as stream:
        return subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port",
             str(port), "--server.headless", "true"], cwd=ROOT, env=environment,
            start_new_session=True, stdout=stream, stderr=subprocess.STDOUT)


def _stop_app(app: subprocess.Popen) -> None:
    app.terminate()
    try:
        app.wait(20)
    except subprocess.TimeoutExpired:
        app.kill()


def stop() -> int:
    """Ask the running cluster's supervisor to stop, and wait until everything has stopped."""
    if not STATE.exists():
        print("no cluster is running", file=sys.stderr)
        return 0
    pid = json.loads(STATE.read_text())["pid"]
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        STATE.unlink(missing_ok=True)
        return 0
    deadline = time.monotonic() + 60
    while STATE.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    return 0 if not STATE.exists() else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", nargs="?", choices=("start", "stop"), default="start")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8501)))
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    return start(args.port, args.workers) if args.action == "start" else stop()


if __name__ == "__main__":
    sys.exit(main())
