"""The one data layer for workshop mode: every read or write of class state goes through ``Workshop``.

Each call that touches a class takes the class id and a token, and checks the token against that
class before it reads anything: a student token opens only its own student's view of its own
class, a teacher token only its class's teacher view (``Forbidden`` otherwise). Tokens are
'<row id>.<secret>' (see ``codes``); only SHA-256 digests are stored.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

import sqlalchemy as sa

from app.workshop import codes, migrate
from app.workshop.codes import BadInput, Forbidden, NotFound, RateLimit, RateLimited
from app.workshop.engine import WRITE, configured_url, make_engine
from app.workshop.models import attempts, classes, join_log, students
from app.workshop.report import Attempt, Dashboard, summarise, to_csv

MAX_STUDENTS = 500
_ID = re.compile(r"^[a-z0-9][a-z0-9\-_.]{0,63}$")
_PRIVATE_PARAMS = {"ws", "teach"}


@dataclass(frozen=True)
class Follow:
    """Where the teacher asked the class to look: walkthrough id, section id, the view's query string."""

    wid: str
    section: str
    query: str
    at: float


@dataclass(frozen=True)
class NewClass:
    class_id: int
    name: str
    join_code: str
    teacher_token: str


@dataclass(frozen=True)
class Joined:
    class_id: int
    class_name: str
    student_id: int
    name: str
    token: str


@dataclass(frozen=True)
class StudentView:
    class_id: int
    class_name: str
    student_id: int
    name: str
    follow: Follow | None


@dataclass(frozen=True)
class TeacherView:
    class_id: int
    name: str
    join_code: str
    created_at: float
    follow: Follow | None


def _follow(row) -> Follow | None:
    if not row.follow_wid:
        return None
    return Follow(row.follow_wid, row.follow_section or "", row.follow_query or "", row.follow_at or 0.0)


def clean_query(query: str) -> str:
    """A view's query string, re-encoded; private credentials and over-long values are dropped."""
    query = (query or "").lstrip("?")
    if len(query) > 1000:
        raise BadInput("That view's settings are too long to share (over 1,000 characters).")
    pairs = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k not in _PRIVATE_PARAMS and k]
    return urlencode(pairs)


class Workshop:
    """Open (and migrate) the workshop database at ``url`` (default: from the environment)."""

    def __init__(self, url: str | None = None, *, limits: RateLimit | None = None, clock=time.time):
        self.url = url or configured_url()
        self.engine = make_engine(self.url)
        self.limits = limits or RateLimit()
        self.clock = clock
        migrate.upgrade(self.engine)

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    def dispose(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _tx(self, write: bool = False):
        with self.engine.connect().execution_options(**({WRITE: True} if write else {})) as conn, conn.begin():
            yield conn

    def _lock(self, conn, key: str) -> None:
        """Serialise rate-limit checks for one key on PostgreSQL (SQLite's BEGIN IMMEDIATE already does)."""
        if conn.dialect.name == "postgresql":
            k = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": k})

    def _count(self, conn, kind: str, since: float, client: str | None = None) -> tuple[int, float]:
        q = sa.select(sa.func.count(), sa.func.min(join_log.c.at)).where(join_log.c.kind == kind, join_log.c.at > since)
        if client is not None:
            q = q.where(join_log.c.client == client)
        n, oldest = conn.execute(q).one()
        return int(n), float(oldest or since)

    # --- teacher ---------------------------------------------------------------------------------------------
    def create_class(self, name: str, client: str | None = None) -> NewClass:
        name = codes.clean_name(name, codes.MAX_CLASS_NAME, "class name")
        key, now = codes.client_key(client), self.clock()
        secret = codes.new_secret()
        with self._tx(write=True) as conn:
            self._lock(conn, "create:" + key)
            n, oldest = self._count(conn, "create", now - self.limits.window_s, key)
            if n >= self.limits.creates_per_client:
                raise RateLimited("Too many new classes from this address; try again later.",
                                  oldest + self.limits.window_s - now)
            conn.execute(join_log.delete().where(join_log.c.at < now - self.limits.window_s))  # keep the log short
            conn.execute(join_log.insert().values(kind="create", client=key, at=now))
            for _ in range(20):  # a clash among 8.5e11 codes is rare; retry inside a savepoint
                code = codes.new_code()
                try:
                    with conn.begin_nested():
                        class_id = conn.execute(classes.insert().values(
                            name=name, join_code=code, teacher_hash="", created_at=now)).inserted_primary_key[0]
                    break
                except sa.exc.IntegrityError:
                    continue
            else:
                raise RuntimeError("could not find a free join code")
            token = codes.make_token(class_id, secret)
            conn.execute(classes.update().where(classes.c.id == class_id).values(teacher_hash=codes.digest(token)))
        return NewClass(class_id, name, code, token)

    def _teacher_row(self, conn, class_id: int, token: str):
        row_id, _ = codes.split_token(token)
        row = conn.execute(sa.select(classes).where(classes.c.id == class_id)).first()
        # The token embeds its class id; both must match, and the digest compare runs in constant time.
        ok = row is not None and row_id == class_id and codes.secret_matches(token, row.teacher_hash)
        if not ok:
            raise Forbidden("This teacher link is not valid for this class.")
        return row

    def teacher(self, class_id: int, token: str) -> TeacherView:
        with self._tx() as conn:
            row = self._teacher_row(conn, class_id, token)
        return TeacherView(row.id, row.name, row.join_code, row.created_at, _follow(row))

    def set_follow(self, class_id: int, token: str, wid: str, section: str, query: str = "") -> Follow:
        if not (_ID.match(wid or "") and _ID.match(section or "")):
            raise BadInput("Pick a walkthrough and a section to send.")
        query, now = clean_query(query), self.clock()
        with self._tx(write=True) as conn:
            self._teacher_row(conn, class_id, token)
            conn.execute(classes.update().where(classes.c.id == class_id).values(
                follow_wid=wid, follow_section=section, follow_query=query, follow_at=now))
        return Follow(wid, section, query, now)

    def clear_follow(self, class_id: int, token: str) -> None:
        with self._tx(write=True) as conn:
            self._teacher_row(conn, class_id, token)
            conn.execute(classes.update().where(classes.c.id == class_id).values(
                follow_wid=None, follow_section=None, follow_query=None, follow_at=None))

    def dashboard(self, class_id: int, token: str) -> Dashboard:
        with self._tx() as conn:
            self._teacher_row(conn, class_id, token)
            roster = conn.execute(sa.select(students.c.id, students.c.name, students.c.left_at)
                                  .where(students.c.class_id == class_id).order_by(students.c.id)).all()
            rows = conn.execute(sa.select(attempts).where(attempts.c.class_id == class_id)
                                .order_by(attempts.c.at, attempts.c.id)).all()
        names = {r.id: r.name for r in roster}
        present = [r.id for r in roster if r.left_at is None]
        return summarise([Attempt(r.student_id, names.get(r.student_id, "?"), r.wid, r.exercise, r.answer,
                                  bool(r.correct), int(r.hints), float(r.seconds), float(r.at)) for r in rows],
                         names, present)

    def attempts_csv(self, class_id: int, token: str) -> str:
        return to_csv(self.dashboard(class_id, token).attempts)

    # --- student ---------------------------------------------------------------------------------------------
    def join(self, code: str, name: str, client: str | None = None) -> Joined:
        """Join with a code and a display name; wrong codes count towards the rate limit."""
        code = codes.normalise_code(code)
        name = codes.clean_name(name, codes.MAX_DISPLAY_NAME, "display name")
        key, now = codes.client_key(client), self.clock()
        since = now - self.limits.window_s
        with self._tx(write=True) as conn:
            self._lock(conn, "join:" + key)
            mine, oldest = self._count(conn, "join_fail", since, key)
            if mine >= self.limits.per_client:
                raise RateLimited("Too many wrong class codes from this address. Check the code with your teacher "
                                  f"and try again in {int(oldest + self.limits.window_s - now) // 60 + 1} min.",
                                  oldest + self.limits.window_s - now)
            everyone, oldest_all = self._count(conn, "join_fail", since)
            if everyone >= self.limits.global_failures:
                raise RateLimited("Joining is paused for a few minutes after many wrong codes; try again soon.",
                                  oldest_all + self.limits.window_s - now)
            row = conn.execute(sa.select(classes.c.id, classes.c.name).where(classes.c.join_code == code)).first()
            if row is None:
                conn.execute(join_log.delete().where(join_log.c.at < since))  # keep the log short
                conn.execute(join_log.insert().values(kind="join_fail", client=key, at=now))
        if row is None:  # raised after the commit, so the failure is counted
            raise NotFound("No class has that code. Check it with your teacher (codes look like K7QX-M2TA).")
        secret = codes.new_secret()
        try:
            with self._tx(write=True) as conn:
                count = conn.execute(sa.select(sa.func.count()).where(
                    students.c.class_id == row.id, students.c.left_at.is_(None))).scalar_one()
                if count >= MAX_STUDENTS:
                    raise BadInput(f"This class is full ({MAX_STUDENTS} students).")
                sid = conn.execute(students.insert().values(
                    class_id=row.id, name=name, name_key=codes.name_key(name), token_hash="",
                    joined_at=now)).inserted_primary_key[0]
                token = codes.make_token(sid, secret)
                conn.execute(students.update().where(students.c.id == sid).values(token_hash=codes.digest(token)))
        except sa.exc.IntegrityError:
            raise BadInput(f"Someone in this class already goes by {name!r}; pick another display name.") from None
        return Joined(row.id, row.name, sid, name, token)

    def _student_row(self, conn, class_id: int, token: str):
        sid, _ = codes.split_token(token)
        row = conn.execute(sa.select(students).where(students.c.id == sid)).first()
        ok = (row is not None and row.class_id == class_id and row.left_at is None
              and codes.secret_matches(token, row.token_hash))
        if not ok:
            raise Forbidden("This student link is not valid for this class (or you left it). Join again with the code.")
        return row

    def student(self, class_id: int, token: str) -> StudentView:
        with self._tx() as conn:
            me = self._student_row(conn, class_id, token)
            cls = conn.execute(sa.select(classes).where(classes.c.id == class_id)).one()
        return StudentView(class_id, cls.name, me.id, me.name, _follow(cls))

    def record_attempt(self, class_id: int, token: str, wid: str, exercise: str, answer: str, correct: bool,
                       hints: int = 0, seconds: float = 0.0) -> None:
        if not (_ID.match(wid or "") and _ID.match(exercise or "")):
            raise BadInput("unknown exercise")
        with self._tx(write=True) as conn:
            me = self._student_row(conn, class_id, token)
            conn.execute(attempts.insert().values(
                class_id=class_id, student_id=me.id, wid=wid, exercise=exercise, answer=(answer or "")[:200],
                correct=bool(correct), hints=max(0, min(int(hints), 99)),
                seconds=max(0.0, min(float(seconds), 86400.0)), at=self.clock()))

    def leave(self, class_id: int, token: str) -> None:
        """The token stops working and the display name is freed; the attempts stay on the dashboard."""
        with self._tx(write=True) as conn:
            me = self._student_row(conn, class_id, token)
            conn.execute(students.update().where(students.c.id == me.id).values(
                left_at=self.clock(), token_hash="", name_key=f"{me.name_key}#left{me.id}"[:100]))


_STORES: dict[str, Workshop] = {}
_STORES_LOCK = threading.Lock()


def open_store(url: str | None = None) -> Workshop:
    """One migrated ``Workshop`` (and connection pool) per database URL, shared by the process."""
    url = url or configured_url()
    with _STORES_LOCK:
        if url not in _STORES:
            _STORES[url] = Workshop(url)
        return _STORES[url]
