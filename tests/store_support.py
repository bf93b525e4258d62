"""Reading a run store's tables directly, the same way on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from ganglioside.runs.access import Actor
from ganglioside.runs.store import RunStore

ADMIN = Actor("admin@lab.example", "Lab admin", is_admin=True)
"""An admin: the actor of store tests that are not about permissions."""


def query(store: RunStore, sql: str, **params: Any) -> list[tuple]:
    """Rows of one SQL statement on the store's database (committed if it writes)."""
    with store.database.write() as conn:
        result = conn.execute(text(sql), params)
        return [tuple(row) for row in result] if result.returns_rows else []
