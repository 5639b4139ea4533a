"""AppTest for workshop mode: the Workshop page (teacher and student), tampered links, and the hooks on a
walkthrough page (follow-me banner, an exercise check recorded for a joined student)."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from app.workshop import open_store
from tests.conftest import ROOT, open_page

PAGE = "walkthroughs/workshop.py"


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("INTERP_READER_DATABASE_URL", raising=False)
    monkeypatch.setenv("INTERP_READER_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def _workshop(query: dict | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=120)
    for k, v in (query or {}).items():
        at.query_params[k] = v
    at.switch_page(PAGE)
    at.run()
    assert not at.exception, at.exception
    return at


def _param(at: AppTest, key: str) -> str:
    value = at.query_params[key]
    return value[0] if isinstance(value, list) else value


def _click(at: AppTest, label: str) -> AppTest:
    [button] = [b for b in at.button if b.label == label]
    button.click().run()
    assert not at.exception, at.exception
    return at


def _texts(at: AppTest) -> str:
    return " ".join([m.value for m in at.markdown] + [c.value for c in at.caption] + [i.value for i in at.info]
                    + [w.value for w in at.warning] + [e.value for e in at.error])


def test_teacher_creates_class_student_joins_dashboard_counts(data_dir):
    teacher = _workshop()
    teacher.text_input(key="workshop.create.name").input("Tuesday *seminar* <b>")
    _click(teacher, "Create the class")
    assert (data_dir / "workshop.sqlite3").is_file()  # created on first use
    code = {m.label: m.value for m in teacher.metric}["Join code"]
    assert len(code) == 9 and code[4] == "-"
    assert teacher.query_params["teach"]
    assert "Teaching: Tuesday \\*seminar\\* \\<b\\>" in [s.value for s in teacher.subheader]  # escaped, not bold

    student = _workshop()
    student.text_input(key="workshop.join.code").input(code.lower().replace("-", " "))
    student.text_input(key="workshop.join.name").input("Ada")
    _click(student, "Join")
    assert "You are in" in _texts(student) and student.query_params["ws"]

    teacher.run()
    assert {m.label: m.value for m in teacher.metric}["Students in class"] == "1"
    assert any(d.value["student"].tolist() == ["Ada"] for d in teacher.dataframe)

    # a reload of the student's URL (new session) keeps the class; leaving ends it
    again = _workshop({"ws": _param(student, "ws")})
    assert "You are in" in _texts(again)
    _click(again, "Leave the class")
    assert "ws" not in again.query_params and again.text_input(key="workshop.join.code")
    teacher.run()
    assert {m.label: m.value for m in teacher.metric}["Students in class"] == "0"


def test_wrong_code_and_bad_names_get_messages():
    at = _workshop()
    at.text_input(key="workshop.join.code").input("2222-2222")
    at.text_input(key="workshop.join.name").input("Bob")
    _click(at, "Join")
    assert "No class has that code" in _texts(at)
    at.text_input(key="workshop.join.code").input("OOOO-1111")
    _click(at, "Join")
    assert "never contain 0, O, 1, I or L" in _texts(at)
    made = open_store().create_class("Names")
    at.text_input(key="workshop.join.code").input(made.join_code)
    at.text_input(key="workshop.join.name").input("\u202eevil")
    _click(at, "Join")
    assert "invisible or control characters" in _texts(at)


@pytest.mark.parametrize("param,value", [("ws", "1.2.garbage"), ("ws", "<script>"), ("teach", "99.x" * 3),
                                         ("teach", "1." + "A" * 32)])
def test_tampered_links_are_refused_in_place(param, value):
    at = _workshop({param: value})
    assert "not valid" in _texts(at) and param not in at.query_params
    assert at.text_input(key="workshop.join.code")  # back to the join / create tabs


def test_student_link_is_not_a_teacher_link():
    made = open_store().create_class("Roles")
    kid = open_store().join(made.join_code, "Kid")
    at = _workshop({"teach": f"{made.class_id}.{kid.token}"})
    assert "teacher link is not valid" in _texts(at)
    assert not [m for m in at.metric if m.label == "Join code"]


def test_banner_on_a_walkthrough_page_and_exercise_recorded(monkeypatch):
    made = open_store().create_class("Follow")
    kid = open_store().join(made.join_code, "Grace")
    open_store().set_follow(made.class_id, made.teacher_token, "privileged-basis", "adam-vs-sgd",
                            "basis_dims.model=outliers-sgd&ws=stolen")
    cred = f"{made.class_id}.{kid.token}"
    at = open_page("walkthroughs/privileged_basis.py", {"ws": cred}, timeout=180)
    [banner] = [i for i in at.info if "Your teacher is at" in i.value]
    assert "Adam against SGD" in banner.value
    assert f"privileged_basis?basis_dims.model=outliers-sgd&ws={cred}#adam-vs-sgd" in banner.value
    assert "stolen" not in banner.value  # a pushed view never carries someone's credential

    at.text_input(key="measuring.ex0.answer").input("3")
    at.button(key="measuring.ex0.check").click().run()
    assert not at.exception
    verdict = bool(at.success) and not at.error
    assert "sent to your teacher" in _texts(at)
    dash = open_store().dashboard(made.class_id, made.teacher_token)
    [attempt] = dash.attempts
    assert (attempt.student, attempt.wid, attempt.exercise, attempt.answer) == ("Grace", "privileged-basis",
                                                                              "measuring.ex0", "3")
    assert attempt.correct == verdict and attempt.seconds >= 0

    # a broken workshop store never breaks the exercise: the check's feedback still shows
    def broken(*_a, **_k):
        raise RuntimeError("database went away")

    with monkeypatch.context() as m:
        m.setattr(type(open_store()), "record_attempt", broken)
        at.button(key="measuring.ex0.check").click().run()
        assert not at.exception and (at.success or at.error) and "sent to your teacher" not in _texts(at)

    # a push to this same page with no view settings scrolls in place instead of opening a tab
    open_store().set_follow(made.class_id, made.teacher_token, "privileged-basis", "layernorm-gain")
    at.run()
    [banner] = [i for i in at.info if "Your teacher is at" in i.value]
    assert "[Go to this section](#layernorm-gain)" in banner.value


def test_not_joined_walkthrough_page_has_no_banner_and_records_nothing(data_dir):
    at = open_page("walkthroughs/privileged_basis.py", {"ws": "<b>garbage</b>"}, timeout=180)
    assert "link is not valid" in _texts(at) and "ws" not in at.query_params  # a tampered link: notice, no crash
    assert not [i for i in at.info if "Your teacher" in i.value]
    at.text_input(key="measuring.ex0.answer").input("3")
    at.button(key="measuring.ex0.check").click().run()
    assert not at.exception and "sent to your teacher" not in _texts(at)
    assert not (data_dir / "workshop.sqlite3").exists()  # no database touched for readers outside a class
