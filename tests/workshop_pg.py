"""A throw-away PostgreSQL cluster for the workshop tests (Debian's postgresql package; `make postgresql`).

initdb into a temp dir, pg_ctl start on a free loopback port with the unix socket in the same dir,
trust auth for the local superuser, fsync off (nothing here must survive a power cut). initdb
refuses to run as root, so as root the server runs as `postgres` (or `nobody`) via runuser.
Skipped where PostgreSQL is not installed, unless REQUIRE_BROWSER is set (CI): then it fails.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest


def pg_bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_user() -> tuple[list[str], str | None]:
    if os.geteuid() != 0:
        return [], None
    for user in ("postgres", "nobody"):
        try:
            pwd.getpwnam(user)
            return ["runuser", "-u", user, "--"], user
        except KeyError:
            continue
    raise RuntimeError("running as root with no unprivileged user for initdb (postgres or nobody)")


@contextmanager
def pg_cluster():
    """Start a throw-away cluster; yields its base SQLAlchemy URL (append '/<database>'). Needs pg_bindir()."""
    bindir = pg_bindir()
    if bindir is None:
        raise RuntimeError("PostgreSQL not installed (make postgresql, or apt-get install postgresql)")
    prefix, user = _as_user()
    tmp = Path(tempfile.mkdtemp(prefix="ws-pg-"))
    if user:
        entry = pwd.getpwnam(user)
        os.chown(tmp, entry.pw_uid, entry.pw_gid)
    data, port = tmp / "data", _free_port()
    run = dict(check=True, capture_output=True, text=True, timeout=180, cwd=tmp)
    try:
        subprocess.run(prefix + [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
                                 "-E", "UTF8", "--no-sync", "--no-instructions"], **run)
        opts = (f"-c listen_addresses=127.0.0.1 -p {port} -k {tmp} -c fsync=off -c synchronous_commit=off "
                "-c full_page_writes=off -c max_connections=100 -c shared_buffers=32MB")
        subprocess.run(prefix + [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(tmp / "log"), "-w", "-t", "120",
                                 "-o", opts, "start"], **run)
    except subprocess.CalledProcessError as err:
        log = (tmp / "log").read_text()[-2000:] if (tmp / "log").exists() else ""
        shutil.rmtree(tmp, ignore_errors=True)
        raise RuntimeError(f"PostgreSQL did not start: {err.stderr[-2000:]}\n{log}") from err
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run(prefix + [str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True, timeout=60, cwd=tmp)
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="session")
def workshop_pg_server():
    """One cluster for the test session; skipped without PostgreSQL, but failed when REQUIRE_BROWSER is set (CI)."""
    if pg_bindir() is None:
        msg = "PostgreSQL not installed (make postgresql, or apt-get install postgresql)"
        if os.environ.get("REQUIRE_BROWSER"):
            pytest.fail(f"REQUIRE_BROWSER is set but {msg}")
        pytest.skip(msg)
    with pg_cluster() as base:
        yield base


def new_database(base: str) -> str:
    """A fresh empty database on the test cluster; returns its URL."""
    import sqlalchemy as sa

    name = "ws_" + uuid.uuid4().hex[:12]
    engine = sa.create_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine.dispose()
    return f"{base}/{name}"
