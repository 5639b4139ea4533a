"""Test-only fault injection: make one walkthrough page raise, to prove a visitor never sees a traceback.

``INTERP_FORCE_ERROR=<walkthrough id>`` is read once at start-up; unset (every real deployment) it does
nothing. tests/test_hardening_browser.py starts a server with it and checks that the page shows only
Streamlit's redacted message (``client.showErrorDetails = "none"`` in .streamlit/config.toml).
"""

from __future__ import annotations

import os

FORCED_PAGE = os.environ.get("INTERP_FORCE_ERROR", "")
SECRET = "forced-test-error-7f3a"  # must never reach the browser


def raise_if_forced(page_id: str) -> None:
    if FORCED_PAGE and page_id == FORCED_PAGE:
        raise RuntimeError(f"{SECRET}: raised on purpose from {__file__}")
