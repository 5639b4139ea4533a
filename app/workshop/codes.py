"""Join codes, secret tokens, display names and the join rate limit for workshop mode.

A join code is what a teacher reads aloud or writes on a board, so it uses an alphabet with no
look-alikes (no 0/O, 1/I/L) and is shown as two groups of four: ``K7QX-M2TA``. Eight symbols from
31 give 31**8 ≈ 8.5e11 codes (39.6 bits). Guessing is further limited by ``RateLimit``: a client
(hashed IP address) gets a handful of wrong codes per window, and all clients together a bounded
number, so a brute-force search over 8.5e11 codes would take centuries.

Secrets (the teacher link, a student's session token) are ``secrets.token_urlsafe`` strings; the
database stores only their SHA-256 and comparisons use ``hmac.compare_digest`` (constant time).
No Streamlit here.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import unicodedata
from dataclasses import dataclass

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # 31 symbols: no 0, 1, I, L, O
CODE_LEN = 8
MAX_CLASS_NAME = 80
MAX_DISPLAY_NAME = 40
# Unicode categories a name may not contain: controls, format characters (bidi overrides, zero-width
# joiners), surrogates, private use, unassigned, and line/paragraph separators.
_BAD_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}
_CREDENTIAL = re.compile(r"^(\d{1,12})\.([A-Za-z0-9_\-.]{10,120})$")
_SECRET = re.compile(r"^(\d{1,12})\.([A-Za-z0-9_\-]{20,64})$")


class WorkshopError(Exception):
    """A problem the user can fix; ``str(err)`` is the message to show them."""


class BadInput(WorkshopError, ValueError):
    """Malformed code, name or parameter."""


class NotFound(WorkshopError):
    """No class has that join code."""


class Forbidden(WorkshopError):
    """The token does not belong to this class (or to a teacher of it)."""


class RateLimited(WorkshopError):
    """Too many wrong join codes (or new classes) from this client, or from everyone, in the window."""

    def __init__(self, message: str, retry_after: float):
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class RateLimit:
    """How many failures a client (and everyone together) may make per window before joins are refused."""

    window_s: float = 600.0
    per_client: int = 20  # a class behind one NAT address shares this, so it allows typos
    global_failures: int = 600
    creates_per_client: int = 30  # new classes per client per window (classes are cheap to make)


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LEN))


def format_code(code: str) -> str:
    """'K7QXM2TA' -> 'K7QX-M2TA' (how the teacher shows it)."""
    return f"{code[:4]}-{code[4:]}"


def normalise_code(text: str) -> str:
    """What a student typed -> the stored code; spaces and dashes are ignored, case too."""
    raw = re.sub(r"[\s\-]", "", (text or "")[:40]).upper()
    if not raw:
        raise BadInput("Type the class code your teacher shows (8 letters and digits, like K7QX-M2TA).")
    bad = sorted({c for c in raw if c not in ALPHABET})
    if bad:
        hint = " Codes never contain 0, O, 1, I or L." if set(bad) & set("01ILO") else ""
        raise BadInput(f"A class code has only letters and digits; {''.join(bad)[:10]!r} is not part of one.{hint}")
    if len(raw) != CODE_LEN:
        raise BadInput(f"A class code has {CODE_LEN} letters and digits; you typed {len(raw)}.")
    return raw


def clean_name(text: str, limit: int, what: str) -> str:
    """A display/class name: NFC, trimmed, inner whitespace collapsed, no control or invisible characters."""
    name = " ".join(unicodedata.normalize("NFC", text or "").split())
    if not name:
        raise BadInput(f"Type a {what}.")
    if len(name) > limit:
        raise BadInput(f"A {what} has at most {limit} characters; this one has {len(name)}.")
    if any(unicodedata.category(c) in _BAD_CATEGORIES for c in name):
        raise BadInput(f"The {what} contains invisible or control characters; use letters, digits and punctuation.")
    return name


def name_key(name: str) -> str:
    """Two names that differ only in case or width collide ('Ada' and 'ADA')."""
    return unicodedata.normalize("NFKC", name).casefold()[:MAX_DISPLAY_NAME * 2]


def new_secret() -> str:
    return secrets.token_urlsafe(24)  # 32 characters, 192 bits


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(secret: str, stored: str | None) -> bool:
    """Constant-time comparison of a presented secret with a stored SHA-256 (None/'' never match)."""
    if not stored:
        return False
    return hmac.compare_digest(digest(secret).encode(), stored.encode())


def client_address(ip: str | None, forwarded_for: str | None, trust_proxy: bool) -> str | None:
    """The visitor's address for the rate limit: the connection's, or behind a trusted proxy the one it saw.

    Behind nginx every connection comes from the proxy, so a whole class would share one bucket. With
    ``INTERP_TRUST_PROXY=1`` the last ``X-Forwarded-For`` entry is used: deploy/nginx.conf appends the
    address it saw (``$proxy_add_x_forwarded_for``); earlier entries come from the client and are ignored.
    Never set it without a proxy in front, or a visitor picks their own bucket.
    """
    if trust_proxy and forwarded_for:
        last = forwarded_for.split(",")[-1].strip()
        if last:
            return last
    return ip or None


def client_key(client: str | None) -> str:
    """Rate-limit bucket for a client address; only its hash is stored (no personal data at rest)."""
    return hashlib.sha256(("ws-client:" + str(client or "unknown")).encode()).hexdigest()[:32]


def make_token(row_id: int, secret: str) -> str:
    """'<row id>.<secret>': the id finds the row, the secret proves the holder."""
    return f"{row_id}.{secret}"


def split_token(token: str) -> tuple[int, str]:
    m = _SECRET.match(token or "")
    if not m:
        raise Forbidden("This workshop link is not valid.")
    return int(m.group(1)), m.group(2)


def make_credential(class_id: int, token: str) -> str:
    """The URL form: '<class id>.<token>' (what ?ws= and ?teach= carry)."""
    return f"{class_id}.{token}"


def split_credential(text: str) -> tuple[int, str]:
    """'<class id>.<token>' -> (class id, token); anything else is refused with a message."""
    m = _CREDENTIAL.match(text or "")
    if not m:
        raise Forbidden("This workshop link is not valid: it may have been cut short when it was copied.")
    return int(m.group(1)), m.group(2)
