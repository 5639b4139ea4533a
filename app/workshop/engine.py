"""Where workshop state lives: an SQLite file by default, PostgreSQL when a URL is configured.

``INTERP_READER_DATABASE_URL`` (e.g. ``postgresql://user:pw@host/db``) selects PostgreSQL through
psycopg 3; otherwise ``$INTERP_READER_DATA_DIR/workshop.sqlite3`` (default ``data/`` in the repo
root) is created on first use. Replicas behind a proxy must share PostgreSQL: an SQLite file is
per machine.

SQLite is tuned for many writers in one process: WAL journal, a 30 s busy timeout, foreign keys
on, and write transactions that start with ``BEGIN IMMEDIATE``. Without the last, a transaction
that reads (check the student's token) and then writes (insert the attempt) can fail at once with
"database is locked" when another writer committed in between, instead of waiting its turn.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event

ROOT = Path(__file__).resolve().parent.parent.parent
WRITE = "workshop_write"  # execution option: this connection's transaction will write


def configured_url() -> str:
    """The database URL from the environment (PostgreSQL), or the default SQLite file's URL."""
    url = os.environ.get("INTERP_READER_DATABASE_URL", "").strip()
    if url:
        return normalise_url(url)
    data = Path(os.environ.get("INTERP_READER_DATA_DIR", "").strip() or ROOT / "data")
    return f"sqlite:///{data.resolve() / 'workshop.sqlite3'}"


def normalise_url(url: str) -> str:
    """postgres:// and postgresql:// use psycopg 3 (the only PostgreSQL driver we install)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def make_engine(url: str) -> sa.Engine:
    url = normalise_url(url)
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False},
                                  pool_size=8, max_overflow=32, pool_timeout=60)
        _sqlite_events(engine)
        return engine
    if parsed.get_backend_name() == "postgresql":
        return sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=15, pool_timeout=60)
    raise ValueError(f"workshop storage supports sqlite and postgresql URLs, not {parsed.get_backend_name()!r}")


def _wal(cur) -> None:
    """Switch the file to WAL (it stays WAL once set). Switching needs the file to itself, and SQLite answers
    "database is locked" at once, without the busy timeout, when another connection is opening it at the same
    moment (seen with six replicas starting together on a busy machine), so retry for a few seconds."""
    for attempt in range(50):
        try:
            if cur.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal":
                return
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError:
            if attempt == 49:
                raise
            time.sleep(0.1)


def _sqlite_events(engine: sa.Engine) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # let the "begin" hook below emit BEGIN itself
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA busy_timeout=30000")
        _wal(cur)
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE) else "BEGIN")
