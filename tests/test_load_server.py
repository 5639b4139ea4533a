"""Against the real server (not AppTest), over Streamlit's own websocket protocol (bench/streamlit_client.py):
a rerun storm runs the model only a couple of times, and the public profile in .streamlit/config.toml really
takes effect (XSRF, CORS / origin check, viewer toolbar, message and upload limits).
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request

import pytest
import websockets

from bench.load import free_port, start_server
from bench.streamlit_client import Session


@pytest.fixture(scope="module")
def app_server(tmp_path_factory):
    stats = tmp_path_factory.mktemp("stats") / "stats.json"
    port = free_port()
    proc = start_server(port, str(stats))
    yield f"http://127.0.0.1:{port}", stats
    proc.terminate()
    proc.wait(20)


def _runs(stats) -> int:
    time.sleep(0.6)  # the server writes its counters every 0.2 s
    return json.loads(stats.read_text())["model_runs"]


async def _drain(s: Session, quiet: float = 3.0) -> list[str]:
    """Read runs until the server has been quiet for ``quiet`` seconds; the errors of all of them."""
    errors, timeout = [], s.timeout
    s.timeout = quiet
    try:
        while True:
            r = await s.wait_finished()
            errors += [e for e in r.errors if e != "timeout"]
            if "timeout" in r.errors:
                return errors
    finally:
        s.timeout = timeout


def test_rerun_storm_runs_the_model_a_couple_of_times(app_server):
    url, stats = app_server

    async def go():
        s = Session(url, timeout=240)
        await s.connect()
        r = await s.open("induction_heads")
        assert not r.errors, r.errors
        before = _runs(stats)
        r = await s.set({"repeated_tokens.half_len": 61})  # one move of the slider, for scale
        assert not r.errors and "repeated_tokens.half_len=61" in s.query
        one = _runs(stats) - before
        before = _runs(stats)
        t = time.perf_counter()
        for v in range(62, 112):  # 50 reruns, each with a new value, inside about a second
            await s.send_only({"repeated_tokens.half_len": v})
            await asyncio.sleep(0.015)
        sent_in = time.perf_counter() - t
        errors = await _drain(s)
        storm = _runs(stats) - before
        await s.close()
        return one, storm, sent_in, errors, s.query

    one, storm, sent_in, errors, query = asyncio.run(go())
    assert one >= 1  # the counter sees a model run
    assert sent_in < 1.5
    assert not errors, errors
    assert "repeated_tokens.half_len=111" in query  # the last value wins
    # a handful, not fifty: interrupted reruns that had already reached the model count too (measured 1-4)
    assert storm <= 5 * one, f"50 reruns ran the model {storm} times (one change: {one})"


def test_public_profile_takes_effect(app_server):
    url, _ = app_server
    with urllib.request.urlopen(url + "/_stcore/health") as resp:  # XSRF on: the health check the page makes sets it
        assert any(c.startswith("_streamlit_xsrf=") for c in resp.headers.get_all("Set-Cookie") or [])
    req = urllib.request.Request(url + "/_stcore/health", headers={"Origin": "http://evil.example"})
    with urllib.request.urlopen(req) as resp:  # CORS on: no wildcard for a foreign origin
        assert resp.headers.get("Access-Control-Allow-Origin") in (None, url)

    async def go():
        ws_url = url.replace("http", "ws") + "/_stcore/stream"
        # a page on another site cannot open a session (cross-site websocket hijacking)
        try:
            async with websockets.connect(ws_url, subprotocols=["streamlit"],
                                          additional_headers={"Origin": "http://evil.example"}) as ws:
                await asyncio.wait_for(ws.recv(), 10)
                foreign = "accepted"
        except websockets.InvalidStatus as err:  # refused at the handshake
            foreign = err.response.status_code
        except websockets.ConnectionClosed as err:  # or closed as a policy violation
            foreign = err.rcvd.code if err.rcvd else "closed"
        s = Session(url, timeout=240)
        await s.connect()
        r = await s.open("")
        toolbar, sid = s.toolbar_mode, s.session_id
        big = None
        try:
            await s.ws.send(b"\x00" * (17 * 1024 * 1024))  # over maxMessageSize (16 MB): the socket is closed
            await asyncio.wait_for(s.ws.recv(), 20)
        except websockets.ConnectionClosed as err:
            big = err.rcvd.code if err.rcvd else "closed"
        return foreign, r.errors, toolbar, sid, big

    foreign, errors, toolbar, sid, big = asyncio.run(go())
    assert foreign in (403, 1008)
    assert not errors and toolbar == 2  # Config.ToolbarMode.VIEWER
    assert big in (1009, "closed")

    def put(headers: dict, size: int) -> int:
        req = urllib.request.Request(f"{url}/_stcore/upload_file/{sid}/f1", data=b"x" * size, method="PUT",
                                     headers=headers)
        try:
            return urllib.request.urlopen(req).status
        except urllib.error.HTTPError as err:
            return err.code
        except urllib.error.URLError as err:  # the server answered and hung up while the body was still going out
            if isinstance(err.reason, (BrokenPipeError, ConnectionResetError)):
                return "closed"
            raise

    assert put({}, 10) == 403  # no XSRF token: refused
    with urllib.request.urlopen(url + "/_stcore/health") as resp:
        cookie = next(c.split(";")[0] for c in resp.headers.get_all("Set-Cookie") if c.startswith("_streamlit_xsrf="))
    token = cookie.split("=", 1)[1]
    assert put({"Cookie": cookie, "X-Xsrftoken": token}, 2 * 1024 * 1024) in (400, 413, "closed")  # over maxUploadSize (1 MB)
