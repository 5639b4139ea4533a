"""Workshop links: walkthrough/section/exercise names from content/, and the "follow me" URL.

The banner link is relative ('induction_heads?repeated_tokens.layer=1&ws=...#phase-change'), so it
works under any base path: Streamlit's page URLs all sit at one level. It carries the student's
own credential so the page opened from it still knows the class. No Streamlit here.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit

from app.content import ContentErrors, load_index, load_walkthrough, walkthrough_path
from app.workshop.codes import BadInput
from app.workshop.store import Follow, clean_query


@dataclass(frozen=True)
class WalkthroughInfo:
    wid: str
    title: str
    sections: tuple[tuple[str, str], ...]  # (section id, title), in page order
    exercises: tuple[tuple[str, str], ...]  # (exercise key as app/ui/renderer.py makes it, label)


@functools.lru_cache(maxsize=4)
def _catalogue(_minute: int) -> dict[str, WalkthroughInfo]:
    out = {}
    for entry in load_index().papers:
        path = walkthrough_path(entry.id)
        if not path.is_file():
            continue
        try:
            wt = load_walkthrough(path)
        except ContentErrors:
            continue
        exercises = []
        for s in wt.sections:
            n = 0
            for b in s.blocks:
                if b.exercise is not None:
                    exercises.append((f"{s.id}.ex{n}", f"{s.title} · exercise {n + 1}"))
                    n += 1
        out[wt.id] = WalkthroughInfo(wt.id, wt.title, tuple((s.id, s.title) for s in wt.sections), tuple(exercises))
    return out


def catalogue() -> dict[str, WalkthroughInfo]:
    """Live walkthroughs by id (re-read at most once a minute, so edited content shows up)."""
    return _catalogue(int(time.time() // 60))


def exercise_label(wid: str, key: str) -> str:
    info = catalogue().get(wid)
    labels = dict(info.exercises) if info else {}
    return labels.get(key, key)


def page_path(wid: str) -> str:
    return wid.replace("-", "_")  # the url_path streamlit_app.py gives each walkthrough page


def query_from_pasted(text: str) -> str:
    """The query string of a pasted walkthrough URL (or of a bare 'a=1&b=2'); '' for none."""
    text = (text or "").strip()
    if not text:
        return ""
    if len(text) > 2000:
        raise BadInput("That link is too long (over 2,000 characters).")
    parts = urlsplit(text if ("?" in text or "/" in text) else "?" + text)
    return clean_query(parts.query)


def resolve(follow: Follow | None) -> tuple[str, str] | None:
    """(walkthrough title, section title) when the pushed target still exists in content/, else None."""
    if follow is None:
        return None
    info = catalogue().get(follow.wid)
    sections = dict(info.sections) if info else {}
    if follow.section not in sections:
        return None
    return info.title, sections[follow.section]


def follow_url(follow: Follow, credential: str | None = None) -> str:
    pairs = parse_qsl(follow.query, keep_blank_values=True)
    if credential:
        pairs.append(("ws", credential))
    query = urlencode(pairs)
    return f"{page_path(follow.wid)}{'?' + query if query else ''}#{follow.section}"
