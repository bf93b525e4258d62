"""The run store: every submitted analysis, its input, state, progress and result, in SQLite.

One database file shared by the dashboard's worker and any number of ``python -m ganglioside
worker`` processes. SQLite runs in WAL mode, every write is a ``BEGIN IMMEDIATE`` transaction that
waits (busy timeout) instead of failing, and each thread gets its own connection. A run's result is
written in the same transaction that marks it completed, so a partial result is never visible.

A result is stored as one blob: an uncompressed ZIP archive holding one Parquet file per table
(``rows.parquet``, ...) and ``result.json`` (summary, warnings, parameters, provenance); it loads
in seconds at 10^6 rows and restores every dtype. Results stored by earlier versions as
zlib-compressed JSON (``export.to_json``) are still read.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import secrets
import sqlite3
import threading
import time
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import GangliosideError
from ..export import result_from_json, result_tables, to_json
from ..params import AnalysisParams
from ..result import AnalysisResult

STATUSES = ("pending", "processing", "completed", "failed", "cancelled")
ACTIVE_STATUSES = ("pending", "processing")
FINISHED_STATUSES = ("completed", "failed", "cancelled")
DB_ENV_VAR = "GANGLIOSIDE_DB"
DEFAULT_DB_PATH = Path("data") / "ganglioside.db"
WORKER_DIED_MESSAGE = ("The worker died while running this analysis (twice); "
                       "it was not retried again.")
REQUEUED_MESSAGE = "Requeued: the worker running it stopped responding."
RELEASED_MESSAGE = "Requeued: the worker running it was stopped."
SCHEMA_VERSION = 1
RESULT_DOCUMENT = "result.json"
TABLE_SUFFIX = ".parquet"
_ZIP_SIGNATURE = b"PK\x03\x04"

_SCHEMA = (
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
    # At most one active run per (input, sheet, parameters, name): enforced by SQLite itself.
    """CREATE UNIQUE INDEX IF NOT EXISTS runs_active_dedupe ON runs (dedupe_key)
        WHERE status IN ('pending', 'processing')""",
    "CREATE TABLE IF NOT EXISTS inputs (sha256 TEXT PRIMARY KEY, data BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS results (run_id TEXT PRIMARY KEY, data BLOB NOT NULL)",
    f"PRAGMA user_version = {SCHEMA_VERSION}",
)

_RUN_COLUMNS = ("id, name, user, sample_type, parameters, file_name, sheet, input_sha256, "
                "input_size, status, progress, step, message, error, created_at, started_at, "
                "completed_at, heartbeat_at, algorithm_version, summary, attempts, "
                "cancel_requested")


class StoreError(GangliosideError):
    """Base class of the run store's own errors."""


class RunNotFoundError(StoreError, LookupError):
    """No run has this id (deleted, cleaned up, or a mistyped link)."""

    def __init__(self, run_id: str):
        self.run_id = run_id
        super().__init__(f"There is no run with id '{run_id}'.")


class DuplicateRunError(StoreError):
    """The same input, sheet, parameters and name are already pending or processing."""

    def __init__(self, existing_run_id: str, status: str):
        self.existing_run_id = existing_run_id
        super().__init__(f"The same analysis (run {existing_run_id}) is already {status}; "
                         "wait for it to finish, or change its name or parameters.")


class RunStateError(StoreError):
    """The run is in a state that does not allow the operation."""


class ClaimLostError(StoreError):
    """The worker's claim on a run is no longer valid (it was declared dead and replaced)."""


@dataclass(frozen=True)
class RunRecord:
    """One run as stored (no input bytes, no result tables: see load_input / load_result)."""

    id: str
    name: str
    user: str | None
    sample_type: str
    parameters: dict[str, Any]
    file_name: str
    sheet: str | None
    input_sha256: str
    input_size: int
    status: str
    progress: float
    step: str | None
    message: str | None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    heartbeat_at: datetime | None
    algorithm_version: str
    summary: dict[str, Any] | None
    attempts: int
    cancel_requested: bool

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_STATUSES

    @property
    def duration_seconds(self) -> float | None:
        """Wall time of the last attempt, once the run has finished after starting."""
        if self.started_at is None or self.completed_at is None:
            return None
        return (self.completed_at - self.started_at).total_seconds()


@dataclass(frozen=True)
class Claim:
    """A worker's exclusive right to execute one attempt of a run."""

    run_id: str
    token: str
    attempt: int


@dataclass(frozen=True)
class Recovery:
    """What recover_stale did: runs put back in the queue, runs given up on."""

    requeued: list[str]
    failed: list[str]


def default_db_path() -> Path:
    """$GANGLIOSIDE_DB, else data/ganglioside.db in the working directory."""
    return Path(os.environ.get(DB_ENV_VAR) or DEFAULT_DB_PATH)


class RunStore:
    """SQLite-backed store of analysis runs; one instance may be shared between threads."""

    def __init__(self, path: str | os.PathLike | None = None, busy_timeout: float = 30.0,
                 clock: Callable[[], float] = time.time):
        self.path = Path(path) if path is not None else default_db_path()
        self.busy_timeout = busy_timeout
        self._clock = clock
        self._local = threading.local()
        self._schema_lock = threading.Lock()
        self._schema_ready = False

    # ---- connections and transactions ------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None or self._local.pid != os.getpid():
            conn = self._retry_locked(self._open)
            self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.create_function("casefold", 1, _casefold, deterministic=True)
            with self._schema_lock:
                if not self._schema_ready:
                    self._create_schema(conn)
                    self._schema_ready = True
        except BaseException:
            conn.close()
            raise
        return conn

    def _create_schema(self, conn: sqlite3.Connection) -> None:
        if conn.execute("PRAGMA user_version").fetchone()[0] >= SCHEMA_VERSION:
            return  # an existing database: no write lock needed
        with _immediate(conn):
            for statement in _SCHEMA:
                conn.execute(statement)

    def _retry_locked(self, action: Callable[[], Any]) -> Any:
        """Run action, retrying the rare lock errors SQLite raises without waiting (WAL setup)."""
        deadline = time.monotonic() + self.busy_timeout
        delay = 0.005
        while True:
            try:
                return action()
            except sqlite3.OperationalError as error:
                if not _is_lock_error(error) or time.monotonic() > deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 0.2)

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        conn = self._connection()
        self._retry_locked(lambda: conn.execute("BEGIN IMMEDIATE"))
        with _rollback_on_error(conn):
            yield conn

    def close(self) -> None:
        """Close this thread's connection (a later call opens a new one)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # ---- submitting and reading runs --------------------------------------------------------

    def create_run(self, data: bytes, file_name: str, params: AnalysisParams = AnalysisParams(),
                   *, name: str | None = None, user: str | None = None,
                   sheet: str | None = None) -> str:
        """Queue a new pending run of these bytes; return its id.

        Raises ParameterError for bad parameters and DuplicateRunError when the same input,
        sheet, parameters and name are already pending or processing.
        """
        params.validate()
        data = bytes(data)
        sha256 = hashlib.sha256(data).hexdigest()
        name = (name or "").strip() or file_name
        parameters = params.to_dict()
        dedupe_key = hashlib.sha256(json.dumps(
            [sha256, sheet, parameters, name], sort_keys=True).encode()).hexdigest()
        run_id = secrets.token_hex(8)
        with self._write() as conn:
            existing = conn.execute(
                "SELECT id, status FROM runs WHERE dedupe_key = ? AND status IN (?, ?)",
                (dedupe_key, *ACTIVE_STATUSES)).fetchone()
            if existing:
                raise DuplicateRunError(*existing)
            conn.execute("INSERT OR IGNORE INTO inputs (sha256, data) VALUES (?, ?)",
                         (sha256, data))
            conn.execute(
                "INSERT INTO runs (id, name, user, sample_type, parameters, file_name, sheet,"
                " input_sha256, input_size, dedupe_key, status, message, created_at,"
                " algorithm_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)",
                (run_id, name, user or None, params.sample_type, json.dumps(parameters),
                 file_name, sheet, sha256, len(data), dedupe_key, "Waiting for a worker…",
                 self._clock(), params.algorithm_version))
        return run_id

    def rerun(self, run_id: str, params: AnalysisParams, *, name: str | None = None,
              user: str | None = None) -> str:
        """"Run again": a new pending run from the stored input and sheet of run_id."""
        record = self.get_run(run_id)
        return self.create_run(self.load_input(run_id), record.file_name, params,
                               name=name or record.name, user=user or record.user,
                               sheet=record.sheet)

    def get_run(self, run_id: str) -> RunRecord:
        """The run with this id; RunNotFoundError if there is none."""
        row = self._connection().execute(
            f"SELECT {_RUN_COLUMNS} FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise RunNotFoundError(run_id)
        return _record(row)

    def list_runs(self, status: str | Iterable[str] | None = None, text: str | None = None,
                  limit: int | None = None) -> list[RunRecord]:
        """Runs, newest first, optionally of some statuses and containing text (any case) in
        their name, user, file name or id."""
        where, args = [], []
        if status is not None:
            statuses = [status] if isinstance(status, str) else list(status)
            where.append(f"status IN ({', '.join('?' * len(statuses))})")
            args += statuses
        if text:
            where.append("instr(casefold(name || char(0) || coalesce(user, '') || char(0) ||"
                         " file_name || char(0) || id), ?) > 0")
            args.append(_casefold(text))
        sql = f"SELECT {_RUN_COLUMNS} FROM runs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY seq DESC"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(int(limit))
        return [_record(row) for row in self._connection().execute(sql, args)]

    def counts(self) -> dict[str, int]:
        """Number of runs per status (every status present, zero included)."""
        found = dict(self._connection().execute(
            "SELECT status, count(*) FROM runs GROUP BY status").fetchall())
        return {status: found.get(status, 0) for status in STATUSES}

    def load_input(self, run_id: str) -> bytes:
        """The uploaded bytes of a run."""
        row = self._connection().execute(
            "SELECT inputs.data FROM runs JOIN inputs ON inputs.sha256 = runs.input_sha256"
            " WHERE runs.id = ?", (run_id,)).fetchone()
        if row is None:
            raise RunNotFoundError(run_id)
        return bytes(row[0])

    def load_result(self, run_id: str) -> AnalysisResult | None:
        """The stored result of a completed run; None for any other status."""
        row = self._connection().execute(
            "SELECT results.data FROM runs JOIN results ON results.run_id = runs.id"
            " WHERE runs.id = ? AND runs.status = 'completed'", (run_id,)).fetchone()
        if row is None:
            return None
        data = bytes(row[0])
        if data.startswith(_ZIP_SIGNATURE):
            return _result_from_blob(data)
        return result_from_json(zlib.decompress(data))  # stored before the Parquet format

    # ---- user actions on existing runs ------------------------------------------------------

    def request_cancel(self, run_id: str) -> bool:
        """Cancel a pending run at once, or ask the worker of a processing run to stop.

        Returns False when the run had already finished (nothing to cancel).
        """
        with self._write() as conn:
            status = self._status(conn, run_id)
            if status == "pending":
                conn.execute("UPDATE runs SET status = 'cancelled', cancel_requested = 1,"
                             " message = 'Cancelled before it started.', completed_at = ?"
                             " WHERE id = ?", (self._clock(), run_id))
            elif status == "processing":
                conn.execute("UPDATE runs SET cancel_requested = 1 WHERE id = ?", (run_id,))
            return status in ACTIVE_STATUSES

    def delete_run(self, run_id: str) -> None:
        """Delete a finished run, its result, and its input unless another run shares it."""
        with self._write() as conn:
            status = self._status(conn, run_id)
            if status in ACTIVE_STATUSES:
                raise RunStateError(f"Run {run_id} is {status}; cancel it before deleting it.")
            _delete_runs(conn, [run_id])

    def cleanup(self, retention_days: float) -> int:
        """Delete finished runs that finished more than retention_days ago (0 = keep forever).

        Pending and processing runs are never deleted. Returns how many runs were deleted.
        """
        if retention_days <= 0:
            return 0
        cutoff = self._clock() - retention_days * 86400.0
        with self._write() as conn:
            ids = [row[0] for row in conn.execute(
                "SELECT id FROM runs WHERE status IN (?, ?, ?) AND completed_at < ?",
                (*FINISHED_STATUSES, cutoff))]
            _delete_runs(conn, ids)
        return len(ids)

    # ---- worker side ------------------------------------------------------------------------

    def claim_next(self, worker: str | None = None) -> Claim | None:
        """Atomically move the oldest pending run to processing; None when the queue is empty."""
        idle = self._connection().execute(
            "SELECT NOT EXISTS (SELECT 1 FROM runs WHERE status = 'pending')").fetchone()[0]
        if idle:  # polling an empty queue takes no write lock
            return None
        with self._write() as conn:
            row = conn.execute("SELECT id FROM runs WHERE status = 'pending'"
                               " ORDER BY seq LIMIT 1").fetchone()
            return None if row is None else self._claim(conn, row[0], worker)

    def claim_run(self, run_id: str, worker: str | None = None) -> Claim | None:
        """Claim this run if it is still pending; None otherwise (taken, cancelled, finished)."""
        with self._write() as conn:
            if self._status(conn, run_id) != "pending":
                return None
            return self._claim(conn, run_id, worker)

    def _claim(self, conn: sqlite3.Connection, run_id: str, worker: str | None) -> Claim:
        token = secrets.token_hex(8)
        now = self._clock()
        conn.execute(
            "UPDATE runs SET status = 'processing', attempts = attempts + 1, claim_token = ?,"
            " worker = ?, started_at = ?, heartbeat_at = ?, completed_at = NULL, progress = 0,"
            " step = NULL, message = 'Starting…', error = NULL WHERE id = ?",
            (token, worker, now, now, run_id))
        attempt = conn.execute("SELECT attempts FROM runs WHERE id = ?", (run_id,)).fetchone()[0]
        return Claim(run_id, token, attempt)

    def report_progress(self, claim: Claim, fraction: float, step: str, message: str) -> bool:
        """Store a progress report (and heartbeat); True when cancellation was requested."""
        with self._write() as conn:
            status, cancel = self._claimed_status(conn, claim)
            if status != "processing":
                return False
            conn.execute("UPDATE runs SET progress = max(progress, ?), step = ?, message = ?,"
                         " heartbeat_at = ? WHERE id = ?",
                         (float(fraction), step, message, self._clock(), claim.run_id))
            return cancel

    def heartbeat(self, claim: Claim) -> None:
        """Record that the worker holding this claim is alive."""
        with self._write() as conn:
            if self._claimed_status(conn, claim)[0] == "processing":
                conn.execute("UPDATE runs SET heartbeat_at = ? WHERE id = ?",
                             (self._clock(), claim.run_id))

    def complete_run(self, claim: Claim, result: AnalysisResult) -> None:
        """Store the result and mark the run completed, in one transaction."""
        blob = _result_blob(result)
        summary = json.dumps(_plain(result.summary), allow_nan=False)
        with self._write() as conn:
            self._require_processing(conn, claim)
            conn.execute("INSERT OR REPLACE INTO results (run_id, data) VALUES (?, ?)",
                         (claim.run_id, blob))
            conn.execute("UPDATE runs SET status = 'completed', progress = 1, step = 'complete',"
                         " message = 'Analysis complete', summary = ?, completed_at = ?,"
                         " heartbeat_at = ? WHERE id = ?",
                         (summary, self._clock(), self._clock(), claim.run_id))

    def fail_run(self, claim: Claim, error: str) -> None:
        """Mark the run failed with a readable reason."""
        self._finish(claim, "failed", error=error, message="Analysis failed")

    def cancel_run(self, claim: Claim) -> None:
        """Mark the run cancelled (the job stopped on request)."""
        self._finish(claim, "cancelled", error=None, message="Cancelled.")

    def release_run(self, claim: Claim) -> None:
        """Put a run back in the queue because its worker is stopping (not counted as attempt)."""
        with self._write() as conn:
            self._require_processing(conn, claim)
            conn.execute("UPDATE runs SET status = 'pending', attempts = attempts - 1,"
                         " claim_token = NULL, worker = NULL, progress = 0, step = NULL,"
                         " message = ? WHERE id = ?", (RELEASED_MESSAGE, claim.run_id))

    def _finish(self, claim: Claim, status: str, error: str | None, message: str) -> None:
        with self._write() as conn:
            self._require_processing(conn, claim)
            conn.execute("UPDATE runs SET status = ?, error = ?, message = ?, completed_at = ?"
                         " WHERE id = ?",
                         (status, error, message, self._clock(), claim.run_id))

    def recover_stale(self, stale_after: float, max_attempts: int = 2) -> Recovery:
        """Processing runs whose heartbeat is older than stale_after seconds: requeue them while
        attempts < max_attempts, else mark them failed (worker died); cancel those that were
        asked to stop."""
        now = self._clock()
        requeued, failed = [], []
        with self._write() as conn:
            stale = conn.execute(
                "SELECT id, attempts, cancel_requested FROM runs"
                " WHERE status = 'processing' AND heartbeat_at < ?",
                (now - stale_after,)).fetchall()
            for run_id, attempts, cancel in stale:
                if cancel:
                    conn.execute("UPDATE runs SET status = 'cancelled', message = 'Cancelled.',"
                                 " completed_at = ?, claim_token = NULL WHERE id = ?",
                                 (now, run_id))
                elif attempts < max_attempts:
                    conn.execute("UPDATE runs SET status = 'pending', claim_token = NULL,"
                                 " worker = NULL, progress = 0, step = NULL, message = ?"
                                 " WHERE id = ?", (REQUEUED_MESSAGE, run_id))
                    requeued.append(run_id)
                else:
                    conn.execute("UPDATE runs SET status = 'failed', error = ?,"
                                 " message = 'Analysis failed', completed_at = ?,"
                                 " claim_token = NULL WHERE id = ?",
                                 (WORKER_DIED_MESSAGE, now, run_id))
                    failed.append(run_id)
        return Recovery(requeued, failed)

    def integrity_check(self) -> str:
        """SQLite's own consistency check of the file; "ok" when healthy."""
        rows = self._connection().execute("PRAGMA integrity_check").fetchall()
        return "\n".join(row[0] for row in rows)

    # ---- helpers ----------------------------------------------------------------------------

    @staticmethod
    def _status(conn: sqlite3.Connection, run_id: str) -> str:
        row = conn.execute("SELECT status FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise RunNotFoundError(run_id)
        return row[0]

    @staticmethod
    def _claimed_status(conn: sqlite3.Connection, claim: Claim) -> tuple[str, bool]:
        """(status, cancel requested) of a run still held by this claim; else ClaimLostError.

        Finishing keeps the claim token, so the last progress report after saving finds the
        run "completed" (and is ignored); recovery and new claims replace the token.
        """
        row = conn.execute("SELECT status, cancel_requested, claim_token FROM runs WHERE id = ?",
                           (claim.run_id,)).fetchone()
        if row is None or row[2] != claim.token:
            raise ClaimLostError(f"Run {claim.run_id} is no longer held by this worker.")
        return row[0], bool(row[1])

    def _require_processing(self, conn: sqlite3.Connection, claim: Claim) -> None:
        status, _ = self._claimed_status(conn, claim)
        if status != "processing":
            raise ClaimLostError(f"Run {claim.run_id} is already {status}.")


@contextmanager
def _immediate(conn: sqlite3.Connection) -> Iterator[None]:
    conn.execute("BEGIN IMMEDIATE")
    with _rollback_on_error(conn):
        yield


@contextmanager
def _rollback_on_error(conn: sqlite3.Connection) -> Iterator[None]:
    try:
        yield
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _delete_runs(conn: sqlite3.Connection, run_ids: list[str]) -> None:
    """Delete runs and their results, then every input no run refers to any more."""
    if not run_ids:
        return
    conn.executemany("DELETE FROM results WHERE run_id = ?", [(i,) for i in run_ids])
    conn.executemany("DELETE FROM runs WHERE id = ?", [(i,) for i in run_ids])
    conn.execute("DELETE FROM inputs WHERE sha256 NOT IN (SELECT input_sha256 FROM runs)")


def _record(row: tuple) -> RunRecord:
    (run_id, name, user, sample_type, parameters, file_name, sheet, sha256, size, status,
     progress, step, message, error, created, started, completed, heartbeat, version, summary,
     attempts, cancel) = row
    return RunRecord(
        id=run_id, name=name, user=user, sample_type=sample_type,
        parameters=json.loads(parameters), file_name=file_name, sheet=sheet,
        input_sha256=sha256, input_size=size, status=status, progress=progress, step=step,
        message=message, error=error, created_at=_datetime(created),
        started_at=_datetime(started), completed_at=_datetime(completed),
        heartbeat_at=_datetime(heartbeat), algorithm_version=version,
        summary=json.loads(summary) if summary else None, attempts=attempts,
        cancel_requested=bool(cancel))


def _result_blob(result: AnalysisResult) -> bytes:
    """The result as a ZIP archive: one Parquet file per table, and result.json = the JSON
    export (``export.to_json``) of everything else, i.e. of the result with its tables emptied."""
    tables = result_tables(result)
    without_rows = replace(result, **{name: frame.iloc[:0] for name, frame in tables.items()})
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr(RESULT_DOCUMENT, to_json(without_rows))
        for name, frame in tables.items():
            archive.writestr(name + TABLE_SUFFIX, _parquet(frame))
    return buffer.getvalue()


def _result_from_blob(blob: bytes) -> AnalysisResult:
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        without_rows = result_from_json(archive.read(RESULT_DOCUMENT))
        tables = {name.removesuffix(TABLE_SUFFIX): _frame_from_parquet(archive.read(name))
                  for name in archive.namelist() if name.endswith(TABLE_SUFFIX)}
    return replace(without_rows, **tables)


def _parquet(frame: pd.DataFrame) -> bytes:
    """One table as Parquet; pyarrow records the pandas dtypes (and index) in its metadata."""
    sink = pa.BufferOutputStream()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=None), sink, compression="zstd")
    return sink.getvalue().to_pybytes()


def _frame_from_parquet(data: bytes) -> pd.DataFrame:
    """The table written by ``_parquet``, dtypes included.

    pyarrow restores every dtype from its pandas metadata except object columns: their text
    would come back as pandas "str", their bools as numpy bool and their list cells as numpy
    arrays, so those columns are rebuilt from the Arrow values (None for missing).
    """
    table = pq.read_table(pa.BufferReader(data))
    frame = table.to_pandas()
    for column in table.schema.pandas_metadata["columns"]:
        name = column["name"]
        if column["numpy_type"] == "object" and name in frame.columns:
            frame[name] = pd.Series(_object_cells(table.column(column["field_name"])),
                                    index=frame.index, dtype=object)
    return frame


def _object_cells(column: pa.ChunkedArray) -> Any:
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return column.to_numpy(zero_copy_only=False)  # object array, None where missing
    return column.to_pylist()


def _datetime(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, tz=timezone.utc)


def _plain(value: Any) -> Any:
    """JSON-safe copy of a summary: numpy scalars to python, non-finite floats to None."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _casefold(text: str | None) -> str | None:
    return None if text is None else text.casefold()


def _is_lock_error(error: sqlite3.OperationalError) -> bool:
    text = str(error).lower()
    return "locked" in text or "busy" in text
