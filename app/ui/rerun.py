"""Skip a view's rerun when a newer one is already queued (a storm of slider moves runs the model once or twice).

Streamlit does not let a widget change inside an ``st.fragment`` interrupt the fragment's run in progress: it
queues the change and starts a new run when the current one ends. Once the renders got cheap (about 60 ms
for a view), a storm of 50 changes in a second ran the model 9 times, each for a value already outdated
(``tests/test_load_server.py``). A fragment rerun now waits ``DEBOUNCE_S`` and returns early if another run
is waiting that redraws this view (a run of this fragment or of the whole page; a queued change of another
view does not count); the waiting run shows the newest values. Full page runs never wait or skip.

Streamlit has no public "is a rerun pending" call, so this reads ``ScriptRequests._state`` and the queued
fragment ids (Streamlit 1.67, pinned in requirements.txt); if those internals change, the check answers
False and views just run.
"""

from __future__ import annotations

import time

DEBOUNCE_S = 0.06  # a storm's messages come every ~20 ms; a person clicks far less often


def superseded(wait_s: float = DEBOUNCE_S) -> bool:
    """True when this is a fragment rerun and, after ``wait_s``, a newer rerun of the session is queued."""
    try:
        from streamlit.runtime.scriptrunner import get_script_run_ctx
        from streamlit.runtime.scriptrunner_utils.script_requests import ScriptRequestType
        from streamlit.runtime.scriptrunner_utils.script_run_context import ThreadState

        ctx = get_script_run_ctx()
        if ctx is None or not ctx.fragment_ids_this_run or ctx.script_requests is None:
            return False
        time.sleep(wait_s)
        requests = ctx.script_requests
        if requests._state != ScriptRequestType.RERUN:
            return False
        queued = requests._rerun_data.fragment_id_queue  # empty: a whole-page run, which redraws this view too
        return not queued or ThreadState.get().fragment_id in queued
    except Exception:  # a Streamlit upgrade changed the internals: never skip
        return False
