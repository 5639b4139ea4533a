"""Public-demo hardening that needs no server: bounded caches, no pickle, model allowlist, capped text, busy limit.

The source scans parse the code (AST), so a new module is covered the day it lands.
"""

from __future__ import annotations

import ast
import importlib
import threading
from pathlib import Path

import pytest
from pydantic import ValidationError

from app import limits, zoo
from app.widgets import MAX_TEXT_CHARS, REGISTRY

ROOT = Path(__file__).resolve().parent.parent
APP_SOURCES = sorted([*(ROOT / "app").rglob("*.py"), ROOT / "streamlit_app.py", *(ROOT / "walkthroughs").glob("*.py")])
ALL_SOURCES = sorted({*APP_SOURCES, *(ROOT / "bench").rglob("*.py"), *(ROOT / "tests").rglob("*.py")})
HOSTILE_NAMES = ["../../etc/passwd", "attn-only-2l/../../README.md", "/etc/passwd", "attn-only-2l\x00", "a\x00b",
                 "nope", "", "models/attn-only-2l", "ATTN-ONLY-2L", "..", "."]


def _module(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def _cache_decorators(tree: ast.AST):
    """(lineno, kind, call-or-None) for every st.cache_data / st.cache_resource decorator."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for dec in node.decorator_list:
                target = dec.func if isinstance(dec, ast.Call) else dec
                if isinstance(target, ast.Attribute) and target.attr in ("cache_data", "cache_resource"):
                    yield dec.lineno, target.attr, dec if isinstance(dec, ast.Call) else None


def _bounded(path: Path, call: ast.Call | None) -> bool:
    if call is None:
        return False
    for kw in call.keywords:
        if kw.arg == "max_entries":
            return not (isinstance(kw.value, ast.Constant) and kw.value.value is None)
        if kw.arg is None and isinstance(kw.value, ast.Name):  # **CACHE: a dict defined or imported by the module
            opts = getattr(importlib.import_module(_module(path)), kw.value.id)
            if opts.get("max_entries") is not None:
                return True
    return False


def test_every_streamlit_cache_is_bounded():
    found, unbounded = 0, []
    for path in APP_SOURCES:
        for line, kind, call in _cache_decorators(ast.parse(path.read_text())):
            found += 1
            if not _bounded(path, call):
                unbounded.append(f"{path.relative_to(ROOT)}:{line} st.{kind} without max_entries")
    assert found >= 20  # the scan really sees the app's caches
    assert not unbounded, unbounded


def test_the_scan_catches_an_unbounded_cache(tmp_path):
    bad = ast.parse("import streamlit as st\n@st.cache_data\ndef f(): pass\n@st.cache_resource(ttl=5)\ndef g(): pass\n")
    assert [not _bounded(tmp_path, c) for _, _, c in _cache_decorators(bad)] == [True, True]


PICKLE_MODULES = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "joblib", "shelve", "marshal"}


def _pickle_uses(tree: ast.AST) -> list[str]:
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            bad += [f"import {a.name}" for a in node.names if a.name.split(".")[0] in PICKLE_MODULES]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in PICKLE_MODULES:
            bad.append(f"from {node.module} import")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            kw = {k.arg: k.value for k in node.keywords}
            name = node.func.attr
            owner = node.func.value.id if isinstance(node.func.value, ast.Name) else ""
            if name == "load" and owner == "torch":
                w = kw.get("weights_only")
                if not (isinstance(w, ast.Constant) and w.value is True):
                    bad.append(f"line {node.lineno}: torch.load without weights_only=True")
            if name == "load" and owner in ("np", "numpy") and isinstance(kw.get("allow_pickle"), ast.Constant) \
                    and kw["allow_pickle"].value:
                bad.append(f"line {node.lineno}: np.load(allow_pickle=True)")
            if name in ("read_pickle", "to_pickle") or (name == "load" and owner in PICKLE_MODULES):
                bad.append(f"line {node.lineno}: {owner}.{name}")
    return bad


def test_no_pickle_anywhere():
    problems = {str(p.relative_to(ROOT)): u for p in ALL_SOURCES if p.name != "test_hardening.py"
                if (u := _pickle_uses(ast.parse(p.read_text())))}
    assert not problems, problems
    pickled = [str(p.relative_to(ROOT)) for ext in ("*.pkl", "*.pickle", "*.pt", "*.pth", "*.bin", "*.ckpt", "*.npy", "*.npz")
               for p in (ROOT / "models").rglob(ext)]
    assert not pickled, f"weights must be safetensors: {pickled}"


def test_the_pickle_scan_catches_the_usual_forms():
    src = ("import pickle\nfrom dill import loads\nimport torch, numpy as np\ntorch.load('x')\n"
           "torch.load('x', weights_only=False)\nnp.load('x', allow_pickle=True)\nimport pandas as pd\npd.read_pickle('x')\n"
           "torch.load('x', weights_only=True)\n")
    assert len(_pickle_uses(ast.parse(src))) == 6


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_model_names_only_from_the_allowlist(name):
    """A name from a URL or YAML becomes a path only when it is one of the shipped folders' names."""
    for fn in (zoo.model_dir, zoo.toy_dir, zoo.card, zoo.metrics, zoo.config, zoo.load):
        with pytest.raises(zoo.UnknownModelError, match="valid"):
            fn(name)


def _widget_instances():
    """(widget, params) for every widget block of every live walkthrough, validated from its YAML args."""
    from app.content import load_walkthrough, walkthrough_path
    from app.ui.catalog import entries

    out = {}
    for item in entries():
        if item["status"] != "live":
            continue
        for section in load_walkthrough(walkthrough_path(item["id"])).sections:
            for b in section.blocks:
                if b.widget is not None:
                    out.setdefault(b.widget, REGISTRY[b.widget].model_validate(b.args))
    return out


def test_every_widget_rejects_hostile_model_names_and_overlong_text():
    instances = _widget_instances()
    assert len(instances) >= 10
    for params in instances.values():
        fields = type(params).model_fields
        for name in ("../../etc/passwd", "a\x00b", "nope"):
            with pytest.raises(ValidationError, match="valid"):
                type(params).model_validate(params.model_dump() | {"model": name})
        for field, info in fields.items():
            if info.annotation is str and field != "model":
                # every free-text field is capped before any model call (pydantic max_length or an allowlist)
                with pytest.raises(ValidationError):
                    type(params).model_validate(params.model_dump() | {field: "x" * (MAX_TEXT_CHARS + 1)})


def test_prompt_tokens_capped_at_the_context():
    from app import prompts

    model = zoo.load("attn-only-1l")
    p = prompts.to_prompt(model, "x " * 5000)
    assert p.tokens.shape[0] == model.cfg.n_ctx and any("context" in n for n in p.notes)
    text, notes = prompts.clean("y" * (MAX_TEXT_CHARS * 3))
    assert len(text) == MAX_TEXT_CHARS and notes


@pytest.fixture
def one_slot():
    old = (limits.MAX_ACTIVE, limits.WAIT_S)
    limits.configure(max_active=1, wait_s=0.2)
    yield
    limits.configure(*old)


def test_busy_limit_answers_instead_of_queueing(one_slot):
    zoo.load("attn-only-1l")
    holding, release, got = threading.Event(), threading.Event(), []

    def hold():
        with zoo.use("attn-only-1l"):
            holding.set()
            release.wait(60)

    t = threading.Thread(target=hold)
    t.start()
    assert holding.wait(30)
    busy_before = limits.busy

    def second():
        try:
            with zoo.use("attn-only-2l"):  # another model: only the global slot is taken
                got.append("ran")
        except limits.Busy as err:
            got.append(str(err))

    t2 = threading.Thread(target=second)
    t2.start()
    t2.join(30)  # answered while the first run still holds its slot: no endless queue
    assert not t2.is_alive() and holding.is_set() and not release.is_set()
    release.set()
    t.join(30)
    assert got and "busy" in got[0] and "try again" in got[0]
    assert limits.busy == busy_before + 1 and limits.active() == 0
    with zoo.use("attn-only-1l"), zoo.use("attn-only-1l"), zoo.use("attn-only-2l"):  # nested runs share one slot
        assert limits.active() == 1
    assert issubclass(limits.Busy, ValueError)  # the widgets' bad-input path shows it in place


def test_busy_shows_a_message_on_the_page(one_slot):
    """Every slot taken: the page still renders, the views say "busy, try again", nothing raises."""
    import streamlit as st

    from tests.conftest import open_page

    limits.configure(max_active=0, wait_s=0.0)
    st.cache_data.clear()
    at = open_page("walkthroughs/mathematical_framework.py", timeout=180)
    texts = [w.value for w in at.warning] + [e.value for e in at.error]
    assert any("busy" in t.lower() for t in texts), texts
    assert not at.exception
