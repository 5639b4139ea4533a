"""Workshop data layer against BOTH backends (SQLite file and a throw-away PostgreSQL): no lost writes
under 35 concurrent students, classes survive a restart, tokens open only their own class's view,
and the join-code rate limit holds (also under concurrent guessing)."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from app.workshop import BadInput, Forbidden, NotFound, RateLimit, RateLimited, Workshop, migrate
from app.workshop.models import metadata
from tests.workshop_pg import new_database

N_STUDENTS, N_EACH = 35, 12


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'data' / 'workshop.sqlite3'}"
    return new_database(request.getfixturevalue("workshop_pg_server"))


@pytest.fixture
def store(url):
    w = Workshop(url)
    yield w
    w.dispose()


def _run_threads(n: int, fn) -> list[BaseException]:
    errors: list[BaseException] = []
    barrier = threading.Barrier(n)

    def body(i):
        try:
            barrier.wait(30)
            fn(i)
        except BaseException as err:  # noqa: B036 - collected and asserted on below
            errors.append(err)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads), "a writer hung"
    return errors


def test_schema_matches_models_and_migrations_are_idempotent(store):
    insp = sa.inspect(store.engine)
    for table in metadata.sorted_tables:
        assert {c["name"] for c in insp.get_columns(table.name)} == {c.name for c in table.columns}, table.name
    assert migrate.current(store.engine) == "0001"
    migrate.upgrade(store.engine)  # a second start-up finds nothing to do
    assert migrate.current(store.engine) == "0001"


def test_replicas_starting_together_migrate_once(url):
    stores: list[Workshop] = []
    errors = _run_threads(6, lambda _i: stores.append(Workshop(url)))  # six app processes booting at once
    try:
        assert not errors, errors[:2]
        assert {migrate.current(w.engine) for w in stores} == {"0001"}
        made = stores[0].create_class("Shared")
        assert stores[-1].teacher(made.class_id, made.teacher_token).join_code == made.join_code
    finally:
        for w in stores:
            w.dispose()


def test_35_concurrent_students_lose_no_attempt(url, store):
    cls = store.create_class("Concurrency")
    other = Workshop(url)  # a second engine, like a second replica on the same database
    joined: dict[int, object] = {}

    def student(i):
        w = store if i % 2 else other
        me = w.join(cls.join_code, f"student {i}", client=f"10.0.0.{i}")
        joined[i] = me
        for k in range(N_EACH):
            w.record_attempt(cls.class_id, me.token, "induction-heads", f"s{k % 3}.ex0", f"answer {i}/{k}",
                             correct=k % 4 == 0, hints=k % 3, seconds=float(k))

    try:
        errors = _run_threads(N_STUDENTS, student)
    finally:
        other.dispose()
    assert not errors, errors[:3]
    dash = store.dashboard(cls.class_id, cls.teacher_token)
    assert dash.n_present == N_STUDENTS
    assert len(dash.attempts) == N_STUDENTS * N_EACH
    answers = {a.answer for a in dash.attempts}
    assert answers == {f"answer {i}/{k}" for i in range(N_STUDENTS) for k in range(N_EACH)}
    per_student = {}
    for a in dash.attempts:
        per_student[a.student] = per_student.get(a.student, 0) + 1
    assert per_student == {f"student {i}": N_EACH for i in range(N_STUDENTS)}
    by_ex = {e.exercise: e for e in dash.exercises}
    assert by_ex["s0.ex0"].answered == N_STUDENTS and by_ex["s0.ex0"].correct == N_STUDENTS  # k=0 is correct
    assert by_ex["s1.ex0"].correct == N_STUDENTS  # k=4 and k=8 land in s1 and s2
    assert sum(e.attempts for e in dash.exercises) == N_STUDENTS * N_EACH


def test_restart_keeps_every_class(url):
    first = Workshop(url)
    made = [first.create_class(f"Class {i}") for i in range(3)]
    kids = [first.join(c.join_code, "Ada") for c in made]  # one name per class is fine across classes
    first.record_attempt(kids[1].class_id, kids[1].token, "grokking", "fourier.ex0", "17", True, 2, 40.0)
    first.set_follow(made[2].class_id, made[2].teacher_token, "othello", "probe", "board.moves=f5")
    first.dispose()

    again = Workshop(url)  # a new engine: the app restarted
    try:
        for c, kid in zip(made, kids):
            view = again.teacher(c.class_id, c.teacher_token)
            assert (view.name, view.join_code) == (c.name, c.join_code)
            assert again.student(c.class_id, kid.token).name == "Ada"
        dash = again.dashboard(made[1].class_id, made[1].teacher_token)
        assert [(a.answer, a.correct, a.hints) for a in dash.attempts] == [("17", True, 2)]
        follow = again.student(kids[2].class_id, kids[2].token).follow
        assert (follow.wid, follow.section, follow.query) == ("othello", "probe", "board.moves=f5")
        assert again.join(made[0].join_code, "Grace").class_name == "Class 0"
    finally:
        again.dispose()


def test_tokens_open_only_their_own_class_and_role(store):
    a, b = store.create_class("A"), store.create_class("B")
    sa_, sb = store.join(a.join_code, "Ann"), store.join(b.join_code, "Bob")
    # On a fresh database class A and its first student share id 1: the role must still be told apart.
    assert sa_.token.split(".")[0] == str(a.class_id)
    for call in (lambda: store.student(b.class_id, sa_.token),
                 lambda: store.record_attempt(b.class_id, sa_.token, "othello", "x.ex0", "1", True),
                 lambda: store.teacher(a.class_id, sa_.token),
                 lambda: store.dashboard(a.class_id, sa_.token),
                 lambda: store.attempts_csv(a.class_id, sa_.token),
                 lambda: store.set_follow(a.class_id, sa_.token, "othello", "probe"),
                 lambda: store.teacher(b.class_id, a.teacher_token),
                 lambda: store.dashboard(b.class_id, a.teacher_token),
                 lambda: store.student(a.class_id, a.teacher_token),
                 lambda: store.student(a.class_id, sa_.token[:-1] + ("A" if sa_.token[-1] != "A" else "B")),
                 lambda: store.teacher(a.class_id, a.teacher_token[:-2]),
                 lambda: store.student(a.class_id, "not a token"),
                 lambda: store.dashboard(a.class_id, "")):
        with pytest.raises(Forbidden):
            call()
    assert store.dashboard(b.class_id, b.teacher_token).attempts == []
    assert store.student(b.class_id, sb.token).name == "Bob"
    store.leave(a.class_id, sa_.token)
    with pytest.raises(Forbidden):
        store.student(a.class_id, sa_.token)  # a student who left holds a dead token


def test_names_are_unique_per_class_and_leaving_frees_them(store):
    c = store.create_class("Names")
    ada = store.join(c.join_code, "Ada  Lovelace")
    with pytest.raises(BadInput, match="already goes by"):
        store.join(c.join_code, "ada lovelace")
    store.record_attempt(c.class_id, ada.token, "grokking", "a.ex0", "wrong", False)
    store.leave(c.class_id, ada.token)
    again = store.join(c.join_code, "Ada Lovelace")
    assert again.student_id != ada.student_id
    dash = store.dashboard(c.class_id, c.teacher_token)
    assert dash.n_present == 1 and len(dash.attempts) == 1  # the leaver's attempt stays in the record
    assert dash.exercises[0].answered == 0  # ... but not in the completion of those present
    for bad in ("", "   ", "x" * 41, "Eve\u202egnp.exe", "tab\x00null"):
        with pytest.raises(BadInput):
            store.join(c.join_code, bad)


def test_join_rate_limit(url):
    now = [1_000_000.0]
    w = Workshop(url, limits=RateLimit(window_s=600, per_client=5, global_failures=12), clock=lambda: now[0])
    try:
        c = w.create_class("Rate")
        wrong = "2222-2222" if c.join_code != "22222222" else "3333-3333"
        for _ in range(5):
            with pytest.raises(NotFound):
                w.join(wrong, "Mallory", client="198.51.100.7")
        for _ in range(3):  # malformed codes reveal nothing and are not counted
            with pytest.raises(BadInput):
                w.join("O0O0-1I1L", "Mallory", client="203.0.113.9")
        with pytest.raises(RateLimited) as err:
            w.join(c.join_code, "Mallory", client="198.51.100.7")  # even the right code is refused now
        assert 0 < err.value.retry_after <= 600
        assert w.join(c.join_code, "Alice", client="192.0.2.1").name == "Alice"  # others are unaffected
        now[0] += 601
        assert w.join(c.join_code, "Mallory", client="198.51.100.7").name == "Mallory"  # the window passed

        # everyone together: 12 failures per window across addresses, then nobody may guess
        for i in range(12):
            with pytest.raises(NotFound):
                w.join(wrong, "x", client=f"198.51.100.{100 + i}")
        with pytest.raises(RateLimited, match="paused"):
            w.join(wrong, "x", client="198.51.100.250")
    finally:
        w.dispose()


def test_rate_limit_holds_under_concurrent_guessing(url):
    w = Workshop(url, limits=RateLimit(window_s=600, per_client=7, global_failures=1000))
    try:
        c = w.create_class("Race")
        wrong = "2222-2222" if c.join_code != "22222222" else "3333-3333"
        outcomes: list[str] = []

        def guess(_i):
            try:
                w.join(wrong, "bot", client="198.51.100.66")
            except NotFound:
                outcomes.append("checked")
            except RateLimited:
                outcomes.append("refused")

        assert not _run_threads(20, guess)
        assert outcomes.count("checked") == 7 and outcomes.count("refused") == 13, outcomes
    finally:
        w.dispose()


def test_class_creation_is_rate_limited_per_client(url):
    w = Workshop(url, limits=RateLimit(creates_per_client=2))
    try:
        w.create_class("one", client="192.0.2.10")
        w.create_class("two", client="192.0.2.10")
        with pytest.raises(RateLimited, match="Too many new classes"):
            w.create_class("three", client="192.0.2.10")
        assert w.create_class("elsewhere", client="192.0.2.11").name == "elsewhere"
    finally:
        w.dispose()
