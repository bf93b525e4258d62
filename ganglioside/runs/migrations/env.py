"""Alembic environment: migrate the connection the store hands over (``upgrade``), or, from the
``alembic`` command line, the database named by $GANGLIOSIDE_DB."""

from alembic import context
from sqlalchemy import Connection, create_engine

from ganglioside.runs.database import database_url
from ganglioside.runs.schema import metadata


def run_migrations(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():  # a no-op inside the store's own transaction
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    run_migrations(connection)
else:
    with create_engine(database_url()).begin() as connection:
        run_migrations(connection)
