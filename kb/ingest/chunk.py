"""Split a document into passages that follow its structure.

1. Lines are grouped into *blocks*: paragraphs separated by blank lines, with a heading line
   always starting a block of its own.
2. A *heading* is a line :func:`kb.text.is_heading` accepts (short, capitalised, marked or
   followed by text). The latest heading is the passage's ``section``.
3. A *table* block is one where most lines are dominated by numbers
   (:func:`kb.text.is_numeric_line`); it is never split from the heading above it and is split
   only at line boundaries when it is too large.
4. Blocks are packed greedily into passages of at most ``target_chars`` characters (a passage
   never crosses a heading unless the section so far is tiny); a block larger than
   ``max_chars`` is cut at sentence ends (:func:`kb.text.sentence_breaks`, or line ends), never mid-word.

Every passage is an exact slice of the document text: ``chunk.text == doc.text[start:end]``.
Ids are ``{doc_id}:{ordinal}``, stable for the same input and parameters.
"""
from __future__ import annotations

import bisect
import re
from dataclasses import asdict, dataclass

from ..records import Chunk, Document
from ..text import is_heading, is_numeric_line, line_starts, sentence_breaks

SECTION_SEP = " › "


@dataclass(frozen=True)
class ChunkConfig:
    """Passage-size parameters; recorded in the index manifest."""

    target_chars: int = 900
    max_chars: int = 1400
    min_chars: int = 200

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Block:
    start: int
    end: int
    kind: str  # "heading" | "table" | "text"


def blocks(text: str) -> list[Block]:
    """Blocks of the text with their kind, in order, covering all non-blank lines."""
    lines = text.split("\n")
    offsets = line_starts(lines)
    out: list[Block] = []
    cur: list[int] = []

    def flush():
        if not cur:
            return
        first, last = cur[0], cur[-1]
        start = offsets[first] + (len(lines[first]) - len(lines[first].lstrip()))
        end = offsets[last] + len(lines[last].rstrip())
        body = [lines[i] for i in cur]
        numeric = sum(is_numeric_line(b) for b in body)
        kind = "table" if numeric >= 2 and numeric * 2 >= len(body) else "text"
        if end > start:
            out.append(Block(start, end, kind))
        cur.clear()

    prev_blank = True
    for i, ln in enumerate(lines):
        if not ln.strip():
            flush()
            prev_blank = True
            continue
        nxt = lines[i + 1] if i + 1 < len(lines) else None
        if is_heading(ln, prev_blank, nxt, lines[i - 1] if i else None):
            flush()
            start = offsets[i] + (len(ln) - len(ln.lstrip()))
            out.append(Block(start, offsets[i] + len(ln.rstrip()), "heading"))
        else:
            cur.append(i)
        prev_blank = False
    flush()
    return out


def _split_large(text: str, start: int, end: int, max_chars: int, by_lines: bool) -> list[tuple[int, int]]:
    """Cut [start, end) into pieces ≤ max_chars at sentence (or line) boundaries."""
    pieces: list[tuple[int, int]] = []
    seg = text[start:end]
    if by_lines:
        cuts = [m.end() for m in re.finditer(r"\n", seg)]
    else:
        cuts = [end for end, _ in sentence_breaks(seg)] or [m.end() for m in re.finditer(r"\n", seg)]
    cuts = [c for c in cuts if 0 < c < len(seg)]
    a = 0
    while len(seg) - a > max_chars:
        limit = a + max_chars
        j = bisect.bisect_right(cuts, limit) - 1  # the last cut within reach (O(log n), cuts ascend)
        if j >= 0 and cuts[j] > a:
            b = cuts[j]
        else:
            sp = seg.rfind(" ", a + max_chars // 2, limit)
            b = sp if sp > a else limit
        pieces.append((a, b))
        a = b
        while a < len(seg) and seg[a].isspace():
            a += 1
    if a < len(seg):
        pieces.append((a, len(seg)))
    out = []
    for x, y in pieces:
        while y > x and seg[y - 1].isspace():  # a cut after a line break keeps no trailing whitespace
            y -= 1
        if y > x:
            out.append((start + x, start + y))
    return out


def block_pieces(text: str, b: Block, config: ChunkConfig) -> list[tuple[int, int]]:
    """A block as one piece, or cut into pieces of about the target size when it is too large."""
    if b.end - b.start > config.max_chars:
        return _split_large(text, b.start, b.end, config.target_chars, by_lines=b.kind == "table")
    return [(b.start, b.end)]


def chunk_document(doc: Document, config: ChunkConfig = ChunkConfig()) -> list[Chunk]:
    """Passages of one document, in document order."""
    text = doc.text
    spans: list[tuple[int, int, str | None, bool]] = []  # start, end, section, is_table
    section: str | None = None
    cur_start: int | None = None
    cur_end = 0
    cur_table = False
    cur_section: str | None = None
    # a heading absorbed at the end of the open passage: (its start, the passage end before it)
    trailing_heading: tuple[int, int] | None = None
    # headings absorbed into the open passage after its start: (start, name)
    inner_heads: list[tuple[int, str]] = []

    def emit(end: int | None = None) -> None:
        nonlocal cur_start, trailing_heading
        end = cur_end if end is None else end
        if cur_start is not None and text[cur_start:end].strip():
            names = [cur_section] if cur_section else []
            names += [n for st, n in inner_heads if st < end and n not in names]
            spans.append((cur_start, end, SECTION_SEP.join(names) or None, cur_table))
        cur_start, trailing_heading = None, None
        inner_heads.clear()

    for b in blocks(text):
        if b.kind == "heading":
            # a heading closes the passage unless the passage is only a tiny preamble
            if cur_start is not None and cur_end - cur_start >= config.min_chars:
                emit()
            section = text[b.start : b.end].strip()
            if cur_start is None:
                cur_start, cur_end, cur_table, cur_section = b.start, b.end, False, section
            else:
                trailing_heading = (b.start, cur_end)
                inner_heads.append((b.start, section))
                cur_end = b.end
            continue
        for ps, pe in block_pieces(text, b, config):
            if cur_start is None:
                cur_start, cur_end, cur_table, cur_section = ps, pe, b.kind == "table", section
            elif pe - cur_start <= config.target_chars or (
                cur_end - cur_start < config.min_chars and pe - cur_start <= config.max_chars
            ):
                cur_end = pe
                cur_table = cur_table or b.kind == "table"
            elif trailing_heading is not None and pe - trailing_heading[0] <= config.max_chars:
                # never leave a heading at the end of a passage: it starts the next one with its body
                head_start, end_before = trailing_heading
                emit(end_before)
                cur_start, cur_end, cur_table, cur_section = head_start, pe, b.kind == "table", section
            else:
                emit()
                cur_start, cur_end, cur_table, cur_section = ps, pe, b.kind == "table", section
            trailing_heading = None
    emit()

    return make_chunks(doc, spans)


def make_chunks(doc: Document, spans: list[tuple[int, int, str | None, bool]]) -> list[Chunk]:
    """Passages from (start, end, section, is_table) spans, with ids, pages or lines."""
    chunks = []
    for i, (s, e, sec, tab) in enumerate(spans):
        page = doc.page_at(s)
        chunks.append(
            Chunk(
                chunk_id=f"{doc.doc_id}:{i}",
                doc_id=doc.doc_id,
                ordinal=i,
                start=s,
                end=e,
                text=doc.text[s:e],
                section=sec,
                page=page,
                page_end=doc.page_at(max(s, e - 1)) if page is not None else None,
                line_start=None if page is not None else doc.line_at(s),
                line_end=None if page is not None else doc.line_at(max(s, e - 1)),
                is_table=tab,
            )
        )
    return chunks
