"""Owner, submitter and trash of each run, and the append-only audit trail.

Existing runs keep a NULL owner ("unknown": only admins manage them) and are not in the trash;
the audit trail starts empty. Triggers make ``audit`` append-only on both databases.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

AUDIT_ACTIONS = ("submitted", "cancelled", "deleted", "restored", "purged")
BIG_INTEGER = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
SECONDS = sa.Double().with_variant(sa.REAL(), "sqlite")
REFUSAL = "the audit trail is append-only"
SQLITE_TRIGGERS = [f"""CREATE TRIGGER audit_append_only_{event.lower()} BEFORE {event} ON audit
    BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END""" for event in ("UPDATE", "DELETE")]
POSTGRESQL_TRIGGERS = [
    f"""CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS
    $$ BEGIN RAISE EXCEPTION '{REFUSAL}'; END $$""",
    """CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()""",
]


def upgrade() -> None:
    for name in ("owner", "submitter", "deleted_by"):
        op.add_column("runs", sa.Column(name, sa.Text))
    op.add_column("runs", sa.Column("deleted_at", SECONDS))
    op.create_table(
        "audit",
        sa.Column("seq", BIG_INTEGER, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("at", SECONDS, nullable=False),
        sa.Column("detail", sa.Text),
        sa.CheckConstraint(f"action IN {AUDIT_ACTIONS!r}", name="audit_action_check"),
        sqlite_autoincrement=True,
    )
    op.create_index("audit_by_run", "audit", ["run_id", "seq"])
    postgresql = op.get_bind().dialect.name == "postgresql"
    for statement in POSTGRESQL_TRIGGERS if postgresql else SQLITE_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("audit")  # its triggers go with it
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION audit_append_only()")
    with op.batch_alter_table("runs") as batch:
        for name in ("owner", "submitter", "deleted_at", "deleted_by"):
            batch.drop_column(name)
