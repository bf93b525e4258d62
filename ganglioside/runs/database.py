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

import errno
import os
import shutil
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
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError

from ..errors import (StoreCorrupted, StoreFault, StoreFull, StoreLocked, StoreNotWritable,
                      StoreUnreachable)
from . import migrations

DB_ENV_VAR = "GANGLIOSIDE_DB"
DEFAULT_DB_PATH = Path("data") / "ganglioside.db"
BACKENDS = ("sqlite", "postgresql")
SCHEMA_LOCK_KEY = 0x67616E676C  # PostgreSQL advisory lock taken while the schema is upgraded
POSTGRESQL_CONNECT_TIMEOUT = 10  # seconds; a URL's own connect_timeout wins
_WRITE_OPTION = "ganglioside_write"
SQLITE_HEADER = b"SQLite format 3\x00"
QUICK_CHECK_MAX_BYTES = 256 * 2**20  # larger files get the header check only at start

Result = TypeVar("Result")


DatabaseError = StoreFault  # the store's name for it: cannot be named, opened, reached or used


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
                            "URL.", advice="") from None
    if url.get_backend_name() == "postgres":
        url = url.set(drivername="postgresql")
    if url.get_backend_name() not in BACKENDS:
        raise DatabaseError(f"{DB_ENV_VAR}: '{url.render_as_string()}' names an unsupported "
                            "database; use a file path, sqlite:///… or postgresql+psycopg://….",
                            advice="")
    if url.get_backend_name() == "postgresql":
        return url.set(drivername="postgresql+psycopg")
    if not url.database or url.database == ":memory:":
        raise DatabaseError(f"{DB_ENV_VAR}: an in-memory SQLite database cannot be shared; "
                            "name a file.", advice="")
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
                self._check_file_header()
                engine = self._create_engine()
                try:
                    self._check_pages(engine)
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
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise _folder_fault(error, self.location) from error
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
        with self._faults_translated():
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

    @contextmanager
    def _faults_translated(self) -> Iterator[None]:
        """Database and driver errors that are faults of the store (disk full, read-only,
        damaged, unreachable, locked too long) become ``StoreFault``; others pass."""
        try:
            yield
        except (DBAPIError, sqlite3.Error) as error:
            fault = store_fault(error, self.location)
            if fault is None:
                raise
            raise fault from error

    def _check_file_header(self) -> None:
        """At start: an SQLite file that exists must begin with SQLite's header."""
        if self.backend != "sqlite":
            return
        try:
            with open(self.path, "rb") as file:
                header = file.read(len(SQLITE_HEADER))
        except FileNotFoundError:
            return
        except OSError as error:
            raise _folder_fault(error, self.location) from error
        if header and header != SQLITE_HEADER:
            raise StoreCorrupted(f"The run store at {self.location} is not an SQLite database: "
                                 "its header is damaged, or another file is in its place.",
                                 self.location)

    def _check_pages(self, engine: Engine) -> None:
        """At start: SQLite's ``PRAGMA quick_check`` on files up to QUICK_CHECK_MAX_BYTES
        (0.27 s for a 250 MB file of stored inputs, measured with a warm page cache); larger
        files are checked by their header only, and a damaged page is reported when it is read."""
        if self.backend != "sqlite" or not self.path.exists() or \
                self.path.stat().st_size > QUICK_CHECK_MAX_BYTES:
            return
        with self._begin(engine, write=False) as conn:
            problems = [line for line in conn.exec_driver_sql("PRAGMA quick_check").scalars()
                        if line != "ok"]
        if problems:
            raise StoreCorrupted(f"The run store at {self.location} is damaged (SQLite's check "
                                 f"found {len(problems)} problem(s), first: {problems[0]}).",
                                 self.location)

    def _connect(self, engine: Engine, write: bool) -> Connection:
        conn = engine.connect()
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


# ---- store faults: the one place where database and driver errors are translated ------------

SQLITE_IOERR = 10
FULL_DISK_BYTES = 1 << 20  # free space below which an SQLite I/O error means a full disk
_SQLITE_FAULTS = {  # SQLite's primary result codes
    13: (StoreFull, "Cannot write to the run store at {where}: the disk is full"),
    8: (StoreNotWritable, "Cannot write to the run store at {where}: it is read-only"),
    3: (StoreNotWritable, "Cannot use the run store at {where}: permission denied"),
    14: (StoreNotWritable, "Cannot open the run store at {where}"),
    11: (StoreCorrupted, "The run store at {where} is damaged"),
    26: (StoreCorrupted, "The run store at {where} is not an SQLite database"),
    5: (StoreLocked, "The run store at {where} stayed locked longer than the busy timeout"),
    6: (StoreLocked, "The run store at {where} stayed locked longer than the busy timeout"),
    SQLITE_IOERR: (StoreFault, "A disk read or write of the run store at {where} failed"),
}
_POSTGRESQL_FAULTS = {  # SQLSTATE classes and codes (a code wins over its class)
    "53100": (StoreFull, "The database server of the run store at {where} is out of disk "
                         "space"),
    "53": (StoreFault, "The database server of the run store at {where} is out of resources"),
    "25006": (StoreNotWritable, "The run store at {where} is read-only"),
    "42501": (StoreNotWritable, "The run store at {where} refuses this user (permission "
                                "denied)"),
    "XX001": (StoreCorrupted, "The run store at {where} is damaged"),
    "XX002": (StoreCorrupted, "The run store at {where} is damaged"),
    "55P03": (StoreLocked, "The run store at {where} stayed locked too long"),
    "08": (StoreUnreachable, "Cannot reach the run store at {where}"),
    "28": (StoreUnreachable, "Cannot open the run store at {where}: login refused"),
    "3D000": (StoreUnreachable, "Cannot open the run store at {where}: no such database"),
    "57P": (StoreUnreachable, "The database server of the run store at {where} is shutting "
                              "down or starting"),
}


def store_fault(error: BaseException, location: str) -> StoreFault | None:
    """The StoreFault that explains a database or driver error, or None when the error is not
    a fault of the store (a constraint, a bug in a statement)."""
    original = error.orig if isinstance(error, DBAPIError) and error.orig else error
    found = _sqlite_fault(original, location) if isinstance(original, sqlite3.Error) else \
        _postgresql_fault(original, error)
    if found is None:
        return None
    kind, what = found
    return kind(f"{what.format(where=location)}: {_first_line(original).rstrip('.')}.",
                location)


def _sqlite_fault(error: sqlite3.Error, path: str) -> tuple[type[StoreFault], str] | None:
    code = getattr(error, "sqlite_errorcode", None)
    if code is None:  # raised by the sqlite3 module itself, not by SQLite
        return None
    if code & 0xFF == SQLITE_IOERR:  # SQLite does not say why: look at the disk
        return _io_error_cause(Path(path).parent)
    return _SQLITE_FAULTS.get(code & 0xFF)


def _io_error_cause(folder: Path) -> tuple[type[StoreFault], str]:
    """Why a read or write of the file failed, as far as the folder tells: a full disk, a
    folder this user cannot write, or else an I/O error of the disk itself."""
    with suppress(OSError):
        if shutil.disk_usage(folder).free < FULL_DISK_BYTES:
            return _SQLITE_FAULTS[13]
        if not os.access(folder, os.W_OK):
            return _SQLITE_FAULTS[8]
    return _SQLITE_FAULTS[SQLITE_IOERR]


def _postgresql_fault(original: BaseException, error: BaseException
                      ) -> tuple[type[StoreFault], str] | None:
    state = getattr(original, "sqlstate", None) or ""
    for key in (state, state[:3], state[:2]):
        if key and key in _POSTGRESQL_FAULTS:
            return _POSTGRESQL_FAULTS[key]
    if isinstance(error, OperationalError):  # no SQLSTATE: the connection failed or was lost
        return StoreUnreachable, "Cannot open the run store at {where}"
    return None


def _folder_fault(error: OSError, location: str) -> StoreFault:
    """A file-system error on the store's file or folder."""
    if error.errno == errno.ENOSPC:
        return StoreFull(f"Cannot write to the run store at {location}: the disk is full.",
                         location)
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return StoreNotWritable(f"Cannot use the run store at {location}: "
                                f"{error.strerror}.", location)
    return StoreFault(f"Cannot use the run store at {location}: {error.strerror or error}.",
                      location)


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
