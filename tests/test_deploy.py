"""The deployment recipe on loopback: 2 identical replicas behind Debian's nginx (deploy/nginx.conf), cookie
session affinity, the load tool (bench/load.py) through the proxy with 0 errors.

Skipped where nginx is missing unless REQUIRE_BROWSER is set (CI sets it; `make nginx` installs it).
"""

from __future__ import annotations

import asyncio
import os
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from deploy.local import NGINX, start, stop

if not Path(NGINX).exists():
    if os.environ.get("REQUIRE_BROWSER"):
        raise RuntimeError("REQUIRE_BROWSER is set but nginx is missing: make nginx (apt-get install nginx)")
    pytest.skip("Debian nginx not installed (make nginx)", allow_module_level=True)

from bench.load import affinity_cookie, free_port, read_stats, run_load  # noqa: E402
from bench.streamlit_client import Session  # noqa: E402


@pytest.fixture(scope="module")
def proxy(tmp_path_factory):
    port = free_port()
    nginx, procs, stats = start(2, port, tmp_path_factory.mktemp("nginx"))
    yield f"http://127.0.0.1:{port}", procs, stats
    stop(nginx, procs)


def test_load_tool_through_the_proxy_has_no_errors(proxy):
    url, procs, stats = proxy
    out = run_load(url, n=6, join_s=2.0, think=(0.2, 0.6), pids=[p.pid for p in procs], stats_files=stats,
                   cookie_jar=True)
    assert out["errors"] == 0, out["error_samples"]
    assert {a["name"] for a in out["actions"]} >= {"open_page", "slider", "ablation", "patching_sweep"}
    assert sum(a["n"] for a in out["actions"]) == 6 * 6
    # each replica loads a model at most once, however many sessions it served
    assert out["model_loads_by_model"] and max(read_stats([s])["model_loads"].get(k, 0) for s in stats
                                               for k in out["model_loads_by_model"]) == 1


def test_cookie_keeps_a_visitor_on_one_replica(proxy):
    """Streamlit answers 'Invalid session_id' (400) when a request reaches a replica that lacks the session."""
    url, _, _ = proxy

    async def session_id(cookie):
        s = Session(url, timeout=180)
        await s.connect(cookie=cookie)
        r = await s.open("")
        assert not r.errors
        return s

    def upload_answer(cookie: str, sid: str) -> str:
        with urllib.request.urlopen(urllib.request.Request(url + "/_stcore/health", headers={"Cookie": cookie})) as r:
            xsrf = next(c.split(";")[0] for c in r.headers.get_all("Set-Cookie") if c.startswith("_streamlit_xsrf="))
        req = urllib.request.Request(f"{url}/_stcore/upload_file/{sid}/f1", data=b"x" * 10,
                                     method="PUT", headers={"Cookie": f"{cookie}; {xsrf}",
                                                            "X-Xsrftoken": xsrf.split("=", 1)[1]})
        try:
            return str(urllib.request.urlopen(req).status)
        except urllib.error.HTTPError as err:
            return f"{err.code} {err.read().decode()[:40]}"

    cookies = [affinity_cookie(url) for _ in range(4)]
    assert all(c and c.startswith("interp_route=") for c in cookies) and len(set(cookies)) == 4

    async def go():
        sessions = [await session_id(c) for c in cookies]
        try:  # while each session is open, its requests must find it
            return [await asyncio.to_thread(upload_answer, c, s.session_id) for c, s in zip(cookies, sessions)
                    for _ in range(3)]
        finally:
            for s in sessions:
                await s.close()

    # with its cookie every request finds the session (the replica then rejects the empty "upload" itself);
    # never "Invalid session_id" from the other replica
    answers = asyncio.run(go())
    assert answers == ["400 Expected 1 file, but got 0"] * len(answers), answers
