"""Typed records passed between stages: documents, passages (chunks), hits and failures.

All are frozen dataclasses; stages are pure functions from one record type to another.
"""
from __future__ import annotations

import bisect
import re
from dataclasses import asdict, dataclass, field
from functools import cached_property
from numbers import Integral
from typing import Any

from .errors import KBError


@dataclass(frozen=True)
class DocMeta:
    """Descriptive metadata of one document (inferred, or from a sidecar file)."""

    title: str
    organisation: str | None = None
    doc_type: str | None = None
    year: int | None = None
    access: tuple[str, ...] = ()  # access groups that may read it (sidecar "access"); () = everyone

    def __post_init__(self) -> None:
        object.__setattr__(self, "access", access_groups(self.access))
        # kb.ingest.read validates sidecars; an index built before that may hold values of another
        # type (a number as organisation, true as year): they read as unknown, never as a crash
        if not isinstance(self.title, str):
            object.__setattr__(self, "title", "" if self.title is None else str(self.title))
        for name in ("organisation", "doc_type"):
            if not isinstance(getattr(self, name), str):
                object.__setattr__(self, name, None)
        y = self.year
        if isinstance(y, bool) or not isinstance(y, int) or not 0 < y < 10_000:
            object.__setattr__(self, "year", None)


# A group no API key can hold: what an unreadable access value (from a damaged index) becomes,
# so such a document is shown to nobody rather than to everyone.
NO_GROUP = "\x00unreadable"


# An access group's name: letters, digits, '.', '_', '-' (not first), at most 64 characters.
GROUP_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def valid_group(name: object) -> bool:
    return isinstance(name, str) and GROUP_RE.fullmatch(name) is not None


def access_groups(value: object) -> tuple[str, ...]:
    """A document's access groups as a tuple of text ((): everyone may read it)."""
    if value is None or value == () or value == []:
        return ()
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return tuple(value)
    return (NO_GROUP,)


def may_read(access: tuple[str, ...], groups: tuple[str, ...] | None) -> bool:
    """Whether a reader of ``groups`` may read a document of ``access`` (None: no restriction)."""
    return groups is None or not access or bool(set(access) & set(groups))


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
        """1-based page number of a character offset, or None for text files (O(log pages))."""
        if not self.page_starts:
            return None
        return bisect.bisect_right(self.page_starts, offset)

    def line_at(self, offset: int) -> int:
        """1-based line number of a character offset (O(log lines), see :attr:`newlines`)."""
        return bisect.bisect_left(self.newlines, offset) + 1

    @cached_property
    def newlines(self) -> tuple[int, ...]:
        """Offsets of every line break in ``text``, computed once on first use (not a field:
        never compared, serialised or passed to ``replace``)."""
        return newline_offsets(self.text)


def newline_offsets(text: str) -> tuple[int, ...]:
    """Ascending offsets of the ``"\\n"`` characters of ``text``."""
    out = []
    i = text.find("\n")
    while i != -1:
        out.append(i)
        i = text.find("\n", i + 1)
    return tuple(out)


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
class Facets:
    """The values an index offers for filters, each sorted (documents in index order)."""

    years: tuple[int, ...]
    organisations: tuple[str, ...]
    doc_types: tuple[str, ...]
    documents: tuple[tuple[str, str], ...]  # (doc_id, title)


@dataclass(frozen=True)
class Filters:
    """Hard filters on search results; empty tuples mean 'no restriction'.

    ``access`` is the access groups of the reader (an API key): None reads every document, a tuple
    only the documents open to everyone or to one of its groups (:func:`may_read`)."""

    years: tuple[int, ...] = ()
    organisations: tuple[str, ...] = ()
    doc_types: tuple[str, ...] = ()
    doc_ids: tuple[str, ...] = ()
    access: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.access is not None:
            if isinstance(self.access, str) or not all(isinstance(g, str) for g in self.access):
                raise KBError("Filters.access must be a tuple of group names or None")
            object.__setattr__(self, "access", tuple(self.access))
        """Lists become tuples and a single value a one-element tuple; a value of the wrong
        type (a year given as text, a number as organisation) is a KBError, not a crash later."""
        for name, kind in (("years", int), ("organisations", str), ("doc_types", str), ("doc_ids", str)):
            value = getattr(self, name)
            if value is None:
                value = ()
            elif isinstance(value, (str, int)):
                value = (value,)
            try:
                value = tuple(value)
            except TypeError:
                raise KBError(f"Filters.{name} must be a tuple, not {type(value).__name__}") from None
            for v in value:
                if isinstance(v, bool) or not isinstance(v, Integral if kind is int else str):
                    raise KBError(f"Filters.{name} holds {v!r:.40}; give {'whole numbers' if kind is int else 'text'}")
            object.__setattr__(self, name, tuple(int(v) for v in value) if kind is int else value)

    def is_empty(self) -> bool:
        return not (self.years or self.organisations or self.doc_types or self.doc_ids) and self.access is None


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
    """An evidence sentence: ``document.text[start:end]`` inside passage ``chunk_id``.

    ``kind`` is "text", "bullet", "row" (a table line) or "heading" (:mod:`kb.sentences`); the
    page range (PDF) or line range (text file) say where it is.
    """

    chunk_id: str
    start: int
    end: int
    kind: str = "text"
    page: int | None = None
    page_end: int | None = None
    line_start: int | None = None
    line_end: int | None = None


@dataclass(frozen=True)
class QueryInfo:
    """How a query was understood: the years named in it and the analysed (weighted) terms."""

    text: str
    years: tuple[int, ...]
    terms: tuple[tuple[str, float], ...]  # (analysed term, its weight in BM25), one pair per term
    expansions: tuple[str, ...] = ()
    truncated: bool = False  # the question was longer than the search reads (the rest was ignored)


@dataclass(frozen=True)
class SearchResult:
    """Hits for one query plus how the query was interpreted. ``notes`` explain an empty or
    short answer, e.g. a filter value that no document in the index has (with the known ones)."""

    query: str
    hits: tuple[Hit, ...]
    info: QueryInfo
    notes: tuple[str, ...] = ()
