"""Untrusted text (document text, titles, file names, queries) made safe for one destination.

Pure functions, one per destination:

* :func:`one_line`: a one-line field (control characters and line breaks become spaces);
* :func:`safe_terminal`: human terminal output (control characters shown escaped, so ``ESC]0;``
  cannot retitle the terminal or ``ESC]52;`` write the clipboard);
* :func:`csv_cell`: a spreadsheet cell (OWASP: a cell starting with ``= + - @``, tab or CR is
  prefixed with ``'`` so it is never run as a formula);
* :func:`md_inline` / :func:`md_quote_line`: Markdown (raw HTML and Markdown syntax escaped,
  one-line fields cannot start a heading or a new block);
* :func:`redact`: any text kb prints or shows (errors, warnings, JSON "error" fields, UI notices)
  without the configured secrets (:data:`SECRET_ENV`, the user name and password of a URL);
* :func:`scrub`: text read from a user (query and gold files, command-line arguments) with lone
  surrogates, which no output can encode, replaced by U+FFFD.

Lone surrogates count as control characters here: :func:`safe_terminal` shows them as ``\\udXXX``,
:func:`one_line` replaces them.
"""
from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterable, Mapping
from urllib.parse import quote

# C0 and C1 control characters, DEL, line/paragraph separators, bidirectional overrides, lone surrogates
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def has_control(text: str) -> bool:
    """True when ``text`` holds a character :func:`one_line` would remove."""
    return _CONTROL.search(text) is not None


def one_line(text: str) -> str:
    """``text`` with control characters and line breaks replaced by spaces, runs collapsed."""
    return " ".join(_CONTROL.sub(" ", text).split())


def _escaped(m: re.Match) -> str:
    c = m.group(0)
    return f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}"


def safe_terminal(text: object, keep_newlines: bool = False) -> str:
    """``text`` for a terminal: every control character shown as ``\\xNN`` / ``\\uNNNN``
    (ESC as ``\\x1b``); line breaks too, unless ``keep_newlines``. A backslash stays as is."""
    s = str(text)
    if keep_newlines:
        return "\n".join(_CONTROL.sub(_escaped, part) for part in s.split("\n"))
    return _CONTROL.sub(_escaped, s)


# first characters a spreadsheet reads as the start of a formula (with their full-width forms)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def csv_cell(value: object) -> object:
    """A CSV cell that no spreadsheet runs as a formula: text starting with one of
    :data:`FORMULA_START` gets a leading single quote (OWASP's advice); other values unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


_MD_HTML = {ord("&"): "&amp;", ord("<"): "&lt;", ord(">"): "&gt;"}
_MD_INLINE = re.compile(r"([\\`*_\[\]|~])")
# what makes a line a block of its own: heading, quote, list item, rule, setext underline, table
_MD_LINE_START = re.compile(r"^(\s*)([#>+\-=*]|\d+[.)])")


def _md_escape(text: str) -> str:
    s = _MD_INLINE.sub(r"\\\1", text.translate(_MD_HTML))
    return _MD_LINE_START.sub(lambda m: m.group(1) + "\\" + m.group(2), s, count=1)


def md_inline(text: object) -> str:
    """A one-line field (title, citation, query) for Markdown: put on one line, raw HTML and
    Markdown syntax escaped, so it cannot add a heading, a link or markup."""
    return _md_escape(one_line(str(text)))


def md_quote_line(line: str) -> str:
    """One line of passage text inside a Markdown quote: escaped like :func:`md_inline`,
    control characters dropped (the line break itself is the caller's)."""
    return _md_escape(_CONTROL.sub(" ", line).rstrip())


# -- secrets ----------------------------------------------------------------------------------

SECRET_ENV = ("KB_LLM_API_KEY", "KB_MILVUS_TOKEN")  # whole values are secret
URL_ENV = ("KB_LLM_URL", "KB_INDEX")  # addresses whose user name and password are secret
MIN_SECRET_CHARS = 4  # shorter values ("x", "no") are placeholders: redacting them would garble text
MASK = "***"
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^/\s@?#]*@")
_BEARER = re.compile(r"(?i)\b(bearer\s+|api[-_]?key[\"']?\s*[:=]\s*[\"']?)[^\s\"',;]+")


def configured_secrets(env: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The secrets configured in ``env`` (default: the environment): the values of :data:`SECRET_ENV`
    (and the password of a ``user:password`` token), the user info of the URLs in :data:`URL_ENV`."""
    env = os.environ if env is None else env
    found: list[str] = []
    for name in SECRET_ENV:
        value = env.get(name, "")
        found += [value, *value.split(":", 1)[1:]]
    for name in URL_ENV:
        m = re.search(r"://([^/\s@?#]*)@", env.get(name, ""))
        if m:
            found += [m.group(1), *m.group(1).split(":", 1)[1:]]
    return secret_forms(found)


def secret_forms(secrets: Iterable[str | None]) -> tuple[str, ...]:
    """The secrets as they may appear in text (as given, URL-encoded, JSON-escaped), longest first."""
    forms = {f for s in secrets if s and len(s) >= MIN_SECRET_CHARS
             for f in (s, quote(s, safe=""), json.dumps(s)[1:-1])}
    return tuple(sorted(forms, key=len, reverse=True))


def redact(text: object, secrets: Iterable[str] = ()) -> str:
    """``text`` with every configured secret (:func:`configured_secrets`), every one of ``secrets``, the
    user info of any URL and any ``Bearer …`` / ``api-key: …`` value replaced by ``***``."""
    s = str(text)
    for secret in secret_forms(secrets) + configured_secrets():
        s = s.replace(secret, MASK)
    s = _USERINFO.sub(lambda m: m.group(1) + MASK + "@", s)
    return _BEARER.sub(lambda m: m.group(1) + MASK, s)


class RedactingFilter(logging.Filter):
    """A logging filter that redacts (:func:`redact`) every record's message, arguments filled in."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = redact(record.getMessage()), ()
        return True


def scrub(value: object) -> object:
    """``value`` (text, or lists and objects of it, as JSON decodes them) with lone surrogates replaced
    by U+FFFD; anything else unchanged."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [scrub(v) for v in value]
    if isinstance(value, dict):
        return {scrub(k): scrub(v) for k, v in value.items()}
    return value
