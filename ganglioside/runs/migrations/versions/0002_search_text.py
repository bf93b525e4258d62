"""Search text: each run's name, user, file name and id, casefolded by Python
(``schema.search_text``), so that the History search matches the same runs on SQLite and
PostgreSQL (whose lower() depends on the server's locale) without a function of our own in the
database. Existing runs get theirs here.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

from ganglioside.runs.schema import search_text

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("runs", sa.Column("search_text", sa.Text))
    runs = sa.table("runs", sa.column("id"), sa.column("name"), sa.column("user"),
                    sa.column("file_name"), sa.column("search_text"))
    conn = op.get_bind()
    rows = conn.execute(sa.select(runs.c.id, runs.c.name, runs.c.user, runs.c.file_name))
    values = [{"run_id": run_id, "text": search_text(name, user, file_name, run_id)}
              for run_id, name, user, file_name in rows.fetchall()]
    if values:
        conn.execute(runs.update().where(runs.c.id == sa.bindparam("run_id"))
                     .values(search_text=sa.bindparam("text")), values)


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("search_text")
