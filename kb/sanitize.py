"""Untrusted text (document text, titles, file names, queries) made safe for one destination.

Pure functions, one per destination:

* :func:`one_line`: a one-line field (control characters and line breaks become spaces);
* :func:`safe_terminal`: human terminal output (control characters shown escaped, so ``ESC]0;``
  cannot retitle the terminal or ``ESC]52;`` write the clipboard);
* :func:`csv_cell`: a spreadsheet cell (OWASP: a cell starting with ``= + - @``, tab or CR is
  prefixed with ``'`` so it is never run as a formula);
* :func:`md_inline` / :func:`md_quote_line`: Markdown (raw HTML and Markdown syntax escaped,
  one-line fields cannot start a heading or a new block).
"""
from __future__ import annotations

import re

# C0 and C1 control characters, DEL, line/paragraph separators, bidirectional overrides
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


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
