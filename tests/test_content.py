"""The schema and checker: every kind of content error names file, key path and line."""

import subprocess
import sys
import textwrap

import pytest

from app.content import ContentErrors, check_all, load_walkthrough
from app.content.loader import CONTENT_DIR

GOOD = textwrap.dedent("""\
    id: demo
    title: Demo
    paper: {title: T, authors: A, year: 2021, url: "https://example.org"}
    models: [attn-only-1l]
    summary: s
    sections:
      - id: one
        title: One
        blocks:
          - text: hello
          - widget: direct_path
            args: {model: attn-only-1l, k: 5}
          - exercise:
              question: q
              solution: s
              check: {fn: top_copying_head, args: {model: attn-only-1l}}
    """)


def _load(tmp_path, text, name="demo.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return load_walkthrough(p)


def _errors(tmp_path, text):
    with pytest.raises(ContentErrors) as info:
        _load(tmp_path, text)
    return info.value.errors


def test_good_file_loads(tmp_path):
    wt = _load(tmp_path, GOOD)
    assert wt.sections[0].blocks[1].widget == "direct_path"


def test_shipped_content_passes():
    assert check_all() == []


def test_drafts_still_validate():
    assert check_all(CONTENT_DIR / "drafts") == []


def test_unknown_key_reports_path_and_line(tmp_path):
    errs = _errors(tmp_path, GOOD.replace("  - id: one\n", "  - id: one\n    colour: red\n"))
    assert any(e.path == "sections[0].colour" and e.line == 8 and "unknown key 'colour'" in e.message for e in errs)


def test_unknown_widget_lists_valid_ones(tmp_path):
    errs = _errors(tmp_path, GOOD.replace("widget: direct_path", "widget: direct_pth"))
    (e,) = errs
    assert e.path == "sections[0].blocks[1].widget" and e.line == 11
    assert "direct_path" in e.message and "unknown widget" in e.message


def test_bad_widget_args(tmp_path):
    errs = _errors(tmp_path, GOOD.replace("k: 5", "k: 500"))
    assert any(e.path == "sections[0].blocks[1].args.k" and e.line == 12 for e in errs)
    errs = _errors(tmp_path, GOOD.replace("k: 5", "kk: 5"))
    assert any("unknown key 'kk'" in e.message for e in errs)


def test_out_of_range_layer_in_args(tmp_path):
    text = GOOD.replace("widget: direct_path\n        args: {model: attn-only-1l, k: 5}",
                        "widget: copying_scores\n        args: {model: attn-only-1l, layer: 3}")
    errs = _errors(tmp_path, text)
    assert any("layer 3 is out of range" in e.message for e in errs)


def test_unknown_model(tmp_path):
    errs = _errors(tmp_path, GOOD.replace("models: [attn-only-1l]", "models: [gpt-9]"))
    assert any(e.path == "models[0]" and e.line == 4 and "attn-only-1l" in e.message for e in errs)


def test_missing_paper_field(tmp_path):
    errs = _errors(tmp_path, GOOD.replace("year: 2021, ", ""))
    assert any(e.path == "paper.year" and e.line == 3 and "missing" in e.message for e in errs)


def test_unknown_check(tmp_path):
    errs = _errors(tmp_path, GOOD.replace("fn: top_copying_head", "fn: nope"))
    assert any(e.path == "sections[0].blocks[2].exercise.check.fn" and "top_copying_head" in e.message for e in errs)


def test_broken_yaml_gives_line(tmp_path):
    errs = _errors(tmp_path, GOOD.replace("title: One", "title: [One"))
    assert len(errs) == 1 and errs[0].line is not None and "broken YAML" in errs[0].message


def test_block_must_be_one_kind(tmp_path):
    errs = _errors(tmp_path, GOOD.replace("- text: hello", "- text: hello\n        widget: attention"))
    assert any("exactly one of" in e.message for e in errs)


def test_cli_exit_codes(tmp_path):
    ok = subprocess.run([sys.executable, "-m", "app.content", "check"], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    (tmp_path / "index.yaml").write_text((CONTENT_DIR / "index.yaml").read_text())
    (tmp_path / "demo.yaml").write_text(GOOD.replace("widget: direct_path", "widget: nope"))
    bad = subprocess.run([sys.executable, "-m", "app.content", "check", str(tmp_path)], capture_output=True, text=True)
    assert bad.returncode == 1
    assert "demo.yaml:11: sections[0].blocks[1].widget: unknown widget 'nope'" in bad.stdout
