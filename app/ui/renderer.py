"""Render a walkthrough: header, sidebar table of contents, sections (text left, widgets right)."""

from __future__ import annotations

import streamlit as st

from app import widgets, zoo
from app.content import ContentErrors, Walkthrough, load_walkthrough, walkthrough_path
from app.ui import faults, rerun
from app.ui.exercise import exercise_ui, workshop_hook
from app.ui.widgets import UI


def render_page(wid: str) -> None:
    """Load content/<wid>.yaml and render it; broken content becomes a message, not a dead page."""
    faults.raise_if_forced(wid)  # test-only (INTERP_FORCE_ERROR, read at start-up): no traceback reaches a visitor
    try:
        wt = load_walkthrough(walkthrough_path(wid))
    except ContentErrors as err:
        st.error("This walkthrough's content has problems, so it cannot be shown:\n\n"
                 + "\n".join(f"- `{e}`" for e in err.errors), icon=":material/error:")
        return
    render(wt)


def _toc(wt: Walkthrough) -> None:
    with st.sidebar:
        st.markdown("**On this page**")
        st.markdown("\n".join(f"- [{s.title}](#{s.id})" for s in wt.sections))


def _header(wt: Walkthrough) -> None:
    st.title(wt.title)
    p = wt.paper
    st.markdown(f"*{p.title}* — {p.authors} ({p.year}). [Read the paper]({p.url})")
    st.markdown(wt.summary)
    with st.expander("Models on this page"):
        for name in wt.models:
            st.markdown(zoo.card(name))


@st.fragment  # a control change reruns only its own view, not the whole page (bench/load.py measures it)
def _widget(block) -> None:
    if rerun.superseded():  # a newer change of this view is queued: let that run do the work
        return
    defaults = widgets.REGISTRY[block.widget].model_validate(block.args)
    try:
        UI[block.widget](block.widget_key, defaults)
    except Exception as err:  # a widget failure must not take the page down
        st.error(f"This view failed ({type(err).__name__}). Try other settings; the rest of the page still works.", icon=":material/warning:")
        import logging

        logging.getLogger(__name__).exception("widget %s failed", block.widget_key)
    if block.caption:
        st.caption(block.caption)


def render(wt: Walkthrough) -> None:
    workshop_hook("walkthrough_hook", wt.id)  # a joined student's follow-me banner
    _toc(wt)
    _header(wt)
    for section in wt.sections:
        st.header(section.title, anchor=section.id, divider="gray")
        texts = [b for b in section.blocks if b.text is not None]
        views = [b for b in section.blocks if b.widget is not None]
        exercises = [b for b in section.blocks if b.exercise is not None]
        if views:
            left, right = st.columns([5, 6], gap="large")
            with left:
                for b in texts:
                    st.markdown(b.text)
            with right:
                for b in views:
                    _widget(b)
        else:
            for b in texts:
                st.markdown(b.text)
        for i, b in enumerate(exercises):
            exercise_ui(f"{section.id}.ex{i}", b.exercise)
