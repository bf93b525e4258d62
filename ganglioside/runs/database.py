"""Where the run store lives: its URL, one connection pool per database and process, and the few
places where SQLite and PostgreSQL differ.

``GANGLIOSIDE_DB`` (or the target given to ``open_database``) is either a file path, for the
embedded SQLite default, or a URL: ``sqlite:///path/to/file.db`` or
``postgresql+psycopg://user@host:port/dbname`` (``postgresql://`` means the same; the password,
if any, goes in the URL or in libpq's ``~/.pgpass``).

Transactions. Every write is one transaction that takes its lock first: SQLite starts it with
``BEGIN IMMEDIATE`` (the file's write lock; WAL mode, so readers never wait, and writers wait up
to the busy timeout instead of failing); PostgreSQL runs it at READ COMMITTED and the store locks
the rows it changes (``SELECT ... FOR UPDATE``, ``SKIP LOCKED`` where a worker picks a run).

Processes. Each process has its own engine (connection pool) per database, shared by every
``RunStore`` of that database in the process. A child created by ``fork`` (multiprocessing's
default on Linux) starts with an empty pool: it never touches its parent's connections.

The schema is brought to the newest migration (``migrations``) the first time a process uses a
database; several processes starting at once take turns (SQLite's write lock, a PostgreSQL
advisory lock), and a database already up to date costs one read.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, Table, create_engine, event, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from ..errors import GangliosideError
from . import migrations

DB_ENV_VAR = "GANGLIOSIDE_DB"
DEFAULT_DB_PATH = Path("data") / "ganglioside.db"
BACKENDS = ("sqlite", "postgresql")
SCHEMA_LOCK_KEY = 0x67616E676C  # PostgreSQL advisory lock taken while the schema is upgraded
POSTGRESQL_CONNECT_TIMEOUT = 10  # seconds; a URL's own connect_timeout wins
_WRITE_OPTION = "ganglioside_write"

Result = TypeVar("Result")


class DatabaseError(GangliosideError):
    """The run store's database cannot be named, opened or reached."""


def database_url(target: str | os.PathLike | None = None) -> URL:
    """The URL of the run store: target (a file path or a URL), else $GANGLIOSIDE_DB, else
    data/ganglioside.db in the working directory. A file path becomes an absolute sqlite URL."""
    text = os.fspath(target) if target is not None else os.environ.get(DB_ENV_VAR, "").strip()
    if not text:
        text = os.fspath(DEFAULT_DB_PATH)
    if "://" not in text:
        return URL.create("sqlite", database=str(Path(text).expanduser().absolute()))
    try:
        url = make_url(text)
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        raise DatabaseError(f"{DB_ENV_VAR}: '{text}' is neither a file path nor a database "
                            "URL.") from None
    if url.get_backend_name() == "postgres":
        url = url.set(drivername="postgresql")
    if url.get_backend_name() not in BACKENDS:
        raise DatabaseError(f"{DB_ENV_VAR}: '{url.render_as_string()}' names an unsupported "
                            "database; use a file path, sqlite:///… or postgresql+psycopg://….")
    if url.get_backend_name() == "postgresql":
        return url.set(drivername="postgresql+psycopg")
    if not url.database or url.database == ":memory:":
        raise DatabaseError(f"{DB_ENV_VAR}: an in-memory SQLite database cannot be shared; "
                            "name a file.")
    return url


class Database:
    """One store database as seen by this process: its engine, made on first use (creating the
    SQLite file's folder and upgrading the schema), and its read and write transactions."""

    def __init__(self, url: URL, busy_timeout: float = 30.0):
        self.url = url
        self.busy_timeout = busy_timeout
        self.backend = url.get_backend_name()
        self._engine: Engine | None = None
        self._lock = threading.Lock()

    @property
    def path(self) -> Path | None:
        """The SQLite file; None for a database server."""
        return Path(self.url.database) if self.backend == "sqlite" else None

    @property
    def location(self) -> str:
        """Where the store is, for people: the file, or the URL without its password."""
        return str(self.path) if self.path else self.url.render_as_string(hide_password=True)

    @property
    def engine(self) -> Engine:
        """This process's engine (connection pool), with the schema upgraded."""
        with self._lock:
            if self._engine is None:
                engine = self._create_engine()
                try:
                    self._upgrade_schema(engine)
                except BaseException:
                    engine.dispose()
                    raise
                self._engine = engine
            return self._engine

    def dispose(self) -> None:
        """Close this process's idle connections (later use opens new ones)."""
        with self._lock:
            if self._engine is not None:
                self._engine.dispose()

    def forget_connections(self) -> None:
        """In a forked child: drop the parent's pool without closing its connections."""
        if self._engine is not None:
            self._engine.dispose(close=False)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection for reads (SQLite: one snapshot; PostgreSQL: READ COMMITTED)."""
        with self._begin(self.engine, write=False) as conn:
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction: committed when the block ends, rolled back if it raises."""
        with self._begin(self.engine, write=True) as conn:
            yield conn

    def insert(self, table: Table) -> Any:
        """INSERT with this dialect's ``on_conflict_do_update`` / ``on_conflict_do_nothing``."""
        dialect = postgresql if self.backend == "postgresql" else sqlite
        return dialect.insert(table)

    @staticmethod
    def _is_lock_error(error: BaseException) -> bool:
        """SQLite's "database is locked" (or busy): another process holds the file's lock."""
        original = error.orig if isinstance(error, DBAPIError) else error
        text = str(original).lower()
        return isinstance(original, sqlite3.OperationalError) and ("locked" in text
                                                                   or "busy" in text)

    def _retry_locked(self, action: Callable[[], Result]) -> Result:
        """Run action, trying again on SQLite lock errors until the busy timeout has passed:
        setting up WAL can fail at once instead of waiting. (PostgreSQL waits for row locks
        inside the transaction, and the store takes them in an order that cannot deadlock.)"""
        deadline = time.monotonic() + self.busy_timeout
        delay = 0.005
        while True:
            try:
                return action()
            except (DBAPIError, sqlite3.OperationalError) as error:
                if not self._is_lock_error(error) or time.monotonic() > deadline:
                    raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)

    # ---- internals ------------------------------------------------------------------------

    def _create_engine(self) -> Engine:
        if self.backend == "sqlite":
            self.path.parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(self.url, max_overflow=-1, connect_args={
                "timeout": self.busy_timeout, "check_same_thread": False})
            event.listen(engine, "connect", _prepare_sqlite_connection)
            event.listen(engine, "begin", _begin_sqlite_transaction)
            return engine
        query = self.url.query
        connect_args = {} if "connect_timeout" in query else {
            "connect_timeout": POSTGRESQL_CONNECT_TIMEOUT}
        if "application_name" not in query:
            connect_args["application_name"] = "ganglioside"
        return create_engine(self.url, pool_pre_ping=True, connect_args=connect_args)

    @contextmanager
    def _begin(self, engine: Engine, write: bool) -> Iterator[Connection]:
        conn = self._retry_locked(lambda: self._connect(engine, write))
        try:
            yield conn
        except BaseException:
            with suppress(DBAPIError):  # a lost connection must not hide the first error
                conn.rollback()
            raise
        else:
            conn.commit()
        finally:
            conn.close()

    def _connect(self, engine: Engine, write: bool) -> Connection:
        try:
            conn = engine.connect()
        except DBAPIError as error:
            if self._is_lock_error(error):
                raise
            raise DatabaseError(f"Cannot open the run store at {self.location}: "
                                f"{_first_line(error.orig or error)}") from error
        try:
            conn.execution_options(**{_WRITE_OPTION: write})
            conn.begin()
        except BaseException:
            conn.close()
            raise
        return conn

    def _upgrade_schema(self, engine: Engine) -> None:
        """Bring the schema to the newest migration; a no-op read when it is there already."""
        with self._begin(engine, write=False) as conn:
            current = migrations.current_revision(conn)
        known = migrations.revisions()
        if current == known[-1]:
            return
        if current is not None and current not in known:
            raise DatabaseError(f"The run store at {self.location} has schema revision "
                                f"{current}, which this program does not know (its newest is "
                                f"{known[-1]}): it was written by a newer version; update.")
        with self._begin(engine, write=True) as conn:
            if self.backend == "postgresql":  # processes starting together take turns
                conn.execute(select(func.pg_advisory_xact_lock(SCHEMA_LOCK_KEY)))
            migrations.upgrade(conn)


def _prepare_sqlite_connection(dbapi_connection: sqlite3.Connection, record: Any) -> None:
    """Each new SQLite connection: we emit BEGIN ourselves, WAL journal, normal syncs."""
    dbapi_connection.isolation_level = None
    mode = dbapi_connection.execute("PRAGMA journal_mode").fetchone()[0]
    if mode != "wal":
        dbapi_connection.execute("PRAGMA journal_mode = WAL")
    dbapi_connection.execute("PRAGMA synchronous = NORMAL")


def _begin_sqlite_transaction(conn: Connection) -> None:
    """Writes take the write lock at BEGIN (no upgrade from a read lock that could fail);
    reads take a snapshot."""
    write = conn.get_execution_options().get(_WRITE_OPTION, True)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


# ---- one Database per URL and process ------------------------------------------------------

_databases: weakref.WeakValueDictionary[tuple[str, float], Database] = \
    weakref.WeakValueDictionary()
_databases_lock = threading.Lock()


def open_database(target: str | os.PathLike | None = None,
                  busy_timeout: float = 30.0) -> Database:
    """The Database of target (see ``database_url``), shared within this process while used."""
    url = database_url(target)
    key = (url.render_as_string(hide_password=False), busy_timeout)
    with _databases_lock:
        database = _databases.get(key)
        if database is None:
            database = _databases[key] = Database(url, busy_timeout)
        return database


def _forget_connections_after_fork() -> None:
    """In a forked child: fresh pools, and fresh locks (a parent's thread may have held one)."""
    global _databases_lock
    _databases_lock = threading.Lock()
    for database in list(_databases.values()):
        database._lock = threading.Lock()
        database.forget_connections()


os.register_at_fork(after_in_child=_forget_connections_after_fork)
