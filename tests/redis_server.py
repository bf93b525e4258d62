"""A real Redis server for the tests, started from the installed redis-server on a free port.

pytest-redis's ``RedisExecutor`` starts and stops it, with its files in a temporary folder. It
keeps nothing on disk (``save ""``), like a broker restarted without persistence: a restart
empties its queues, which the reconciler must repair.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import redis
from port_for import get_port
from pytest_redis.executor import RedisExecutor

HOST = "127.0.0.1"


def find_redis_server() -> str:
    found = shutil.which("redis-server") or ("/usr/bin/redis-server"
                                             if Path("/usr/bin/redis-server").exists() else None)
    if not found:
        raise RuntimeError("redis-server was not found: install Debian's redis-server package "
                           "(.ci/run does).")
    return found


class RedisServer:
    """One server; ``url(n)`` names its database n."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="ganglioside-redis-"))
        self.port = get_port(None)
        self.executor = RedisExecutor(find_redis_server(), databases=16, redis_timeout=30,
                                      loglevel="notice", host=HOST, port=self.port,
                                      datadir=self.folder)

    def url(self, database: int = 0) -> str:
        return f"redis://{HOST}:{self.port}/{database}"

    def start(self) -> "RedisServer":
        self.executor.start()
        redis.Redis(HOST, self.port).config_set("save", "")  # no snapshot, even at shutdown
        return self

    def restart(self) -> None:
        """Stop and start again: every queue is lost."""
        self.executor.stop()
        self.start()

    def stop(self) -> None:
        if self.executor.running():
            self.executor.stop()
        shutil.rmtree(self.folder, ignore_errors=True)
