"""Evidence sentences: a passage split once, at build time, into the units an answer can quote.

:func:`split_passage` gives each unit's exact offsets in the document, its kind and where it is
(page or lines); :func:`sentence_text` is how a unit is shown, quoted and embedded. The one
sentence splitter of kb (the answerer reads these units from the index; nothing splits at
question time).

Rules, over the lines of a passage (the chunker's own rules from :mod:`kb.text`):

1. A heading line (:func:`kb.text.is_heading`, not a numeric line) is a ``heading``.
2. A paragraph (lines between blank lines) that is a table by the chunker's rule (at least two
   numeric lines, and numeric lines at least half of it) gives one ``row`` per other line, except
   a line of running text (:func:`kb.text.is_prose_line`: no tab, at least 8 words and three per
   number), which is split as prose: "Leanlinks ekonomiska resultatutveckling har alltsedan … 2007
   … 2007-2018 … 17 mnkr. …" is a paragraph of sentences, not one row; and a line that goes on
   with the sentence of such a line (it ends with no full stop, and the next starts in lower case
   or follows a hyphen or comma: "… internbudget som redo-" / "visats till kommunfullmäktige i
   april 2023 (KF 2023-04-25 …").
3. Elsewhere a numeric line (not running text) is a ``row`` only when it cannot be a wrapped
   line of prose: it does not start in lower case or end with a hyphen or comma, the line before
   it is missing, a row or ends a sentence, and the line after it does not start in lower case.
4. A bullet line (•, U+F0B7, U+F0A7, ●, ▪, –, -, *, "1.") starts a new ``bullet`` unit (the mark
   is outside the span); a short line without closing punctuation before a capitalised line ends
   a block (a heading-like line of its own), unless it ends with a comma, a dash, a colon or a
   word no Swedish sentence or heading ends with (a preposition, a conjunction, an article:
   "… är etablerad i" / "Skäggetorp." is one sentence wrapped in a table cell).
5. A blank line ends a block, except inside a sentence: a PDF conversion can leave blank lines
   between the wrapped lines of one sentence ("… ramavtal för förskolor och gruppbo-" / "" /
   "ende har inte påbörjats."), so when the line before it has no closing punctuation and the
   next line starts in lower case, the block goes on (:func:`goes_on`).
6. The remaining blocks are cut at sentence ends (:func:`kb.text.sentence_breaks`).

:func:`embedding_text` is the text a unit's vector is made from: a table row is read with its
section path (the table's title), since "270 - Räddningstjänst 111,2 121,7" means little alone;
prose, bullets and headings are embedded as shown.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .ingest.chunk import SECTION_SEP
from .records import Chunk, Document, Sentence
from .text import dehyphenate, is_heading, is_numeric_line, is_prose_line, line_starts, sentence_breaks

KINDS = ("text", "bullet", "row", "heading")
SENTENCE_VERSION = 6  # recorded in the build config: a change rebuilds the sentences
BULLET = re.compile(r"^[ \t]*(?:[\u2022\u25cf\u25aa\u2013\u2014\uf0b7\uf0a7*·-]|\d{1,2}[.)])[ \t]+")
_OPEN_ENDINGS = (",", "-", "–", ":", ";")
# words a wrapped line can end with but a sentence or a heading cannot (rule 4)
_OPEN_WORDS = frozenset(
    "och samt eller men att som om i på av för med till från vid under över inom mot efter genom hos utan "
    "enligt mellan bland kring inför per via trots en ett den det de dess deras sin sitt sina".split())


@dataclass(frozen=True)
class Span:
    """One unit in a passage's text: ``text[start:end]`` and its kind."""

    start: int
    end: int
    kind: str


_BLANK_LINES = re.compile(r"\n[ \t]*(?:\n[ \t]*)+")


def sentence_text(raw: str) -> str:
    """A unit as shown and quoted: line-break hyphens joined (also across the blank lines a PDF
    conversion leaves inside a sentence: "gruppbo-" / "" / "ende"), whitespace collapsed."""
    return " ".join(dehyphenate(_BLANK_LINES.sub("\n", raw)).split())


def goes_on(lines: list[str], last: int, i: int) -> bool:
    """After blank line ``i``, the sentence on line ``last`` (the block's last line) goes on: it
    has no closing punctuation and the next non-blank line starts in lower case (rule 5)."""
    prev = lines[last].strip()
    nxt = next((x.strip() for x in lines[i + 1 :] if x.strip()), "")
    return bool(prev) and not prev.endswith((".", "!", "?", ":", ";")) and nxt[:1].islower()


def table_lines(lines: list[str]) -> list[bool]:
    """For each line: is it in a paragraph that is a table (the chunker's rule)?"""
    out = [False] * len(lines)
    i = 0
    while i < len(lines):
        if not lines[i].strip():
            i += 1
            continue
        j = i
        while j < len(lines) and lines[j].strip():
            j += 1
        numeric = sum(is_numeric_line(lines[x]) for x in range(i, j))
        if numeric >= 2 and numeric * 2 >= j - i:
            out[i:j] = [True] * (j - i)
        i = j
    return out


def is_row(lines: list[str], i: int, in_table: bool, prev_row: bool) -> bool:
    """Line ``i`` is a table row (rule 1 or 2 of the module docstring)."""
    s = lines[i].strip()
    if is_prose_line(s):
        return False
    prev = lines[i - 1].strip() if i else ""
    ends = (not prev or prev_row or prev.endswith((".", ":", "!", "?")))  # no sentence runs on into this line
    if in_table:  # a line that goes on with the sentence of a prose line before it is no row
        return ends or not (s[0].islower() or prev.endswith(("-", "–", ",")))
    if not is_numeric_line(s) or s[0].islower() or s.endswith(("-", "–", ",")):
        return False
    nxt = lines[i + 1].strip() if i + 1 < len(lines) else ""
    return ends and not nxt[:1].islower()


def runs_on(line: str) -> bool:
    """A stripped line that is not a heading-like line of its own (rule 4): it ends a sentence (the
    sentence splitter cuts there), or it ends with a comma, dash or colon, or a word that leaves the
    sentence open."""
    if line.endswith(_OPEN_ENDINGS + (".", "!", "?")):
        return True
    words = line.split()
    return bool(words) and words[-1].lower() in _OPEN_WORDS


def embedding_text(kind: str, text: str, section: str | None) -> str:
    """The text a unit's vector is made from: a table row with its section path, anything else as shown."""
    if kind == "row" and section:
        return f"{section.replace(SECTION_SEP, ', ')}: {text}"
    return text


def evidence_units(docs: Mapping[str, Document], chunks: Iterable[Chunk]) -> tuple[list[Sentence], list[str]]:
    """The evidence sentences of passages (``docs``: their documents by id), passage by passage,
    and the text each one's vector is made from. Both back-ends' builds use this."""
    sentences: list[Sentence] = []
    texts: list[str] = []
    for c in chunks:
        doc = docs[c.doc_id]
        for s in split_passage(doc, c):
            sentences.append(s)
            texts.append(embedding_text(s.kind, sentence_text(doc.text[s.start : s.end]), c.section))
    return sentences, texts


def split_block(text: str, start: int, end: int, kind: str) -> list[Span]:
    """A block of prose cut at sentence ends; only its first unit keeps a bullet kind."""
    out = []
    pos = start
    for a, b in [*sentence_breaks(text[start:end]), (end - start, end - start)]:
        piece = text[pos : start + a]
        lead = len(piece) - len(piece.lstrip())
        s, e = pos + lead, pos + len(piece.rstrip())
        if e > s:
            out.append(Span(s, e, kind))
            kind = "text"
        pos = start + b
    return out


def split_spans(text: str) -> list[Span]:
    """The units of a passage text, in order (see the module docstring)."""
    lines = text.split("\n")
    offsets = line_starts(lines)
    tables = table_lines(lines)
    longest = max((len(x.strip()) for x in lines), default=0)
    out: list[Span] = []
    block: list[int] = []
    kind = "text"

    def flush() -> None:
        nonlocal kind
        if block:
            first, last = lines[block[0]], lines[block[-1]]
            a = offsets[block[0]] + len(first) - len(first.lstrip())
            m = BULLET.match(first) if kind == "bullet" else None
            a = offsets[block[0]] + m.end() if m else a
            b = offsets[block[-1]] + len(last.rstrip())
            if b > a:
                out.extend(split_block(text, a, b, kind))
        block.clear()
        kind = "text"

    prev_blank, prev_row = True, False
    for i, ln in enumerate(lines):
        s = ln.strip()
        if not s:
            if not (block and goes_on(lines, block[-1], i)):
                flush()
            prev_blank, prev_row = True, False
            continue
        nxt = lines[i + 1] if i + 1 < len(lines) else None
        heading = not is_numeric_line(ln) and is_heading(ln, prev_blank, nxt, lines[i - 1] if i else None)
        prev_row = not heading and is_row(lines, i, tables[i], prev_row)
        single = "row" if prev_row else "heading" if heading else None
        if single:
            flush()
            a = offsets[i] + len(ln) - len(ln.lstrip())
            out.append(Span(a, offsets[i] + len(ln.rstrip()), single))
        else:
            if BULLET.match(ln):
                flush()
                kind = "bullet"
            block.append(i)
            n = (nxt or "").strip()
            short = len(s) < max(40, 0.6 * longest)
            if n and short and n[0].isupper() and not runs_on(s):
                flush()
        prev_blank = False
    flush()
    return out


def split_passage(doc: Document, chunk: Chunk) -> list[Sentence]:
    """The evidence sentences of one passage, with document offsets, kind and page or lines."""
    out = []
    for sp in split_spans(chunk.text):
        a, b = chunk.start + sp.start, chunk.start + sp.end
        page = doc.page_at(a) if chunk.page is not None else None
        line = None if chunk.line_start is None else chunk.line_start + chunk.text.count("\n", 0, sp.start)
        out.append(Sentence(
            chunk_id=chunk.chunk_id, start=a, end=b, kind=sp.kind,
            page=page, page_end=doc.page_at(b - 1) if page is not None else None,
            line_start=line, line_end=None if line is None else line + chunk.text.count("\n", sp.start, sp.end),
        ))
    return out
