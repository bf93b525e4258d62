"""Schema migrations of the run store (Alembic), run by ``database.Database`` at first use.

``versions/`` holds one file per schema change, oldest first; never edit one that has shipped.
To add a change: edit ``schema.py``, then write the next revision (``alembic -c
ganglioside/runs/migrations/alembic.ini revision -m "what changes"`` makes the file; Alembic's
``--autogenerate`` drafts it from a database at the current head named by $GANGLIOSIDE_DB),
and check it with tests/test_migrations.py.

Files written by the store before migrations existed (``PRAGMA user_version = 1``, no
``alembic_version`` table) already have the tables of revision 0001, which then creates only what
is missing; later revisions upgrade them like any other database.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

HERE = Path(__file__).resolve().parent


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(HERE))
    return config


def head() -> str:
    """The newest revision."""
    return ScriptDirectory.from_config(_config()).get_current_head()


def is_current(conn: Connection) -> bool:
    """True when the database is at the newest revision."""
    return MigrationContext.configure(conn).get_current_revision() == head()


def upgrade(conn: Connection) -> None:
    """Upgrade to the newest revision inside the caller's transaction (which holds the lock)."""
    config = _config()
    config.attributes["connection"] = conn
    command.upgrade(config, "head")
