"""A headless Streamlit client that speaks the app's own websocket protocol (no browser).

The browser talks to a Streamlit server over one websocket, ``/_stcore/stream``: it sends protobuf
``BackMsg``s (``rerun_script`` with the page, the query string and the widget values) and receives
``ForwardMsg``s (``new_session``, ``delta`` elements, ``script_finished``). This client does the same,
so one process can hold dozens of real sessions: a Chromium per student would not fit on 2 cores.

Widgets are found by their user key: Streamlit 1.67 ends a keyed widget's element id with ``-<key>``
(e.g. ``...-repeated_tokens.half_len``), and the app keys every control ``<widget>.<field>``.
An action's time runs from sending the rerun to ``script_finished``; an ``exception`` element, a
"view failed" alert, a closed socket or a timeout is an error.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

FINISHED = (ForwardMsg.ScriptFinishedStatus.Value("FINISHED_SUCCESSFULLY"),
            ForwardMsg.ScriptFinishedStatus.Value("FINISHED_FRAGMENT_RUN_SUCCESSFULLY"))
WIDGET_KINDS = ("slider", "selectbox", "radio", "multiselect", "number_input", "text_input", "text_area", "checkbox")


@dataclass
class RunResult:
    ms: float
    errors: list[str] = field(default_factory=list)
    busy: int = 0
    texts: list[str] = field(default_factory=list)


@dataclass
class Widget:
    kind: str
    id: str
    options: list[str]
    fragment: str = ""  # the st.fragment it lives in: changing it reruns only that fragment


def _text_of(el) -> str:
    kind = el.WhichOneof("type")
    if kind == "code":
        return el.code.code_text
    if kind in ("markdown", "alert", "text", "heading"):
        return getattr(el, kind).body
    if kind == "exception":
        return el.exception.message
    return ""


def _widget_state(kind: str, wid: str, options: list[str], value) -> WidgetState:
    """The WidgetState the browser would send for ``value`` (select sliders and selects send option strings)."""
    s = WidgetState(id=wid)
    if kind == "slider" and options:
        s.string_array_value.data.extend([str(v) for v in (value if isinstance(value, (list, tuple)) else [value])])
    elif kind == "slider":
        s.double_array_value.data.extend([float(v) for v in (value if isinstance(value, (list, tuple)) else [value])])
    elif kind in ("selectbox", "radio", "text_input", "text_area"):
        s.string_value = str(value)
    elif kind == "multiselect":
        s.string_array_value.data.extend([str(v) for v in value])
    elif kind == "number_input":
        s.double_value = float(value)
    elif kind == "checkbox":
        s.bool_value = bool(value)
    else:
        raise ValueError(f"unsupported widget kind {kind}")
    return s


def _rendered_value(kind: str, w, known: bool):
    """The value a browser shows for a widget element: the server's if it set one, else its own or the default."""
    if kind == "slider" and w.options:  # a select_slider: the server sets formatted options, defaults are indices
        return list(w.raw_value) if w.set_value else [w.options[int(v)] for v in w.default]
    if kind == "slider":
        return list(w.value) if w.set_value else list(w.default)
    if kind in ("selectbox", "radio"):
        if w.set_value:
            return w.raw_value
        return w.options[w.default] if w.HasField("default") and w.options else None
    if kind == "multiselect":
        return list(w.raw_values) if w.set_value else [w.options[i] for i in w.default]
    if kind in ("number_input", "text_input", "text_area", "checkbox"):
        return w.value if w.set_value else (w.default if not known else None)
    return None


class Session:
    """One browser tab's worth of protocol: connect, rerun pages with widget values, read back elements."""

    def __init__(self, base_url: str, timeout: float = 120.0):
        self.ws_url = base_url.replace("http", "ws", 1).rstrip("/") + "/_stcore/stream"
        self.timeout = timeout
        self.ws = None
        self.widgets: dict[str, Widget] = {}
        self.page = ""
        self.query = ""
        self.states: dict[str, WidgetState] = {}
        self.headers: dict[str, str] = {}
        self.max_msg_bytes = 0
        self.session_id = ""
        self.toolbar_mode = None

    async def connect(self, cookie: str | None = None) -> None:
        extra = {"Cookie": cookie} if cookie else {}
        self.ws = await websockets.connect(self.ws_url, subprotocols=["streamlit"], max_size=None,
                                           additional_headers=extra, open_timeout=self.timeout, ping_interval=None)
        self.headers = dict(self.ws.response.headers) if self.ws.response else {}

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()

    def _back(self, widget_states: dict[str, WidgetState], fragment: str = "") -> bytes:
        msg = BackMsg()
        cs = msg.rerun_script
        cs.fragment_id = fragment
        cs.query_string = self.query
        cs.page_name = self.page
        cs.page_script_hash = ""
        for ws in widget_states.values():
            cs.widget_states.widgets.add().CopyFrom(ws)
        return msg.SerializeToString()

    async def open(self, page: str, query: str = "") -> RunResult:
        """Open a page (its url path, e.g. ``induction_heads``) with a query string, as a fresh visit."""
        self.page, self.query, self.states = page, query, {}
        return await self._rerun()

    async def set(self, values: dict[str, object]) -> RunResult:
        """Change widgets (by user key) and rerun, as a browser does after one interaction."""
        for key, value in values.items():
            self.states[key] = self.state(key, value)
        fragments = {self.widgets[k].fragment for k in values}
        return await self._rerun(fragments.pop() if len(fragments) == 1 else "")

    async def send_only(self, values: dict[str, object]) -> None:
        """Send a widget change without waiting for the run (a rerun storm sends many)."""
        for key, value in values.items():
            self.states[key] = self.state(key, value)
        fragments = {self.widgets[k].fragment for k in values}
        await self.ws.send(self._back(self.states, fragments.pop() if len(fragments) == 1 else ""))

    def state(self, key: str, value) -> WidgetState:
        w = self.widgets.get(key)
        if w is None:
            raise KeyError(f"no widget with key {key!r} on the page; have {sorted(self.widgets)}")
        return _widget_state(w.kind, w.id, w.options, value)

    async def _rerun(self, fragment: str = "") -> RunResult:
        t = time.perf_counter()
        await self.ws.send(self._back(self.states, fragment))
        return await self.wait_finished(t)

    async def wait_finished(self, t0: float | None = None) -> RunResult:
        """Read ForwardMsgs until a script run finishes (runs cut short by a newer rerun are skipped)."""
        t0 = time.perf_counter() if t0 is None else t0
        result = RunResult(0.0)
        widgets: dict[str, Widget] = {}
        deadline = t0 + self.timeout
        while True:
            left = deadline - time.perf_counter()
            if left <= 0:
                result.errors.append("timeout")
                break
            try:
                raw = await asyncio.wait_for(self.ws.recv(), left)
            except asyncio.TimeoutError:
                result.errors.append("timeout")
                break
            except websockets.ConnectionClosed as err:
                result.errors.append(f"socket closed ({err.code})")
                break
            self.max_msg_bytes = max(self.max_msg_bytes, len(raw))
            msg = ForwardMsg()
            msg.ParseFromString(raw)
            kind = msg.WhichOneof("type")
            if kind == "new_session":
                self.session_id = msg.new_session.initialize.session_id
                self.toolbar_mode = msg.new_session.config.toolbar_mode
                widgets, result.texts, result.busy = {}, [], 0
                result.errors = [e for e in result.errors if e == "timeout"]
            elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
                el = msg.delta.new_element
                etype = el.WhichOneof("type")
                if etype in WIDGET_KINDS:
                    w = getattr(el, etype)
                    key = w.id.split("-", 2)[2] if w.id.count("-") >= 2 else w.id
                    widgets[key] = Widget(etype, w.id, list(getattr(w, "options", [])), msg.delta.fragment_id)
                    # a browser sends every widget's value on each rerun, not only the one that changed
                    if key not in self.states or getattr(w, "set_value", False):
                        v = _rendered_value(etype, w, key in self.states)
                        if v is not None:
                            self.states[key] = _widget_state(etype, w.id, widgets[key].options, v)
                text = _text_of(el)
                if text:
                    result.texts.append(text)
                if etype == "exception":
                    result.errors.append(f"exception: {el.exception.type}: {el.exception.message[:200]}")
                elif etype == "alert" and "Busy" in text:
                    result.busy += 1
                elif etype == "alert" and "view failed" in text:
                    result.errors.append(f"view failed: {text[:200]}")
                elif etype == "alert" and "busy" in text:
                    result.busy += 1
            elif kind == "page_info_changed":
                self.query = msg.page_info_changed.query_string
            elif kind == "script_finished":
                if msg.script_finished in FINISHED:
                    break
        self.widgets.update(widgets)
        result.ms = (time.perf_counter() - t0) * 1000
        return result
