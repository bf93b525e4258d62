"""A real PostgreSQL server for the tests, started from the installed binaries.

It listens on 127.0.0.1 on a free port and keeps its data in a temporary folder, never the
machine's own server. PostgreSQL refuses to run as root, so when the tests run as root (CI does)
``pg_ctl`` runs as the ``postgres`` user through a small wrapper script, in a folder that user
owns. pytest-postgresql starts and stops it (``PostgreSQLExecutor``) and creates and drops the
databases (``DatabaseJanitor``).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from port_for import get_port
from pytest_postgresql.executors import PostgreSQLExecutor
from pytest_postgresql.janitor import DatabaseJanitor

PG_CTL_ENV_VAR = "GANGLIOSIDE_TEST_PG_CTL"
SERVER_USER = "postgres"
HOST = "127.0.0.1"
# A throwaway server: durability is not under test (clients are killed, never the server).
SERVER_OPTIONS = ("-c max_connections=300 -c fsync=off -c synchronous_commit=off "
                  "-c full_page_writes=off")


def find_pg_ctl() -> str:
    """$GANGLIOSIDE_TEST_PG_CTL, else the newest /usr/lib/postgresql/*/bin/pg_ctl (Debian),
    else pg_ctl on the PATH."""
    named = os.environ.get(PG_CTL_ENV_VAR)
    if named:
        return named
    installed = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
                       key=lambda path: int(Path(path).parts[-3]))
    found = installed[-1] if installed else shutil.which("pg_ctl")
    if not found:
        raise RuntimeError("PostgreSQL's pg_ctl was not found: install Debian's postgresql "
                           f"package (.ci/run does) or set {PG_CTL_ENV_VAR}.")
    return found


class PostgreSQLServer:
    """One server for a test session; ``database()`` gives each test a fresh database."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="ganglioside-pg-"))
        self.port = get_port(None)
        self.executor = PostgreSQLExecutor(
            executable=self._pg_ctl(), host=HOST, port=self.port,
            datadir=str(self.folder / "data"), unixsocketdir=str(self.folder),
            logfile=str(self.folder / "server.log"), startparams="-w",
            dbname="ganglioside_tests", user="postgres", postgres_options=SERVER_OPTIONS)
        self._databases = 0

    def _pg_ctl(self) -> str:
        """pg_ctl itself, or as root a wrapper that runs it as the postgres user."""
        pg_ctl = find_pg_ctl()
        if os.geteuid() != 0:
            return pg_ctl
        wrapper = self.folder / "pg_ctl"
        wrapper.write_text(f'#!/bin/sh\ncd /\nexec runuser -u {SERVER_USER} -- "{pg_ctl}" "$@"\n')
        wrapper.chmod(stat.S_IRWXU)
        account = pwd.getpwnam(SERVER_USER)
        os.chown(self.folder, account.pw_uid, account.pw_gid)
        return str(wrapper)

    def start(self) -> "PostgreSQLServer":
        try:
            self.executor.start()
        except Exception as error:
            log = self.folder / "server.log"
            detail = log.read_text(errors="replace") if log.exists() else "(no server log)"
            self.stop()
            raise RuntimeError(f"PostgreSQL did not start: {error}\n{detail}") from error
        return self

    def stop(self) -> None:
        if self.executor.running():
            self.executor.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    @contextmanager
    def database(self) -> Iterator[str]:
        """A new empty database for the duration of the block; its URL."""
        self._databases += 1
        name = f"store_{os.getpid()}_{self._databases}"
        janitor = DatabaseJanitor(user="postgres", host=HOST, port=self.port, dbname=name)
        janitor.init()
        try:
            yield f"postgresql+psycopg://postgres@{HOST}:{self.port}/{name}"
        finally:
            janitor.drop()
