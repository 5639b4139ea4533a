"""Exercise blocks: question, hints one at a time, solution, and a live auto-check."""

from __future__ import annotations

import streamlit as st

from app.content.schema import Exercise
from app.exercises import run_check


def workshop_hook(hook: str, *args) -> None:
    """Call ``app.ui.workshop.<hook>(*args)`` (workshop mode: attempts, the follow-me banner); never raises here,
    so a broken or unreachable class store cannot break an exercise or a walkthrough page."""
    try:
        from app.ui import workshop

        getattr(workshop, hook)(*args)
    except Exception:
        import logging

        logging.getLogger(__name__).exception("workshop hook %s failed", hook)


def exercise_ui(key: str, ex: Exercise) -> None:
    with st.container(border=True):
        workshop_hook("exercise_seen", key)
        st.markdown(f"**Exercise.** {ex.question}")
        shown_key = f"{key}.hints_shown"
        shown = st.session_state.get(shown_key, 0)
        for i, hint in enumerate(ex.hints[:shown]):
            st.info(f"Hint {i + 1}: {hint}", icon=":material/lightbulb:")
        cols = st.columns([3, 1, 1])
        if ex.check is not None:
            answer = cols[0].text_input(ex.answer_label, key=f"{key}.answer", max_chars=200)
            if cols[1].button("Check", key=f"{key}.check", type="primary"):
                with st.spinner("Checking against the live model…"):
                    result = run_check(ex.check.fn, answer, ex.check.args)
                (st.success if result.correct else st.error)(result.feedback)
                workshop_hook("exercise_checked", key, answer, result.correct)
        if shown < len(ex.hints) and cols[2].button("Show a hint", key=f"{key}.hint"):
            st.session_state[shown_key] = shown + 1
            st.rerun()
        with st.expander("Solution"):
            st.markdown(ex.solution)
