"""Alembic environment for the workshop tables, run programmatically by ``app.workshop.migrate``.

There is no alembic.ini: ``migrate.upgrade`` passes an open connection (already inside a
transaction that holds the migration lock) in ``config.attributes["connection"]``.
"""

from alembic import context

from app.workshop.models import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run the workshop migrations through app.workshop.migrate.upgrade(engine)")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True,
                  version_table="ws_alembic_version")
with context.begin_transaction():
    context.run_migrations()
