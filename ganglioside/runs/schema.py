"""The run store's tables, as the newest migration (``migrations/versions``) leaves them.

``runs`` holds one row per submitted analysis (with its owner, who submitted it, and when it
was moved to the trash), ``inputs`` each uploaded file once (by its SHA-256), ``results`` the
result of each completed run, ``audit`` who submitted, cancelled, deleted, restored or purged
which run and when (append-only: migration 0003 gives it triggers that refuse UPDATE and DELETE). Times are seconds since 1970 (UTC) as
double-precision numbers, the same on SQLite and PostgreSQL. A test checks that a database
upgraded by the migrations matches these tables.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (REAL, BigInteger, Boolean, CheckConstraint, Column, Double, Index,
                        Integer, LargeBinary, MetaData, Table, Text, TypeDecorator, text)

STATUSES = ("pending", "processing", "completed", "failed", "cancelled")
ACTIVE_STATUSES = ("pending", "processing")
FINISHED_STATUSES = ("completed", "failed", "cancelled")
AUDIT_ACTIONS = ("submitted", "cancelled", "deleted", "restored", "purged")

BIG_INTEGER = BigInteger().with_variant(Integer(), "sqlite")  # SQLite: a rowid alias
SECONDS = Double().with_variant(REAL(), "sqlite")
FLAG = Boolean().with_variant(Integer(), "sqlite")  # SQLite files store 0/1 integers
ACTIVE_ONLY = text("status IN ('pending', 'processing')")
SEARCH_SEPARATOR = "\n"


class SafeText(TypeDecorator):
    """Text whose NUL characters are stored as U+FFFD: PostgreSQL refuses NUL in text, and a
    file name or error message quoting an uploaded cell may contain one."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        return value.replace("\x00", "\ufffd") if isinstance(value, str) else value


def search_text(name: str, user: str | None, file_name: str, run_id: str) -> str:
    """The ``search_text`` of a run: what ``RunStore.list_runs(text=...)`` looks in."""
    return SEARCH_SEPARATOR.join(part.casefold() for part in (name, user or "", file_name, run_id))


metadata = MetaData()

runs = Table(
    "runs", metadata,
    Column("seq", BIG_INTEGER, primary_key=True, autoincrement=True),
    Column("id", Text, nullable=False, unique=True),
    Column("name", SafeText, nullable=False),
    Column("user", SafeText),
    Column("sample_type", Text, nullable=False),
    Column("parameters", Text, nullable=False),  # JSON of AnalysisParams.to_dict()
    Column("file_name", SafeText, nullable=False),
    Column("sheet", SafeText),
    Column("input_sha256", Text, nullable=False),
    Column("input_size", BIG_INTEGER, nullable=False),
    Column("dedupe_key", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("progress", SECONDS, nullable=False, server_default="0"),
    Column("step", SafeText),
    Column("message", SafeText),
    Column("error", SafeText),
    Column("created_at", SECONDS, nullable=False),
    Column("started_at", SECONDS),
    Column("completed_at", SECONDS),
    Column("heartbeat_at", SECONDS),
    Column("algorithm_version", Text, nullable=False),
    Column("summary", Text),  # JSON of the result's summary
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("cancel_requested", FLAG, nullable=False, server_default="0"),
    Column("claim_token", Text),
    Column("worker", SafeText),
    Column("search_text", SafeText),  # casefolded name, user, file name and id (migration 2)
    Column("owner", SafeText),  # email; None: started before owners were recorded (migration 3)
    Column("submitter", SafeText),  # who submitted it (an admin may submit for an owner)
    Column("deleted_at", SECONDS),  # in the trash since then; None: not deleted
    Column("deleted_by", SafeText),
    CheckConstraint(f"status IN {STATUSES!r}", name="runs_status_check"),
    Index("runs_by_status", "status", "seq"),
    # At most one active run per (input, sheet, parameters, name): enforced by the database.
    Index("runs_active_dedupe", "dedupe_key", unique=True, sqlite_where=ACTIVE_ONLY,
          postgresql_where=ACTIVE_ONLY),
    sqlite_autoincrement=True,
)

inputs = Table(
    "inputs", metadata,
    Column("sha256", Text, primary_key=True),
    Column("data", LargeBinary, nullable=False),
)

audit = Table(
    "audit", metadata,
    Column("seq", BIG_INTEGER, primary_key=True, autoincrement=True),
    Column("run_id", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("actor", SafeText, nullable=False),
    Column("at", SECONDS, nullable=False),
    Column("detail", SafeText),
    CheckConstraint(f"action IN {AUDIT_ACTIONS!r}", name="audit_action_check"),
    Index("audit_by_run", "run_id", "seq"),
    sqlite_autoincrement=True,
)

results = Table(
    "results", metadata,
    Column("run_id", Text, primary_key=True),
    Column("data", LargeBinary, nullable=False),  # see store._result_blob
)
