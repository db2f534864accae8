"""Typed records passed between stages: documents, passages (chunks), hits and failures.

All are frozen dataclasses; stages are pure functions from one record type to another.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class DocMeta:
    """Descriptive metadata of one document (inferred, or from a sidecar file)."""

    title: str
    organisation: str | None = None
    doc_type: str | None = None
    year: int | None = None


@dataclass(frozen=True)
class DocHead:
    """A document's id and metadata only (what filters and facets need)."""

    doc_id: str
    meta: DocMeta


@dataclass(frozen=True)
class Document:
    """One source document as read from disk.

    ``text`` is the faithful document text (NFC); citations and offsets refer to it.
    ``page_starts`` holds the character offset where each PDF page begins (empty for text files).
    """

    doc_id: str
    path: str
    sha256: str
    meta: DocMeta
    text: str
    page_starts: tuple[int, ...] = ()
    aliases: tuple[str, ...] = ()

    def page_at(self, offset: int) -> int | None:
        """1-based page number of a character offset, or None for text files."""
        if not self.page_starts:
            return None
        import bisect

        return bisect.bisect_right(self.page_starts, offset)

    def line_at(self, offset: int) -> int:
        """1-based line number of a character offset."""
        return self.text.count("\n", 0, offset) + 1


def chunk_order(chunk_id: str) -> tuple[str, int]:
    """(doc_id, ordinal) of a passage id ``<doc_id>:<ordinal>``: the order of passages in an index
    (documents by id, passages in document order), used to break ties between equal scores."""
    doc_id, _, ordinal = chunk_id.rpartition(":")
    return (doc_id, int(ordinal)) if ordinal.isdigit() else (chunk_id, -1)


@dataclass(frozen=True)
class Chunk:
    """A passage: a contiguous slice ``text == document.text[start:end]`` of one document."""

    chunk_id: str
    doc_id: str
    ordinal: int
    start: int
    end: int
    text: str
    section: str | None
    page: int | None
    page_end: int | None
    line_start: int | None
    line_end: int | None
    is_table: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Failure:
    """A file that could not be indexed, with a one-line reason for the summary."""

    path: str
    reason: str


@dataclass(frozen=True)
class Filters:
    """Hard filters on search results; empty tuples mean 'no restriction'."""

    years: tuple[int, ...] = ()
    organisations: tuple[str, ...] = ()
    doc_types: tuple[str, ...] = ()
    doc_ids: tuple[str, ...] = ()

    def is_empty(self) -> bool:
        return not (self.years or self.organisations or self.doc_types or self.doc_ids)


@dataclass(frozen=True)
class Hit:
    """One search result: a passage with its citation and score (the JSON contract's HIT)."""

    rank: int
    score: float
    doc_id: str
    title: str
    year: int | None
    organisation: str | None
    doc_type: str | None
    page: int | None
    line_start: int | None
    line_end: int | None
    section: str | None
    start: int
    end: int
    text: str
    citation: str
    chunk_id: str = ""
    also_at: tuple[str, ...] = field(default=())
    page_end: int | None = None  # last page of a PDF passage that runs over a page break

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["also_at"] = list(self.also_at)
        return d


@dataclass(frozen=True)
class Sentence:
    """An evidence sentence: ``document.text[start:end]`` inside passage ``chunk_id``."""

    chunk_id: str
    start: int
    end: int


@dataclass(frozen=True)
class QueryInfo:
    """How a query was understood: the years named in it and the analysed (weighted) terms."""

    text: str
    years: tuple[int, ...]
    terms: tuple[str, ...]
    weights: tuple[float, ...]  # weight of each of ``terms`` in BM25
    expansions: tuple[str, ...] = ()
    truncated: bool = False  # the question was longer than the search reads (the rest was ignored)


@dataclass(frozen=True)
class SearchResult:
    """Hits for one query plus how the query was interpreted."""

    query: str
    hits: tuple[Hit, ...]
    info: QueryInfo
