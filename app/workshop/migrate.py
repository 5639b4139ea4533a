"""Bring a workshop database to the newest schema with Alembic, programmatically, on start-up.

The migration scripts live in ``app/workshop/migrations/versions`` (no alembic.ini). Replicas that
start together must not migrate at the same time: on PostgreSQL the upgrade runs inside one
transaction holding an advisory lock (PostgreSQL's DDL is transactional, so a second replica waits,
then finds the schema current); on SQLite the transaction starts with BEGIN IMMEDIATE, which takes
the file's write lock.

A new revision: ``python -m app.workshop.migrate revision "what changed"`` writes a script beside
0001_initial.py; edit it by hand (keep ``models.py`` in step).
"""

from __future__ import annotations

import sys
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from app.workshop.engine import WRITE

SCRIPTS = Path(__file__).resolve().parent / "migrations"
_PG_LOCK = 0x77_6B_73_68  # "wksh": the advisory lock id for workshop migrations


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPTS))
    return cfg


def upgrade(engine: sa.Engine, revision: str = "head") -> None:
    cfg = _config()
    with engine.connect().execution_options(**{WRITE: True}) as conn, conn.begin():
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_LOCK})")
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def current(engine: sa.Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn, opts={"version_table": "ws_alembic_version"}).get_current_revision()


if __name__ == "__main__":  # python -m app.workshop.migrate revision "message"
    if len(sys.argv) == 3 and sys.argv[1] == "revision":
        command.revision(_config(), message=sys.argv[2])
    else:
        sys.exit('usage: python -m app.workshop.migrate revision "what changed"')
