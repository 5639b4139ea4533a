"""Workshop mode UI: the Workshop page (teacher: class, dashboard, follow-me; student: join, leave),
the follow-me banner on walkthrough pages, and the exercise hooks that record attempts.

Everything goes through ``app.workshop.open_store()``. The joined state lives in session state and in
the URL (``?ws=`` for a student, ``?teach=`` for the teacher link), so a reload keeps it; a URL
credential is checked against the database before it is trusted. Names and answers are user text:
they are shown through dataframes, metrics and escaped Markdown, never as HTML.
"""

from __future__ import annotations

import logging
import os
import re
import time

import pandas as pd
import streamlit as st

from app.workshop import Forbidden, WorkshopError, codes, links, open_store
from app.workshop.report import to_csv

log = logging.getLogger(__name__)
QP_STUDENT, QP_TEACHER = "ws", "teach"
SS_STUDENT, SS_TEACHER, SS_PAGE = "workshop.student", "workshop.teacher", "workshop.page"
REFRESH_S, BANNER_REFRESH_S = 5, 10
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:&])")


def md_escape(text: str) -> str:
    """User text made inert inside Markdown (no links, emphasis, LaTeX, colour or icon directives)."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


TRUST_PROXY = os.environ.get("INTERP_TRUST_PROXY", "") == "1"  # set behind deploy/nginx.conf (README "Deploying")


def _client() -> str:
    """Rate-limit bucket: the visitor's address (codes.client_address); on localhost (none) this browser session."""
    ip = st.context.ip_address
    fwd = st.context.headers.get("X-Forwarded-For") if TRUST_PROXY else None
    addr = codes.client_address(ip if isinstance(ip, str) else None, fwd, TRUST_PROXY)
    if addr:
        return addr
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return f"session:{getattr(ctx, 'session_id', 'unknown')}"


def _restore(param: str, ss_key: str, check) -> dict | None:
    """Session credential, or one from the URL once ``check(class_id, token)`` accepts it; keeps the URL in step."""
    raw = st.query_params.get(param)
    held = st.session_state.get(ss_key)
    if raw and (held is None or held["cred"] != raw):
        try:
            class_id, token = codes.split_credential(raw)
            check(class_id, token)
            held = st.session_state[ss_key] = {"cred": raw, "class_id": class_id, "token": token}
        except WorkshopError as err:
            st.warning(f"{err} The link was removed from the address bar.", icon=":material/link_off:")
            del st.query_params[param]
    if held and st.query_params.get(param) != held["cred"]:
        st.query_params[param] = held["cred"]
    return held


def _forget(param: str, ss_key: str) -> None:
    st.session_state.pop(ss_key, None)
    if param in st.query_params:
        del st.query_params[param]


def student_session() -> dict | None:
    return _restore(QP_STUDENT, SS_STUDENT, lambda c, t: open_store().student(c, t))


# --- hooks called by app/ui/renderer.py and app/ui/exercise.py ----------------------------------------------
def walkthrough_hook(wid: str) -> None:
    """On every walkthrough page: remember which page this is; for a joined student, show the live banner."""
    st.session_state[SS_PAGE] = wid
    if not (st.session_state.get(SS_STUDENT) or st.query_params.get(QP_STUDENT)):
        return  # not in a class: no database access at all
    if student_session():
        _banner_live()


def exercise_seen(key: str) -> None:
    if st.session_state.get(SS_STUDENT):
        st.session_state.setdefault(f"workshop.seen.{st.session_state.get(SS_PAGE)}.{key}", time.time())


def exercise_checked(key: str, answer: str, correct: bool) -> None:
    me = st.session_state.get(SS_STUDENT)
    wid = st.session_state.get(SS_PAGE)
    if not me or not wid:
        return
    seen = st.session_state.get(f"workshop.seen.{wid}.{key}", time.time())
    try:
        open_store().record_attempt(me["class_id"], me["token"], wid, key, answer, correct,
                                    hints=st.session_state.get(f"{key}.hints_shown", 0), seconds=time.time() - seen)
        st.caption("Your answer was sent to your teacher's dashboard.")
    except Forbidden as err:
        _forget(QP_STUDENT, SS_STUDENT)
        st.caption(str(err))


# --- student ---------------------------------------------------------------------------------------------------
def _banner(view, note_when_idle: bool = True) -> None:
    target = links.resolve(view.follow)
    if target is None:
        if not note_when_idle:
            return
        st.caption(f"Workshop: {md_escape(view.class_name)}, as {md_escape(view.name)}. "
                   "Your exercise answers go to your teacher.")
        return
    cred = st.session_state[SS_STUDENT]["cred"]
    title, section = target
    if view.follow.wid == st.session_state.get(SS_PAGE) and not view.follow.query:
        link = f"[Go to this section](#{view.follow.section})"  # same page: scroll, same tab
    else:  # Streamlit opens other links in a new tab; the link carries ?ws= so that tab is in the class too
        link = f"[Go to this section (new tab)]({links.follow_url(view.follow, cred)})"
    st.info(f"**Your teacher is at:** {md_escape(title)} › {md_escape(section)}  \n{link}", icon=":material/school:")


@st.fragment(run_every=BANNER_REFRESH_S)
def _banner_live() -> None:
    me = st.session_state.get(SS_STUDENT)
    if not me:
        return
    try:
        view = open_store().student(me["class_id"], me["token"])
    except Forbidden as err:
        _forget(QP_STUDENT, SS_STUDENT)
        st.warning(str(err), icon=":material/link_off:")
        return
    _banner(view)


def _join_form() -> None:
    with st.form("workshop.join"):
        code = st.text_input("Class code", max_chars=20, placeholder="K7QX-M2TA", key="workshop.join.code")
        name = st.text_input("Display name (what your teacher sees; no other details are kept)",
                             max_chars=codes.MAX_DISPLAY_NAME, key="workshop.join.name")
        if st.form_submit_button("Join", type="primary"):
            try:
                joined = open_store().join(code, name, client=_client())
            except WorkshopError as err:
                st.error(str(err), icon=":material/block:")
                return
            cred = codes.make_credential(joined.class_id, joined.token)
            st.session_state[SS_STUDENT] = {"cred": cred, "class_id": joined.class_id, "token": joined.token}
            st.query_params[QP_STUDENT] = cred
            st.rerun()


def _student_ui(me: dict) -> None:
    try:
        view = open_store().student(me["class_id"], me["token"])
    except Forbidden as err:
        _forget(QP_STUDENT, SS_STUDENT)
        st.warning(str(err), icon=":material/link_off:")
        return
    st.markdown(f"You are in **{md_escape(view.class_name)}** as **{md_escape(view.name)}**.")
    _banner(view, note_when_idle=False)
    st.markdown("Open the walkthroughs from the sidebar. When you press **Check** on an exercise, your answer, "
                "the hints you opened and the time you took go to your teacher's dashboard. Bookmark this page's "
                "address to come back to the class after closing the tab.")
    if st.button("Leave the class", key="workshop.leave"):
        try:
            open_store().leave(me["class_id"], me["token"])
        except Forbidden:
            pass
        _forget(QP_STUDENT, SS_STUDENT)
        st.rerun()


# --- teacher ---------------------------------------------------------------------------------------------------
def _create_form() -> None:
    with st.form("workshop.create"):
        name = st.text_input("Class name", max_chars=codes.MAX_CLASS_NAME, key="workshop.create.name")
        if st.form_submit_button("Create the class", type="primary"):
            try:
                made = open_store().create_class(name, client=_client())
            except WorkshopError as err:
                st.error(str(err), icon=":material/block:")
                return
            cred = codes.make_credential(made.class_id, made.teacher_token)
            st.session_state[SS_TEACHER] = {"cred": cred, "class_id": made.class_id, "token": made.teacher_token}
            st.query_params[QP_TEACHER] = cred
            st.rerun()


def _teacher_link(cred: str) -> str:
    url = st.context.url
    base = (url if isinstance(url, str) else "").split("?")[0].split("#")[0] or "workshop"
    return f"{base}?{QP_TEACHER}={cred}"


def _tables(dash) -> tuple[pd.DataFrame, pd.DataFrame]:
    n = max(dash.n_present, 1)
    cat = links.catalogue()
    ex = pd.DataFrame([{
        "exercise": f"{cat[e.wid].title if e.wid in cat else e.wid} › {links.exercise_label(e.wid, e.exercise)}",
        "completion": e.correct / n, "correct": e.correct, "answered": e.answered,
        "common wrong answers": "; ".join(f"{a} (×{k})" for a, k in e.wrong), "attempts": e.attempts,
        "median s to correct": None if e.median_seconds is None else round(e.median_seconds),
        "hints opened": e.hints} for e in dash.exercises])
    per = {sid: {"student": name, "here": sid in dash.present, "attempts": 0, "solved": set(), "last": None}
           for sid, name in dash.students.items()}
    for a in dash.attempts:
        row = per[a.student_id]
        row["attempts"] += 1
        row["last"] = a.at
        if a.correct:
            row["solved"].add((a.wid, a.exercise))
    people = pd.DataFrame([{"student": r["student"], "in class": r["here"], "attempts": r["attempts"],
                            "exercises solved": len(r["solved"]),
                            "last answer": pd.to_datetime(r["last"], unit="s", utc=True) if r["last"] else None}
                           for r in per.values()])
    return ex, people


@st.fragment(run_every=REFRESH_S)
def _dashboard(class_id: int, token: str) -> None:
    try:
        dash = open_store().dashboard(class_id, token)
    except Forbidden as err:
        st.warning(str(err))
        return
    cols = st.columns(3)
    cols[0].metric("Students in class", dash.n_present)
    cols[1].metric("Answers checked", len(dash.attempts))
    cols[2].metric("Exercises tried", len(dash.exercises))
    ex, people = _tables(dash)
    if ex.empty:
        st.info("No answers yet. Students' checked exercises appear here within a few seconds.",
                icon=":material/hourglass_empty:")
    else:
        st.dataframe(ex, hide_index=True, width="stretch", column_config={
            "exercise": st.column_config.TextColumn("exercise", width="large"),
            "completion": st.column_config.ProgressColumn("completion", help="correct / students in class",
                                                          min_value=0.0, max_value=1.0, format="percent"),
            "common wrong answers": st.column_config.TextColumn("common wrong answers", width="medium",
                                                                help="most frequent first, case and spaces ignored")})
    if not people.empty:
        st.dataframe(people, hide_index=True, width="stretch")
    st.download_button("Download all answers (CSV)", to_csv(dash.attempts),
                       file_name=f"workshop-class-{class_id}.csv", mime="text/csv", key="workshop.csv",
                       on_click="ignore", icon=":material/download:")
    st.caption(f"Updated {time.strftime('%H:%M:%S')} · refreshes every {REFRESH_S} s")


def _follow_controls(class_id: int, token: str, current) -> None:
    st.subheader("Follow me", anchor=False)
    cat = links.catalogue()
    if not cat:
        st.warning("No live walkthroughs to send.")
        return
    wid = st.selectbox("Walkthrough", list(cat), format_func=lambda w: cat[w].title, key="workshop.follow.wid")
    sections = dict(cat[wid].sections)
    section = st.selectbox("Section", list(sections), format_func=sections.get, key="workshop.follow.section")
    pasted = st.text_input("Your view's settings (optional): paste the walkthrough's address from your address bar",
                           max_chars=2000, key="workshop.follow.url")
    c1, c2 = st.columns(2)
    if c1.button("Send to the class", type="primary", key="workshop.follow.send", icon=":material/campaign:"):
        try:
            open_store().set_follow(class_id, token, wid, section, links.query_from_pasted(pasted))
            st.success(f"Sent: {cat[wid].title} › {sections[section]}", icon=":material/check:")
            current = True
        except WorkshopError as err:
            st.error(str(err), icon=":material/block:")
    if current and c2.button("Stop following", key="workshop.follow.clear"):
        open_store().clear_follow(class_id, token)
        st.rerun()
    target = links.resolve(open_store().teacher(class_id, token).follow)
    if target:
        st.caption(f"Students now see a banner pointing to {target[0]} › {target[1]}.")


def _teacher_ui(me: dict) -> None:
    try:
        view = open_store().teacher(me["class_id"], me["token"])
    except Forbidden as err:
        _forget(QP_TEACHER, SS_TEACHER)
        st.warning(str(err), icon=":material/link_off:")
        return
    st.subheader(f"Teaching: {md_escape(view.name)}", anchor=False)
    c1, c2 = st.columns([1, 2])
    c1.metric("Join code", codes.format_code(view.join_code), help="Students open Workshop and type this code.")
    with c2:
        st.markdown("**Your teacher link** — it opens this dashboard. Keep it private: anyone with it sees "
                    "every answer.")
        st.code(_teacher_link(me["cred"]), language=None, wrap_lines=True)
    _dashboard(me["class_id"], me["token"])
    _follow_controls(me["class_id"], me["token"], view.follow is not None)
    if st.button("Close the teacher view in this tab", key="workshop.teacher.close"):
        _forget(QP_TEACHER, SS_TEACHER)
        st.rerun()


def workshop_page() -> None:
    st.session_state.pop(SS_PAGE, None)  # not a walkthrough: exercise hooks and banner anchors need one
    st.title("Workshop")
    st.markdown("A teacher runs a class through the walkthroughs: students join with a short code, their checked "
                "exercises show up live on the teacher's dashboard, and the teacher can point everyone to a section.")
    try:
        teacher = _restore(QP_TEACHER, SS_TEACHER, lambda c, t: open_store().teacher(c, t))
        student = None if teacher else student_session()
    except WorkshopError as err:
        st.error(str(err))
        return
    except Exception as err:  # the database is unreachable or misconfigured: say so, keep the page
        log.exception("workshop storage failed")
        st.error(f"Workshop storage is not available ({type(err).__name__}). The walkthroughs still work; "
                 "whoever runs this server can check INTERP_READER_DATABASE_URL / INTERP_READER_DATA_DIR.",
                 icon=":material/error:")
        return
    if teacher:
        _teacher_ui(teacher)
    elif student:
        _student_ui(student)
    else:
        join, teach = st.tabs(["Join a class", "Teach a class"])
        with join:
            _join_form()
        with teach:
            st.markdown("Create a class: you get a join code for the students and a private link to your dashboard.")
            _create_form()
