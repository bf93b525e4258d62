"""The run store: every submitted analysis, its input, state, progress and result, in one
database shared by the dashboard's worker and any number of worker processes.

The database is an SQLite file (the default) or a PostgreSQL server (``database.py`` says how
to name it, ``schema.py`` what it holds). Guarantees, on both:

* a run is claimed by one worker at a time: claiming is atomic (SQLite: the write lock;
  PostgreSQL: ``FOR UPDATE SKIP LOCKED``) and hands out a claim token that every later write of
  that worker must show, so a worker declared dead (stale heartbeat) cannot overwrite the run it
  lost;
* a run's result is written in the same transaction that marks it completed, so a partial result
  is never visible;
* an input is stored once, under its SHA-256, and deleted with the last run that uses it;
* at most one pending or processing run per (input, sheet, parameters, name), enforced by a
  unique index;
* cancel, delete (to the trash), restore and purge take the actor asking and apply the rules
  of ``access.py`` in the same transaction; each, and each submission, appends a line to the
  audit trail, which the database keeps append-only.

Times come from ``clock`` (the local clock): on several hosts, keep their clocks synchronised
(NTP); a heartbeat is judged stale only after ``stale_after`` seconds (60 by default).

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
import time
import zipfile
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Connection, Row, case, delete, exists, func, select, text, update
from sqlalchemy.exc import IntegrityError

from ..errors import GangliosideError
from ..export import result_from_json, result_tables, to_json
from ..params import AnalysisParams
from ..result import AnalysisResult
from . import access
from .access import SYSTEM, Actor, PermissionDenied  # noqa: F401 (PermissionDenied: callers)
from .database import DB_ENV_VAR, Database, open_database  # noqa: F401 (DB_ENV_VAR: the pages)
from .schema import (ACTIVE_STATUSES, FINISHED_STATUSES, STATUSES, audit, inputs, results, runs,
                     search_text)

WORKER_DIED_MESSAGE = ("The worker died while running this analysis (twice); "
                       "it was not retried again.")
REQUEUED_MESSAGE = "Requeued: the worker running it stopped responding."
RELEASED_MESSAGE = "Requeued: the worker running it was stopped."
RESULT_DOCUMENT = "result.json"
TABLE_SUFFIX = ".parquet"
_ZIP_SIGNATURE = b"PK\x03\x04"
_DELETE_BATCH = 500  # runs per DELETE statement (bounded number of bound parameters)

_RECORD_COLUMNS = (runs.c.id, runs.c.name, runs.c.user, runs.c.sample_type, runs.c.parameters,
                   runs.c.file_name, runs.c.sheet, runs.c.input_sha256, runs.c.input_size,
                   runs.c.status, runs.c.progress, runs.c.step, runs.c.message, runs.c.error,
                   runs.c.created_at, runs.c.started_at, runs.c.completed_at,
                   runs.c.heartbeat_at, runs.c.algorithm_version, runs.c.summary,
                   runs.c.attempts, runs.c.cancel_requested, runs.c.owner,
                   runs.c.submitter, runs.c.deleted_at, runs.c.deleted_by)


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
    owner: str | None = None
    submitter: str | None = None
    deleted_at: datetime | None = None
    deleted_by: str | None = None

    @property
    def in_trash(self) -> bool:
        return self.deleted_at is not None

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
class AuditEntry:
    """One line of a run's audit trail."""

    run_id: str
    action: str
    actor: str
    at: datetime
    detail: str | None


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


class RunStore:
    """The store of analysis runs; one instance may be shared between threads.

    ``target`` is a file path or a database URL (``database.database_url``; None: the
    $GANGLIOSIDE_DB of the process). Nothing is opened before the first call.
    """

    def __init__(self, target: str | os.PathLike | None = None, busy_timeout: float = 30.0,
                 clock: Callable[[], float] = time.time):
        self.database: Database = open_database(target, busy_timeout)
        self._clock = clock

    @property
    def path(self) -> Path | None:
        """The SQLite file of the store; None on a database server."""
        return self.database.path

    @property
    def location(self) -> str:
        """Where the store is, for messages: the file, or the URL without its password."""
        return self.database.location

    def close(self) -> None:
        """Close this process's idle connections to the store (a later call opens new ones)."""
        self.database.dispose()

    # ---- submitting and reading runs --------------------------------------------------------

    def create_run(self, data: bytes, file_name: str, params: AnalysisParams = AnalysisParams(),
                   *, name: str | None = None, user: str | None = None,
                   sheet: str | None = None, owner: str | None = None,
                   submitter: str | None = None) -> str:
        """Queue a new pending run of these bytes; return its id.

        ``owner`` (an email) may cancel and delete it; ``submitter`` (default: the owner) is who
        asked, e.g. an admin submitting for someone; ``user`` is the name shown in History.

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
        submitter = submitter or owner
        row = dict(name=name, user=user or None, owner=owner or None, submitter=submitter or None,
                   sample_type=params.sample_type,
                   parameters=json.dumps(parameters), file_name=file_name, sheet=sheet,
                   input_sha256=sha256, input_size=len(data), dedupe_key=dedupe_key,
                   status="pending", message="Waiting for a worker…",
                   algorithm_version=params.algorithm_version, cancel_requested=False)
        try:
            return self._insert_run(row, data)
        except IntegrityError:
            # PostgreSQL: the same run was created by another process at the same moment (the
            # unique index refused ours); else, once in 2^64 runs, the id was taken: a new one.
            with self.database.read() as conn:
                self._refuse_duplicate(conn, dedupe_key)
            return self._insert_run(row, data)

    def _insert_run(self, row: dict[str, Any], data: bytes) -> str:
        run_id = secrets.token_hex(8)
        with self.database.write() as conn:
            self._refuse_duplicate(conn, row["dedupe_key"])
            self._store_input(conn, row["input_sha256"], data)
            now = self._clock()
            conn.execute(runs.insert().values(
                id=run_id, created_at=now, search_text=search_text(
                    row["name"], row["user"], row["file_name"], run_id), **row))
            detail = None if row["owner"] == row["submitter"] else f"owner {row['owner']}"
            _append_audit(conn, [run_id], "submitted", row["submitter"] or "unknown", now,
                          detail)
        return run_id

    @staticmethod
    def _refuse_duplicate(conn: Connection, dedupe_key: str) -> None:
        existing = conn.execute(select(runs.c.id, runs.c.status).where(
            runs.c.dedupe_key == dedupe_key, runs.c.status.in_(ACTIVE_STATUSES))).first()
        if existing:
            raise DuplicateRunError(*existing)

    def _store_input(self, conn: Connection, sha256: str, data: bytes) -> None:
        """Insert the input unless it is stored already; either way its row stays locked until
        commit, so a concurrent delete of its last other run cannot remove it (PostgreSQL)."""
        statement = self.database.insert(inputs).values(sha256=sha256, data=data)
        conn.execute(statement.on_conflict_do_update(
            index_elements=[inputs.c.sha256], set_={"sha256": statement.excluded.sha256}))

    def rerun(self, run_id: str, params: AnalysisParams, *, name: str | None = None,
              user: str | None = None, owner: str | None = None) -> str:
        """"Run again": a new pending run from the stored input and sheet of run_id, owned by
        ``owner`` (whoever runs it again)."""
        record = self.get_run(run_id)
        return self.create_run(self.load_input(run_id), record.file_name, params,
                               name=name or record.name, user=user or record.user,
                               sheet=record.sheet, owner=owner)

    def get_run(self, run_id: str) -> RunRecord:
        """The run with this id; RunNotFoundError if there is none."""
        with self.database.read() as conn:
            row = conn.execute(select(*_RECORD_COLUMNS).where(runs.c.id == run_id)).first()
        if row is None:
            raise RunNotFoundError(run_id)
        return _record(row)

    def list_runs(self, status: str | Iterable[str] | None = None, text: str | None = None,
                  limit: int | None = None, trash: bool = False) -> list[RunRecord]:
        """Runs, newest first, optionally of some statuses and containing text (any case) in
        their name, user, file name or id; those in the trash when ``trash``, else the others."""
        query = select(*_RECORD_COLUMNS).order_by(runs.c.seq.desc()).where(
            runs.c.deleted_at.is_not(None) if trash else runs.c.deleted_at.is_(None))
        if status is not None:
            query = query.where(runs.c.status.in_([status] if isinstance(status, str)
                                                  else list(status)))
        if text:
            query = query.where(runs.c.search_text.contains(text.casefold(), autoescape=True))
        if limit is not None:
            query = query.limit(int(limit))
        with self.database.read() as conn:
            return [_record(row) for row in conn.execute(query)]

    def counts(self) -> dict[str, int]:
        """Number of runs per status, outside the trash (every status present, zero included)."""
        with self.database.read() as conn:
            found = dict(conn.execute(
                select(runs.c.status, func.count()).where(runs.c.deleted_at.is_(None))
                .group_by(runs.c.status)).all())
        return {status: found.get(status, 0) for status in STATUSES}

    def load_input(self, run_id: str) -> bytes:
        """The uploaded bytes of a run."""
        with self.database.read() as conn:
            data = conn.execute(select(inputs.c.data).join(
                runs, runs.c.input_sha256 == inputs.c.sha256).where(runs.c.id == run_id)).scalar()
        if data is None:
            raise RunNotFoundError(run_id)
        return bytes(data)

    def load_result(self, run_id: str) -> AnalysisResult | None:
        """The stored result of a completed run; None for any other status."""
        with self.database.read() as conn:
            data = conn.execute(select(results.c.data).join(
                runs, runs.c.id == results.c.run_id).where(
                runs.c.id == run_id, runs.c.status == "completed")).scalar()
        if data is None:
            return None
        data = bytes(data)
        if data.startswith(_ZIP_SIGNATURE):
            return _result_from_blob(data)
        return result_from_json(zlib.decompress(data))  # stored before the Parquet format

    # ---- user actions on existing runs ------------------------------------------------------

    def request_cancel(self, run_id: str, actor: Actor) -> bool:
        """Cancel a pending run at once, or ask the worker of a processing run to stop.

        Returns False when the run had already finished (nothing to cancel). PermissionDenied
        unless ``actor`` owns the run or is an admin.
        """
        with self.database.write() as conn:
            status = self._authorised(conn, run_id, actor, "cancel").status
            now = self._clock()
            if status == "pending":
                conn.execute(_update_run(run_id).values(
                    status="cancelled", cancel_requested=True, completed_at=now,
                    message="Cancelled before it started."))
            elif status == "processing":
                conn.execute(_update_run(run_id).values(cancel_requested=True))
            if status in ACTIVE_STATUSES:
                _append_audit(conn, [run_id], "cancelled", actor.email, now)
            return status in ACTIVE_STATUSES

    def delete_run(self, run_id: str, actor: Actor) -> None:
        """Move a finished run to the trash (restorable until the trash is purged).

        PermissionDenied unless ``actor`` owns the run or is an admin; RunStateError for a
        pending or processing run, or one already in the trash."""
        with self.database.write() as conn:
            run = self._authorised(conn, run_id, actor, "delete")
            if run.status in ACTIVE_STATUSES:
                raise RunStateError(f"Run {run_id} is {run.status}; cancel it before deleting "
                                    "it.")
            if run.deleted_at is not None:
                raise RunStateError(f"Run {run_id} is already in the trash.")
            now = self._clock()
            conn.execute(_update_run(run_id).values(deleted_at=now, deleted_by=actor.email))
            _append_audit(conn, [run_id], "deleted", actor.email, now)

    def restore_run(self, run_id: str, actor: Actor) -> None:
        """Take a run out of the trash; PermissionDenied unless owner or admin."""
        with self.database.write() as conn:
            run = self._authorised(conn, run_id, actor, "restore")
            if run.deleted_at is None:
                raise RunStateError(f"Run {run_id} is not in the trash.")
            conn.execute(_update_run(run_id).values(deleted_at=None, deleted_by=None))
            _append_audit(conn, [run_id], "restored", actor.email, self._clock())

    def purge_run(self, run_id: str, actor: Actor) -> None:
        """Delete a run in the trash for good, now: its result, and its input unless another
        run shares it (its audit trail stays). Admins only."""
        with self.database.write() as conn:
            run = self._authorised(conn, run_id, actor, "purge")
            if run.deleted_at is None:
                raise RunStateError(f"Run {run_id} is not in the trash; delete it first.")
            _purge(conn, [run_id], actor.email, self._clock())

    def audit_trail(self, run_id: str) -> list[AuditEntry]:
        """Who submitted, cancelled, deleted, restored or purged the run, oldest first (also
        for a purged run)."""
        with self.database.read() as conn:
            rows = conn.execute(select(audit.c.run_id, audit.c.action, audit.c.actor, audit.c.at,
                                       audit.c.detail)
                                .where(audit.c.run_id == run_id).order_by(audit.c.seq)).all()
        return [AuditEntry(row.run_id, row.action, row.actor, _datetime(row.at), row.detail)
                for row in rows]

    def _authorised(self, conn: Connection, run_id: str, actor: Actor, action: str) -> Row:
        """The run's status, owner and trash time, its row locked until commit (PostgreSQL);
        RunNotFoundError if none, PermissionDenied if ``actor`` may not do ``action``."""
        run = conn.execute(select(runs.c.status, runs.c.owner, runs.c.deleted_at)
                           .where(runs.c.id == run_id).with_for_update()).first()
        if run is None:
            raise RunNotFoundError(run_id)
        access.require(actor, action, run_id, run.owner)
        return run

    def cleanup(self, retention_days: float, trash_days: float | None = None) -> int:
        """Purge finished runs that finished more than retention_days ago (0 = keep forever),
        and runs in the trash for more than trash_days (default $GANGLIOSIDE_TRASH_DAYS).

        Pending and processing runs are never purged. Returns how many runs were purged.
        """
        trash_days = access.trash_days_from_env() if trash_days is None else trash_days
        now = self._clock()
        expired = runs.c.deleted_at < now - trash_days * 86400.0
        if retention_days > 0:
            expired = expired | (runs.c.status.in_(FINISHED_STATUSES)
                                 & (runs.c.completed_at < now - retention_days * 86400.0))
        with self.database.write() as conn:
            ids = conn.execute(select(runs.c.id).where(expired)
                               .order_by(runs.c.seq).with_for_update()).scalars().all()
            for start in range(0, len(ids), _DELETE_BATCH):
                _purge(conn, ids[start:start + _DELETE_BATCH], SYSTEM.email, now)
        return len(ids)

    # ---- worker side ------------------------------------------------------------------------

    def claim_next(self, worker: str | None = None) -> Claim | None:
        """Atomically move the oldest pending run to processing; None when none can be had.

        Workers claiming at once each get a different run: SQLite claims one at a time;
        PostgreSQL skips the runs other workers are claiming, so it also answers None when each
        pending run it sees is being claimed by another worker at that moment."""
        with self.database.read() as conn:  # polling an empty queue takes no write lock
            idle = not conn.execute(select(exists().where(runs.c.status == "pending"))).scalar()
        if idle:
            return None
        with self.database.write() as conn:
            run_id = conn.execute(select(runs.c.id).where(runs.c.status == "pending")
                                  .order_by(runs.c.seq).limit(1)
                                  .with_for_update(skip_locked=True)).scalar()
            return None if run_id is None else self._claim(conn, run_id, worker)

    def claim_run(self, run_id: str, worker: str | None = None) -> Claim | None:
        """Claim this run if it is still pending; None otherwise (taken, cancelled, finished)."""
        with self.database.write() as conn:
            if _locked_status(conn, run_id) != "pending":
                return None
            return self._claim(conn, run_id, worker)

    def _claim(self, conn: Connection, run_id: str, worker: str | None) -> Claim:
        token = secrets.token_hex(8)
        now = self._clock()
        attempt = conn.execute(_update_run(run_id).values(
            status="processing", attempts=runs.c.attempts + 1, claim_token=token,
            worker=worker, started_at=now, heartbeat_at=now, completed_at=None, progress=0.0,
            step=None, message="Starting…", error=None).returning(runs.c.attempts)).scalar()
        return Claim(run_id, token, attempt)

    def report_progress(self, claim: Claim, fraction: float, step: str, message: str) -> bool:
        """Store a progress report (and heartbeat); True when cancellation was requested."""
        fraction = float(fraction)
        with self.database.write() as conn:
            status, cancel = _claimed_status(conn, claim)
            if status != "processing":
                return False
            conn.execute(_update_run(claim.run_id).values(
                progress=case((runs.c.progress > fraction, runs.c.progress), else_=fraction),
                step=step, message=message, heartbeat_at=self._clock()))
            return cancel

    def heartbeat(self, claim: Claim) -> None:
        """Record that the worker holding this claim is alive."""
        with self.database.write() as conn:
            if _claimed_status(conn, claim)[0] == "processing":
                conn.execute(_update_run(claim.run_id).values(heartbeat_at=self._clock()))

    def complete_run(self, claim: Claim, result: AnalysisResult) -> None:
        """Store the result, its provenance naming the run's owner and submitter, and mark the
        run completed, in one transaction."""
        record = self.get_run(claim.run_id)
        result = replace(result, provenance={**result.provenance, "owner": record.owner,
                                             "submitter": record.submitter})
        blob = _result_blob(result)
        summary = json.dumps(_plain(result.summary), allow_nan=False)
        with self.database.write() as conn:
            _require_processing(conn, claim)
            statement = self.database.insert(results).values(run_id=claim.run_id, data=blob)
            conn.execute(statement.on_conflict_do_update(
                index_elements=[results.c.run_id], set_={"data": statement.excluded.data}))
            now = self._clock()
            conn.execute(_update_run(claim.run_id).values(
                status="completed", progress=1.0, step="complete", message="Analysis complete",
                summary=summary, completed_at=now, heartbeat_at=now))

    def fail_run(self, claim: Claim, error: str) -> None:
        """Mark the run failed with a readable reason."""
        self._finish(claim, "failed", error=error, message="Analysis failed")

    def cancel_run(self, claim: Claim) -> None:
        """Mark the run cancelled (the job stopped on request)."""
        self._finish(claim, "cancelled", error=None, message="Cancelled.")

    def release_run(self, claim: Claim) -> None:
        """Put a run back in the queue because its worker is stopping (not counted as attempt)."""
        with self.database.write() as conn:
            _require_processing(conn, claim)
            conn.execute(_update_run(claim.run_id).values(
                status="pending", attempts=runs.c.attempts - 1, claim_token=None, worker=None,
                progress=0.0, step=None, message=RELEASED_MESSAGE))

    def _finish(self, claim: Claim, status: str, error: str | None, message: str) -> None:
        with self.database.write() as conn:
            _require_processing(conn, claim)
            conn.execute(_update_run(claim.run_id).values(
                status=status, error=error, message=message, completed_at=self._clock()))

    def recover_stale(self, stale_after: float, max_attempts: int = 2) -> Recovery:
        """Processing runs whose heartbeat is older than stale_after seconds: requeue them while
        attempts < max_attempts, else mark them failed (worker died); cancel those that were
        asked to stop. Runs another transaction holds locked are left for the next round."""
        now = self._clock()
        requeued, failed = [], []
        with self.database.write() as conn:
            stale = conn.execute(select(runs.c.id, runs.c.attempts, runs.c.cancel_requested)
                                 .where(runs.c.status == "processing",
                                        runs.c.heartbeat_at < now - stale_after)
                                 .order_by(runs.c.seq).with_for_update(skip_locked=True)).all()
            for run_id, attempts, cancel in stale:
                if cancel:
                    conn.execute(_update_run(run_id).values(
                        status="cancelled", message="Cancelled.", completed_at=now,
                        claim_token=None))
                elif attempts < max_attempts:
                    conn.execute(_update_run(run_id).values(
                        status="pending", claim_token=None, worker=None, progress=0.0,
                        step=None, message=REQUEUED_MESSAGE))
                    requeued.append(run_id)
                else:
                    conn.execute(_update_run(run_id).values(
                        status="failed", error=WORKER_DIED_MESSAGE, message="Analysis failed",
                        completed_at=now, claim_token=None))
                    failed.append(run_id)
        return Recovery(requeued, failed)

    def integrity_check(self) -> str:
        """"ok", or one line per problem found: on SQLite the file's own check (PRAGMA
        integrity_check; on PostgreSQL the server guards its pages), then, on both, the store's
        invariants (every run has its input; a result exactly for each completed run; every
        processing run holds a claim)."""
        with self.database.read() as conn:
            problems = []
            if self.database.backend == "sqlite":
                problems += [line for line in conn.execute(
                    text("PRAGMA integrity_check")).scalars() if line != "ok"]
            problems += _invariant_problems(conn)
        return "\n".join(problems) or "ok"


# ---- statements shared by the methods ------------------------------------------------------

def _update_run(run_id: str):
    return update(runs).where(runs.c.id == run_id)


def _locked_status(conn: Connection, run_id: str) -> str:
    """The run's status, its row locked until commit (PostgreSQL); RunNotFoundError if none."""
    status = conn.execute(select(runs.c.status).where(runs.c.id == run_id)
                          .with_for_update()).scalar()
    if status is None:
        raise RunNotFoundError(run_id)
    return status


def _claimed_status(conn: Connection, claim: Claim) -> tuple[str, bool]:
    """(status, cancel requested) of a run still held by this claim; else ClaimLostError.

    Finishing keeps the claim token, so the last progress report after saving finds the run
    "completed" (and is ignored); recovery and new claims replace the token.
    """
    row = conn.execute(select(runs.c.status, runs.c.cancel_requested, runs.c.claim_token)
                       .where(runs.c.id == claim.run_id).with_for_update()).first()
    if row is None or row.claim_token != claim.token:
        raise ClaimLostError(f"Run {claim.run_id} is no longer held by this worker.")
    return row.status, bool(row.cancel_requested)


def _require_processing(conn: Connection, claim: Claim) -> None:
    status, _ = _claimed_status(conn, claim)
    if status != "processing":
        raise ClaimLostError(f"Run {claim.run_id} is already {status}.")


def _append_audit(conn: Connection, run_ids: Sequence[str], action: str, actor: str,
                  at: float, detail: str | None = None) -> None:
    conn.execute(audit.insert(), [dict(run_id=run_id, action=action, actor=actor, at=at,
                                       detail=detail) for run_id in run_ids])


def _purge(conn: Connection, run_ids: Sequence[str], actor: str, at: float) -> None:
    _delete_runs(conn, run_ids)
    _append_audit(conn, run_ids, "purged", actor, at)


def _delete_runs(conn: Connection, run_ids: Sequence[str]) -> None:
    """Delete runs and their results, then each of their inputs that no run refers to any more.

    The inputs are locked before the check, so on PostgreSQL a run created at the same moment
    from the same input either is seen by the check or re-inserts the input."""
    if not run_ids:
        return
    shas = conn.execute(select(runs.c.input_sha256).where(runs.c.id.in_(run_ids))
                        .distinct()).scalars().all()
    conn.execute(delete(results).where(results.c.run_id.in_(run_ids)))
    conn.execute(delete(runs).where(runs.c.id.in_(run_ids)))
    conn.execute(select(inputs.c.sha256).where(inputs.c.sha256.in_(shas))
                 .order_by(inputs.c.sha256).with_for_update()).all()
    conn.execute(delete(inputs).where(inputs.c.sha256.in_(shas), ~exists().where(
        runs.c.input_sha256 == inputs.c.sha256)))


def _invariant_problems(conn: Connection) -> list[str]:
    checks = {
        "run without its input": select(runs.c.id).where(~exists().where(
            inputs.c.sha256 == runs.c.input_sha256)),
        "completed run without a result": select(runs.c.id).where(
            runs.c.status == "completed", ~exists().where(results.c.run_id == runs.c.id)),
        "result of a run that is not completed": select(results.c.run_id).where(
            ~exists().where(runs.c.id == results.c.run_id, runs.c.status == "completed")),
        "processing run without a claim": select(runs.c.id).where(
            runs.c.status == "processing", runs.c.claim_token.is_(None)),
    }
    return [f"{problem}: {run_id}" for problem, query in checks.items()
            for run_id in conn.execute(query).scalars()]


def _record(row: Row) -> RunRecord:
    values = row._asdict()
    return RunRecord(**{
        **values,
        "parameters": json.loads(values["parameters"]),
        "summary": json.loads(values["summary"]) if values["summary"] else None,
        "cancel_requested": bool(values["cancel_requested"]),
        **{key: _datetime(values[key])
           for key in ("created_at", "started_at", "completed_at", "heartbeat_at",
                       "deleted_at")}})


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
