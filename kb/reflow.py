"""Text for reading: a passage with the converted file's hard line breaks joined, with a map back
to the exact text (which stays the one to cite, export as CSV/JSON and compute offsets on).

:func:`reflow` joins the lines that go on with a sentence, drops line-break hyphens where the word
goes on in lower case ("re-" / "dovisar" → "redovisar"; the rule of :func:`kb.text.hyphen_join`)
and collapses runs of spaces. It keeps what a reader needs as lines: paragraphs (a blank line;
several become one), headings, table rows (any line with a tab, or a row by the evidence
sentences' rule), bullets, and a short line of its own before a capitalised one (a heading-like
line such as "LSS funktionsstöd"). The rules are the evidence sentences' (:mod:`kb.sentences`),
so a quoted sentence and its passage read the same way.

The result carries ``src``: for each character of the reflowed text, its offset in the source,
so a span of the source (a quoted sentence, a highlighted word) maps onto the reflowed text with
:meth:`Reflowed.span`.
"""
from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass

from .sentences import BULLET, goes_on, is_row, runs_on, table_lines
from .text import hyphen_join, is_heading, is_numeric_line, line_starts

_HYPHENATED_END = re.compile(r"([^\W\d_]+)-$")
_SPACES = re.compile(r"[ \t\u00a0]+")


@dataclass(frozen=True)
class Reflowed:
    """Reflowed text and, per character, its offset in the source (one more entry: the source's
    length, so the end of the source maps too)."""

    text: str
    src: tuple[int, ...]

    def pos(self, i: int) -> int:
        """The reflowed offset of source offset ``i``: the first character that comes from ``i`` or later."""
        return bisect_left(self.src, i, 0, len(self.text))

    def span(self, a: int, b: int) -> tuple[int, int]:
        """A source span ``[a, b)`` in the reflowed text."""
        return self.pos(a), max(self.pos(a), self.pos(b))


def line_roles(lines: list[str]) -> list[str]:
    """Each line's role: ``blank``, ``heading``, ``row``, ``bullet`` (starts an item) or ``text``,
    by the evidence sentences' rules; a line with a tab is always a row (a table cell separator)."""
    tables = table_lines(lines)
    roles: list[str] = []
    prev_blank, prev_row = True, False
    for i, ln in enumerate(lines):
        if not ln.strip():
            roles.append("blank")
            prev_blank, prev_row = True, False
            continue
        nxt = lines[i + 1] if i + 1 < len(lines) else None
        heading = not is_numeric_line(ln) and is_heading(ln, prev_blank, nxt)
        prev_row = "\t" in ln.strip() or (not heading and is_row(lines, i, tables[i], prev_row))
        roles.append("row" if prev_row else "heading" if heading else "bullet" if BULLET.match(ln) else "text")
        prev_blank = False
    return roles


def separator(lines: list[str], roles: list[str], i: int, j: int, longest: int) -> str:
    """What stands between non-blank line ``i`` and the next non-blank line ``j`` when read:
    ``"\\n\\n"`` (a paragraph), ``"\\n"`` (a line of its own), ``" "`` (the sentence goes on), or how a
    hyphenated word joins (:func:`kb.text.hyphen_join`: ``""``, ``"-"``, ``"- "``)."""
    a, b = lines[i].strip(), lines[j].strip()
    if b[:1].islower() and "\t" not in a + b and (j == i + 1 or goes_on(lines, i, i + 1)):
        m = _HYPHENATED_END.search(a)  # a line going on in lower case goes on, after a "heading" or "row" too
        return hyphen_join(m.group(1), b[:6]) if m else " "
    if roles[i] in ("heading", "row") or roles[j] in ("heading", "row", "bullet"):
        return "\n\n" if j > i + 1 else "\n"
    if j > i + 1:
        if not goes_on(lines, i, i + 1):
            return "\n\n"
    elif not b[:1].islower() and (own_line(a, b, longest) or own_line(b, after(lines, j), longest)
                                  and (a.endswith((".", "!", "?")) or not runs_on(a))):
        return "\n"
    elif a.endswith((".", "!", "?")) and not after(lines, j) and own_line(b, "X", longest):
        return "\n"  # a heading-like line that ends the text or its paragraph ("… engagemanget." "Händelser")
    return " "


def own_line(line: str, following: str, longest: int) -> bool:
    """A short line without closing punctuation before a capitalised line is a line of its own (a
    heading-like line, as the evidence sentences split it)."""
    short = len(line) < max(40, 0.6 * longest)
    return short and following[:1].isupper() and not runs_on(line)


def after(lines: list[str], j: int) -> str:
    """The line after line ``j``, stripped ("" at the end or before a blank line)."""
    return lines[j + 1].strip() if j + 1 < len(lines) else ""


def reflow(text: str) -> Reflowed:
    """``text`` for reading (see the module docstring), with its map back to ``text``."""
    lines = text.split("\n")
    offsets = line_starts(lines)
    roles = line_roles(lines)
    longest = max((len(x.strip()) for x in lines), default=0)
    out: list[str] = []
    src: list[int] = []
    prev = -1
    for i, ln in enumerate(lines):
        if roles[i] == "blank":
            continue
        if prev >= 0:
            sep = separator(lines, roles, prev, i, longest)
            at = offsets[prev] + len(lines[prev])  # the line break after the previous line
            if sep == "" and out and out[-1] == "-":  # a line-break hyphen goes
                out.pop()
                src.pop()
            for ch in sep.lstrip("-"):  # "-" and "- ": the hyphen stays where it is
                out.append(ch)
                src.append(at)
        start = offsets[i] + len(ln) - len(ln.lstrip())
        end = offsets[i] + len(ln.rstrip())
        emit_line(text, start, end, roles[i] == "row", out, src)
        prev = i
    src.append(len(text))
    return Reflowed("".join(out), tuple(src))


def emit_line(text: str, start: int, end: int, keep_tabs: bool, out: list[str], src: list[int]) -> None:
    """Append ``text[start:end]`` with runs of spaces as one (tabs kept in a table row)."""
    pos = start
    for m in _SPACES.finditer(text, start, end):
        for k in range(pos, m.start()):
            out.append(text[k])
            src.append(k)
        if keep_tabs and "\t" in m.group(0):
            for k in range(m.start(), m.end()):
                if text[k] == "\t":
                    out.append("\t")
                    src.append(k)
        else:
            out.append(" ")
            src.append(m.start())
        pos = m.end()
    for k in range(pos, end):
        out.append(text[k])
        src.append(k)
