"""Hardening in a real browser (Debian Chromium via Playwright), over every live walkthrough page.

- XSS: a payload in every widget's URL parameters (free-text fields get it as text; widgets without free
  text get it in every field, so it lands in the validation notice) and typed into every text box; a payload
  that ran would set ``window.__xss`` in the page or in an iframe. None may run and no raw tag may render.
- Traversal / null-byte / unknown names in URL parameters get the allowlist notice, not a crash.
- A forced exception (``INTERP_FORCE_ERROR``, app/ui/faults.py) shows Streamlit's redacted message only.

Skipped where /usr/bin/chromium is missing unless REQUIRE_BROWSER is set (tests/test_browser.py decides).
"""

from __future__ import annotations

import subprocess
from urllib.parse import quote

import pytest

from tests.test_browser import _assert_clean, _shoot, _wait_idle, browser  # noqa: F401 (fixture)

LONG = '"\'><img src=x onerror="window.__xss=1;top.__xss=1"></script><script>window.__xss=2;top.__xss=2</script>'
SHORT = "<svg onload=__xss=3>"  # 20 characters: fits the shortest capped text field
NO_FLAG = "() => window.__xss === undefined && !document.querySelector('img[src=\"x\"], svg[onload]')"


def _live_pages():
    from app.content import load_walkthrough, walkthrough_path
    from app.ui.catalog import entries
    from app.widgets import REGISTRY

    pages = []
    for item in entries():
        if item["status"] != "live":
            continue
        blocks = [b for s in load_walkthrough(walkthrough_path(item["id"])).sections for b in s.blocks if b.widget]
        pages.append((item, [(b.widget_key, REGISTRY[b.widget]) for b in blocks]))
    return pages


def _payload_query(widgets) -> str:
    parts = []
    for key, cls in widgets:
        fields = cls.model_fields
        text = [f for f, i in fields.items() if i.annotation is str and f not in ("model", "other", "control")]
        for f in text or [f for f in fields]:
            info = fields[f]
            cap = next((m.max_length for m in info.metadata if hasattr(m, "max_length")), None)
            parts.append(f"{key}.{f}={quote(SHORT if cap is not None and cap < len(LONG) else LONG)}")
        parts.append(f"{key}.{quote(SHORT)}=1")  # an unknown parameter whose name is markup
    return "&".join(parts)


def _no_script_ran(page) -> None:
    for frame in page.frames:
        try:
            assert frame.evaluate(NO_FLAG), f"payload ran or rendered as markup in {frame.url[:80]}"
        except Exception as err:  # a frame that went away while we looked
            if "payload ran" in str(err):
                raise


def test_xss_payloads_execute_nothing_on_any_page(server, browser):  # noqa: F811
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    pages = _live_pages()
    assert len(pages) >= 5
    typed_into, dialogs = {}, []
    for item, widgets in pages:
        page = browser.new_page(viewport={"width": 1500, "height": 1000})
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(f"{server}/{item['id'].replace('-', '_')}?{_payload_query(widgets)}", wait_until="networkidle")
        page.locator("[data-testid='stMain']").get_by_text(item["title"]).first.wait_for(timeout=120_000)
        _wait_idle(page, timeout=180_000)
        boxes = page.locator("[data-testid='stMain'] input[type='text'], [data-testid='stMain'] textarea")
        typed: set[int] = set()
        for _pass in range(3):  # type into every box at once (their reruns coalesce: one wait below); a rerun that
            for i in range(boxes.count()):  # another box started can swap a box out, so retry those in a later pass
                box = boxes.nth(i)
                try:
                    if i in typed or not box.is_visible():
                        continue
                    box.fill(LONG, timeout=5_000)
                    box.press("Control+Enter" if box.evaluate("e => e.tagName") == "TEXTAREA" else "Enter",
                              timeout=5_000)
                    typed.add(i)
                except PlaywrightTimeout:
                    pass
            _wait_idle(page, timeout=180_000)
            if len(typed) == boxes.count():
                break
        typed_into[item["id"]] = (len(typed), boxes.count())
        page.wait_for_timeout(1000)
        _no_script_ran(page)
        assert not dialogs, dialogs
        _assert_clean(page)
        if item["id"] == "induction-heads":
            _shoot(page, "xss-induction-heads.png")
        page.close()
    # the payload was typed into most of the text boxes the pages have
    assert sum(t for t, _ in typed_into.values()) >= sum(n for _, n in typed_into.values()) // 2 > 0, typed_into


def test_traversal_null_and_unknown_params_get_the_allowlist_notice(server, browser):  # noqa: F811
    page = browser.new_page(viewport={"width": 1500, "height": 1000})
    query = "&".join([f"repeated_tokens.model={quote('../../etc/passwd')}", "ablation.model=attn-only-2l%00",
                      f"induction_text.model={quote('/etc/passwd')}", "copying_scores.nosuch=1",
                      f"copying_scores.layer={quote('1/../../0')}"])
    page.goto(f"{server}/induction_heads?{query}", wait_until="networkidle")
    page.locator("[data-testid='stMain']").get_by_text("Induction").first.wait_for(timeout=120_000)
    _wait_idle(page, timeout=180_000)
    page.wait_for_timeout(1000)
    body = page.locator("[data-testid='stMain']").inner_text(timeout=120_000)
    assert body.count("valid models:") >= 3, body[:2000]
    assert "Ignored unknown URL parameter(s): copying_scores.nosuch" in body
    assert "were not valid (layer" in body
    _assert_clean(page)
    _shoot(page, "tampered-params.png")
    page.close()


def _serve(env: dict | None = None):
    """The app with the repo's public profile (.streamlit/config.toml) on a free port; killed if slow to stop."""
    from bench.load import free_port, start_server

    port = free_port()
    proc = start_server(port, env=env)
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def server():
    yield from _serve()


@pytest.fixture(scope="module")
def failing_server():
    yield from _serve({"INTERP_FORCE_ERROR": "fact-recall"})


def test_forced_exception_shows_a_friendly_message_only(failing_server, browser):  # noqa: F811
    from app.ui.faults import SECRET

    page = browser.new_page(viewport={"width": 1500, "height": 1000})
    page.goto(f"{failing_server}/fact_recall", wait_until="networkidle")
    err = page.locator("[data-testid='stException'], [data-testid='stAlert']").first
    err.wait_for(timeout=120_000)
    _wait_idle(page)
    body = page.locator("body").inner_text(timeout=120_000)
    assert SECRET not in body and "RuntimeError" not in body and "Traceback" not in body
    assert "faults.py" not in body and "/work/" not in body and 'File "' not in body
    assert "error" in body.lower() and "Ask ChatGPT" not in body  # redacted, and no links off the site
    _shoot(page, "forced-error.png")
    page.close()
