"""Workshop units without a database: join codes, names, tokens, CSV safety, follow-me links, dashboard maths."""

from __future__ import annotations

import csv
import io
import math

import pytest

from app.workshop import BadInput, Forbidden, codes, links
from app.workshop.report import Attempt, summarise, to_csv
from app.workshop.store import Follow, clean_query


def test_join_codes_are_unambiguous_and_hard_to_guess():
    assert not set("01ILO") & set(codes.ALPHABET) and len(set(codes.ALPHABET)) == len(codes.ALPHABET) == 31
    assert codes.CODE_LEN * math.log2(len(codes.ALPHABET)) > 39  # bits of entropy per code
    made = {codes.new_code() for _ in range(2000)}
    assert len(made) == 2000 and all(len(c) == 8 and set(c) <= set(codes.ALPHABET) for c in made)
    counts = {ch: sum(c.count(ch) for c in made) for ch in codes.ALPHABET}
    assert min(counts.values()) > 0.6 * 16000 / 31  # every symbol is used, roughly evenly


def test_codes_are_read_forgivingly_and_refused_clearly():
    assert codes.normalise_code(" k7qx-m2ta ") == codes.normalise_code("K7QX M2TA") == "K7QXM2TA"
    assert codes.format_code("K7QXM2TA") == "K7QX-M2TA"
    for bad, msg in [("", "Type the class code"), ("K7QX-M2T", "you typed 7"), ("K7QX-M2TO", "never contain"),
                     ("K7QX-M2T!", "not part of one"), ("7" * 500, "you typed 40")]:
        with pytest.raises(BadInput, match=msg):
            codes.normalise_code(bad)


def test_names_are_cleaned_or_refused():
    assert codes.clean_name("  Ada \t Lovelace ", 40, "display name") == "Ada Lovelace"
    assert codes.clean_name("Zoë 🙂", 40, "display name") == "Zoë 🙂"
    assert codes.clean_name("line\u2028break", 40, "display name") == "line break"  # separators are whitespace
    assert codes.name_key("ADA") == codes.name_key("ada") == codes.name_key("ＡＤＡ")  # full-width too
    for bad in ("", " \n ", "a" * 41, "rtl\u202eoverride", "zero\u200bwidth", "bell\x07"):
        with pytest.raises(BadInput):
            codes.clean_name(bad, 40, "display name")


def test_tokens_store_only_digests_and_refuse_garbage():
    secret = codes.new_secret()
    token = codes.make_token(7, secret)
    stored = codes.digest(token)
    assert secret not in stored and len(stored) == 64
    assert codes.secret_matches(token, stored) and not codes.secret_matches(token + "x", stored)
    assert not codes.secret_matches(token, "") and not codes.secret_matches(token, None)
    assert codes.split_token(token) == (7, secret)
    assert codes.split_credential(codes.make_credential(3, token)) == (3, token)
    for bad in ("", "7", "7.short", "x.y.z", "1." + "a" * 200, "1.<script>alert(1)</script>xxxxxxxxxx"):
        with pytest.raises(Forbidden):
            codes.split_credential(bad)


def test_client_addresses_are_stored_hashed():
    key = codes.client_key("203.0.113.5")
    assert "203" not in key and len(key) == 32 and key != codes.client_key("203.0.113.6")


def _a(sid, name, ex, answer, ok, hints=0, sec=10.0, at=0.0):
    return Attempt(sid, name, "induction-heads", ex, answer, ok, hints, sec, at)


def test_dashboard_counts_completion_wrong_answers_and_time():
    rows = [_a(1, "Ann", "a.ex0", "L1H7", False, 1, 20, 1), _a(1, "Ann", "a.ex0", "l1h6", True, 2, 50, 2),
            _a(2, "Bob", "a.ex0", " L1H7 ", False, 0, 5, 3), _a(2, "Bob", "a.ex0", "L1h7", False, 0, 9, 4),
            _a(3, "Cy", "a.ex0", "L0H0", False, 0, 7, 5), _a(3, "Cy", "a.ex0", "L1H6", True, 3, 30, 6),
            _a(4, "Left", "a.ex0", "L1H6", True, 0, 1, 7)]
    dash = summarise(rows, {1: "Ann", 2: "Bob", 3: "Cy", 4: "Left"}, present=[1, 2, 3])
    [ex] = dash.exercises
    assert (ex.answered, ex.correct, ex.attempts) == (3, 2, 7)  # the student who left is not counted
    assert ex.median_seconds == 40.0  # first correct answers: Ann 50 s, Cy 30 s
    assert ex.wrong[0] == ("l1h7", 3) and ("l0h0", 1) in ex.wrong
    assert ex.hints == 2 + 0 + 3 + 0


def test_csv_export_defuses_formulas():
    rows = [_a(1, "=HYPERLINK(\"http://x\")", "a.ex0", "+1+1", False), _a(2, "Ann, \"the\" great", "a.ex0", "3", True)]
    parsed = list(csv.reader(io.StringIO(to_csv(rows))))
    assert parsed[0][:3] == ["time_utc", "student", "walkthrough"]
    assert parsed[1][1].startswith("'=") and parsed[1][4] == "'+1+1"
    assert parsed[2][1] == "Ann, \"the\" great" and parsed[2][5] == "1"


def test_follow_links_drop_credentials_and_escape_everything():
    assert clean_query("?a.layer=1&ws=1.2.x&teach=9.y&b=(x) [y]") == "a.layer=1&b=%28x%29+%5By%5D"
    assert links.query_from_pasted("http://host:8501/induction_heads?ablation.heads=L1H7&ws=1.2.s#phase") == \
        "ablation.heads=L1H7"
    assert links.query_from_pasted("a=1&b=2") == "a=1&b=2" and links.query_from_pasted("  ") == ""
    with pytest.raises(BadInput):
        clean_query("a=" + "x" * 1001)
    follow = Follow("induction-heads", "phase-change", "ablation.heads=L1H7", 0.0)
    assert links.follow_url(follow, "1.2.abc") == "induction_heads?ablation.heads=L1H7&ws=1.2.abc#phase-change"
    assert links.follow_url(Follow("grokking", "fourier", "", 0.0)) == "grokking#fourier"


def test_follow_targets_resolve_against_content():
    cat = links.catalogue()
    assert "induction-heads" in cat and cat["induction-heads"].exercises
    first = cat["induction-heads"].sections[0]
    assert links.resolve(Follow("induction-heads", first[0], "", 0.0)) == (cat["induction-heads"].title, first[1])
    assert links.resolve(Follow("induction-heads", "no-such-section", "", 0.0)) is None
    assert links.resolve(Follow("not-a-walkthrough", "x", "", 0.0)) is None and links.resolve(None) is None
    key, label = cat["induction-heads"].exercises[0]
    assert links.exercise_label("induction-heads", key) == label and key.endswith(".ex0")


def test_markdown_escape_makes_user_text_inert():
    from app.ui.workshop import md_escape

    assert md_escape("**b** [x](javascript:alert(1)) $x$ :red[y] <img>") == \
        "\\*\\*b\\*\\* \\[x\\]\\(javascript\\:alert\\(1\\)\\) \\$x\\$ \\:red\\[y\\] \\<img\\>"


def test_storage_url_from_the_environment(monkeypatch, tmp_path):
    from app.workshop.engine import ROOT, configured_url

    monkeypatch.delenv("INTERP_READER_DATABASE_URL", raising=False)
    monkeypatch.delenv("INTERP_READER_DATA_DIR", raising=False)
    assert configured_url() == f"sqlite:///{ROOT / 'data' / 'workshop.sqlite3'}"
    monkeypatch.setenv("INTERP_READER_DATA_DIR", str(tmp_path))
    assert configured_url() == f"sqlite:///{tmp_path / 'workshop.sqlite3'}"
    monkeypatch.setenv("INTERP_READER_DATABASE_URL", "postgres://u:p@db:5432/interp")
    assert configured_url() == "postgresql+psycopg://u:p@db:5432/interp"  # psycopg 3, not psycopg2


def test_client_address_behind_a_trusted_proxy_is_the_one_the_proxy_saw():
    """A class behind nginx must not share one rate-limit bucket; a visitor must not pick their own bucket."""
    assert codes.client_address("10.0.0.2", None, trust_proxy=False) == "10.0.0.2"
    # without trust, a forged header changes nothing
    assert codes.client_address("10.0.0.2", "203.0.113.9", trust_proxy=False) == "10.0.0.2"
    # nginx appends what it saw; the client-sent entries before it are ignored
    assert codes.client_address("10.0.0.2", "1.2.3.4, 203.0.113.9", trust_proxy=True) == "203.0.113.9"
    assert codes.client_address("10.0.0.2", " ", trust_proxy=True) == "10.0.0.2"
    assert codes.client_address(None, None, trust_proxy=True) is None
