"""Interp Reader: navigation built from content/index.yaml; Home is the catalogue."""

import streamlit as st

from app.ui import cvis
from app.ui.catalog import PAGES_DIR, entries, page_file

st.set_page_config(page_title="Interp Reader", layout="wide")  # no page icons: Streamlit fetches them from fonts.gstatic.com as favicons
cvis.ensure_bundle()

pages = [st.Page("walkthroughs/home.py", title="Home", default=True)]
try:
    for item in entries():
        if item["status"] in ("live", "broken") and page_file(item["id"]).is_file():
            pages.append(st.Page(str(page_file(item["id"]).relative_to(PAGES_DIR.parent)), title=item["title"],
                                 url_path=item["id"].replace("-", "_")))
except Exception:  # a broken index still leaves Home, which explains the problem
    pass
pages.append(st.Page("walkthroughs/workshop.py", title="Workshop", url_path="workshop"))  # issue 12: classes
st.navigation(pages).run()
