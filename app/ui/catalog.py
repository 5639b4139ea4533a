"""Home: a catalogue card per paper, built from content/index.yaml and the walkthrough files."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from app.content import ContentErrors, load_index, load_walkthrough, walkthrough_path

# Not "pages/": when a pages/ folder sits beside the main script, Streamlit 1.67 starts in its legacy
# multipage mode, and if a server's first visitor arrives on a deep link the legacy page runs without
# st.navigation ever being called, so every later session also gets file-name navigation and no wide
# layout (measured in the real browser; tests/test_browser_othello.py opens a deep link first).
PAGES_DIR = Path(__file__).resolve().parent.parent.parent / "walkthroughs"


def page_file(wid: str) -> Path:
    """walkthroughs/<id with underscores>.py: the thin page that renders content/<id>.yaml."""
    return PAGES_DIR / f"{wid.replace('-', '_')}.py"


def entries() -> list[dict]:
    """One dict per catalogue entry: id, title, paper, summary, models, status, error."""
    out = []
    for e in load_index().papers:
        path = walkthrough_path(e.id)
        item = {"id": e.id, "title": e.title, "paper": e.paper, "summary": e.summary, "models": e.models,
                "status": "planned", "error": None}
        if path.is_file():
            try:
                wt = load_walkthrough(path)
                item.update(title=wt.title, paper=wt.paper, summary=wt.summary, models=wt.models, status="live")
            except ContentErrors as err:
                item.update(status="broken", error=str(err))
        out.append(item)
    return out


def catalog_ui() -> None:
    st.title("Interp Reader")
    st.markdown(
        "Read the classic mechanistic-interpretability papers next to live experiments on small models "
        "that ship with this app. Every figure can be poked: change the prompt, the layer, the head, and "
        "copy the URL to share exactly what you see. Everything runs offline on your machine."
    )
    try:
        items = entries()
    except ContentErrors as err:
        st.error(f"The catalogue index is broken: {err}", icon=":material/error:")
        return
    cols = st.columns(2)
    for i, item in enumerate(items):
        p = item["paper"]
        with cols[i % 2].container(border=True):
            badge = {"live": ":green[**live**]", "planned": ":gray[planned]", "broken": ":red[content error]"}[item["status"]]
            st.subheader(item["title"] or item["id"])
            if p is not None:
                st.caption(f"{p.authors} · {p.year} · [paper]({p.url})")
            st.markdown(item["summary"] or "")
            st.caption(f"{badge} · models: {', '.join(item['models']) or '—'}")
            if item["status"] == "live" and page_file(item["id"]).is_file():
                st.page_link(str(page_file(item["id"]).relative_to(PAGES_DIR.parent)), label="Open the walkthrough", icon=":material/menu_book:")
            elif item["error"]:
                st.error(item["error"])
