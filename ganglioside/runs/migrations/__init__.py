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


def alembic_config(conn: Connection | None = None) -> Config:
    """Alembic's configuration of these migrations, working on conn when given."""
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.attributes["connection"] = conn
    return config


def revisions() -> list[str]:
    """Every revision this program knows, oldest first."""
    script = ScriptDirectory.from_config(alembic_config())
    return [revision.revision for revision in reversed(list(script.walk_revisions()))]


def current_revision(conn: Connection) -> str | None:
    """The database's revision; None for an empty database or a file from before migrations."""
    return MigrationContext.configure(conn).get_current_revision()


def upgrade(conn: Connection) -> None:
    """Upgrade to the newest revision inside the caller's transaction (which holds the lock)."""
    command.upgrade(alembic_config(conn), "head")
