"""The store's tables as the store wrote them before migrations existed (``user_version = 1``).

A file written by that store already has them; this revision then creates only what is missing,
so such a file is upgraded in place without touching a row.

Revision ID: 0001
Revises:
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

STATUSES = ("pending", "processing", "completed", "failed", "cancelled")
ACTIVE_ONLY = sa.text("status IN ('pending', 'processing')")
BIG_INTEGER = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
SECONDS = sa.Double().with_variant(sa.REAL(), "sqlite")
FLAG = sa.Boolean().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "runs" not in existing:
        op.create_table(
            "runs",
            sa.Column("seq", BIG_INTEGER, primary_key=True, autoincrement=True),
            sa.Column("id", sa.Text, nullable=False, unique=True),
            sa.Column("name", sa.Text, nullable=False),
            sa.Column("user", sa.Text),
            sa.Column("sample_type", sa.Text, nullable=False),
            sa.Column("parameters", sa.Text, nullable=False),
            sa.Column("file_name", sa.Text, nullable=False),
            sa.Column("sheet", sa.Text),
            sa.Column("input_sha256", sa.Text, nullable=False),
            sa.Column("input_size", BIG_INTEGER, nullable=False),
            sa.Column("dedupe_key", sa.Text, nullable=False),
            sa.Column("status", sa.Text, nullable=False),
            sa.Column("progress", SECONDS, nullable=False, server_default="0"),
            sa.Column("step", sa.Text),
            sa.Column("message", sa.Text),
            sa.Column("error", sa.Text),
            sa.Column("created_at", SECONDS, nullable=False),
            sa.Column("started_at", SECONDS),
            sa.Column("completed_at", SECONDS),
            sa.Column("heartbeat_at", SECONDS),
            sa.Column("algorithm_version", sa.Text, nullable=False),
            sa.Column("summary", sa.Text),
            sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
            sa.Column("cancel_requested", FLAG, nullable=False, server_default="0"),
            sa.Column("claim_token", sa.Text),
            sa.Column("worker", sa.Text),
            sa.CheckConstraint(f"status IN {STATUSES!r}", name="runs_status_check"),
            sqlite_autoincrement=True,
        )
    op.create_index("runs_by_status", "runs", ["status", "seq"], if_not_exists=True)
    op.create_index("runs_active_dedupe", "runs", ["dedupe_key"], unique=True,
                    sqlite_where=ACTIVE_ONLY, postgresql_where=ACTIVE_ONLY, if_not_exists=True)
    if "inputs" not in existing:
        op.create_table("inputs", sa.Column("sha256", sa.Text, primary_key=True),
                        sa.Column("data", sa.LargeBinary, nullable=False))
    if "results" not in existing:
        op.create_table("results", sa.Column("run_id", sa.Text, primary_key=True),
                        sa.Column("data", sa.LargeBinary, nullable=False))


def downgrade() -> None:
    for table in ("results", "inputs", "runs"):
        op.drop_table(table)
