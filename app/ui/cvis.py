"""circuitsvis views rendered from the package's bundled JavaScript, never its CDN.

``circuitsvis``' own ``local_src`` inlines the 1.3 MB bundle into every figure and
``str()`` imports the bundle from a public CDN. We copy the bundle once into ``static/`` (served by
Streamlit's static file serving at ``/app/static/``) and emit a small HTML document per
figure that loads it by URL, so the browser fetches and caches it once per page.
Props go into a JSON literal with ``<``, ``>``, ``&`` escaped, so user text in tokens
can never close the script tag.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import circuitsvis
import streamlit as st
from circuitsvis.utils.convert_props import convert_props

STATIC_DIR = Path(__file__).resolve().parent.parent.parent / "static"
BUNDLE_NAME = f"circuitsvis-{circuitsvis.__version__}.js"
BUNDLE_URL = f"/app/static/{BUNDLE_NAME}"


def ensure_bundle() -> Path:
    """Copy the package's bundle into static/ once (idempotent)."""
    src = Path(circuitsvis.__file__).parent / "dist" / "cdn" / "iife.js"
    dst = STATIC_DIR / BUNDLE_NAME
    if not dst.is_file() or dst.stat().st_size != src.stat().st_size:
        STATIC_DIR.mkdir(exist_ok=True)
        tmp = dst.with_suffix(".tmp")
        shutil.copyfile(src, tmp)
        tmp.replace(dst)
    return dst


_SCRIPT_ESCAPES = (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029"))


def _script_safe(text: str) -> str:
    """JSON text with '<', '>', '&' and the line separators escaped. They can only occur inside JSON strings,
    where the ``\\u`` escapes mean the same characters, so the value is unchanged and no tag can close."""
    for ch, esc in _SCRIPT_ESCAPES:
        text = text.replace(ch, esc)
    return text


def safe_json(props: dict) -> str:
    """JSON that is safe inside <script>: no '<', '>', '&', or line separators unescaped."""
    return _script_safe(json.dumps(props, ensure_ascii=False))


_LOADER = """
(function () {
  var key = "__interpReaderBundle_" + VERSION, promise;
  function get() {
    return fetch(URL).then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.text(); });
  }
  try {  // share one download between every figure on the page (same-origin srcdoc iframes)
    promise = window.parent[key] || (window.parent[key] = get().catch(function (e) { delete window.parent[key]; throw e; }));
  } catch (e) {
    promise = get();
  }
  promise.then(function (code) {
    var s = document.createElement("script");
    s.textContent = code;
    document.head.appendChild(s);
    CircuitsVis.render(DIV, CircuitsVis[COMPONENT], PROPS);
  }).catch(function (e) {
    document.getElementById(DIV).textContent = "Could not load the visualisation: " + e.message;
  });
})();
"""


def props_json(**props) -> str:
    """A component's props as script-safe JSON, made once: cached computes store this string.

    Serialising a layer's attention (8 heads x 111 x 111) three times (circuitsvis' ``convert_props``,
    a parse, the escaping dump) on every rerun was a third of a page render's CPU (py-spy on the real server;
    ``bench/load.py`` reports the server's CPU per session).
    """
    return _script_safe(convert_props(props))


def attention_props(tokens: list[str], pattern, layer: int | None = None) -> str:
    """``props_json`` for AttentionPatterns from a (head, query, key) tensor, rounded to 4 decimals; with ``layer``
    the heads are labelled L{layer}H{head} (circuitsvis' ``headLabels``; without it, "Head N").

    Full float32 reprs made the biggest page message 5.6 MB; 4 decimals draw the same picture.
    """
    props = {"tokens": tokens, "attention": pattern.double().round(decimals=4).tolist()}
    if layer is not None:  # AttentionPatterns reads ``headLabels`` (``attentionHeadNames`` is AttentionHeads')
        props["headLabels"] = [f"L{layer}H{h}" for h in range(pattern.shape[0])]
    return props_json(**props)


def view_html(component: str, props: str | None = None, **kwargs) -> str:
    """A standalone HTML document rendering one circuitsvis React component.

    ``props`` is a ``props_json`` string; otherwise the keyword arguments are the props.
    The bundle is fetched once per page: the first figure stores the download's promise on
    the parent window and every other figure reuses it (``<script src>`` in several iframes
    loading at once fetched it twice in Chromium, measured in tests/test_browser.py).
    """
    # A fixed id: each figure is its own document, and the same props must give the same HTML, or Streamlit
    # reloads the iframe (and circuitsvis redraws) on every rerun of the page, e.g. each exercise check
    # (a random id here reloaded both attention views of the framework page: 12.5 s of browser work).
    div = "cv-root"
    payload = props if props is not None else props_json(**kwargs)
    script = (_LOADER.replace("VERSION", safe_json(circuitsvis.__version__)).replace("URL", safe_json(BUNDLE_URL))
              .replace("DIV", safe_json(div)).replace("COMPONENT", safe_json(component)).replace("PROPS", payload))
    return (
        "<!doctype html><html><head><meta charset='utf-8'></head><body style='margin:0'>"
        f"<div id='{div}'></div><script>{script}</script></body></html>"
    )


def show(component: str, height: int = 500, props: str | None = None, **kwargs) -> None:
    """Render a circuitsvis component in an iframe (``props``: a ``props_json`` string, or keyword props)."""
    ensure_bundle()
    st.iframe(view_html(component, props, **kwargs), height=height)
