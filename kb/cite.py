"""Citations: where a passage is in its report, and the typed hit a search returns.

One :func:`location` formats a page range (PDF) or line range (text file) for the CLI, the UI,
the exports and the ``citation`` field of the JSON contract. Pure functions of records.
"""
from __future__ import annotations

from collections.abc import Sequence

from .records import Chunk, DocMeta, Hit


def location(page: int | None, page_end: int | None, line_start: int | None, line_end: int | None) -> str:
    """"s. 3", "s. 3–4", "rad 5" or "rad 5–9"; "" when neither pages nor lines are known."""
    if page is not None:
        return f"s. {page}–{page_end}" if page_end not in (None, page) else f"s. {page}"
    if line_start is not None:
        return f"rad {line_start}–{line_end}" if line_end not in (None, line_start) else f"rad {line_start}"
    return ""


def chunk_location(chunk: Chunk) -> str:
    return location(chunk.page, chunk.page_end, chunk.line_start, chunk.line_end)


def hit_location(hit: Hit) -> str:
    return location(hit.page, hit.page_end, hit.line_start, hit.line_end)


def format_citation(meta: DocMeta, chunk: Chunk) -> str:
    """"Title, organisation, year, place, avsnitt ”section”", leaving out what the title already says."""
    parts = [meta.title]
    if meta.organisation and meta.organisation.lower() not in meta.title.lower():
        parts.append(meta.organisation)
    if meta.year is not None and str(meta.year) not in meta.title:
        parts.append(str(meta.year))
    where = chunk_location(chunk)
    if where:
        parts.append(where)
    if chunk.section:
        parts.append(f"avsnitt ”{chunk.section}”")
    return ", ".join(parts)


def shown_text(text: str, max_chars: int) -> str:
    """The passage text a hit carries: whole, or cut at a word boundary before ``max_chars`` with " …"."""
    if len(text) <= max_chars:
        return text
    return text[:max_chars].rsplit(" ", 1)[0] + " …"


def make_hit(
    rank: int, score: float, chunk: Chunk, doc_id: str, meta: DocMeta, max_chars: int, also_at: Sequence[str] = ()
) -> Hit:
    """The JSON contract's HIT for one passage."""
    return Hit(
        rank=rank, score=round(float(score), 6), doc_id=doc_id, title=meta.title, year=meta.year,
        organisation=meta.organisation, doc_type=meta.doc_type, page=chunk.page, line_start=chunk.line_start,
        line_end=chunk.line_end, section=chunk.section, start=chunk.start, end=chunk.end,
        text=shown_text(chunk.text, max_chars), citation=format_citation(meta, chunk), chunk_id=chunk.chunk_id,
        also_at=tuple(also_at), page_end=chunk.page_end,
    )
