"""The interface between the search and a loaded index.

:class:`kb.search.KnowledgeBase` runs the query pipeline against any :class:`PassageIndex`: the
embedded folder index (:class:`kb.local.LocalIndex`) or another store implementing the same few
methods. Passages are named by their ids (``<doc_id>:<ordinal>``, see
:func:`kb.records.chunk_order`), so results never depend on a store's internal row numbers.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from .analyze import Analyzer
from .manifest import Manifest
from .records import Chunk, DocHead, Document, Filters, Sentence


class PassageIndex(Protocol):
    """A loaded index: its manifest, its analyzer, two retrievers and passage look-ups."""

    location: str  # where it is (an index folder), for messages and `kb info`
    generation: str  # the version of the index that is loaded
    manifest: Manifest  # format_version, created, embedder, config, counts, documents (kb.manifest)
    analyzer: Analyzer  # the index's own analyzer (settings and lexicon)

    def heads(self) -> Sequence[DocHead]:
        """Every document's id and metadata, in index order."""
        ...

    def lexical(self, query: Sequence[tuple[str, float]], depth: int, filters: Filters) -> list[tuple[str, float]]:
        """BM25: the ``depth`` best (passage id, score) pairs with a positive score, best first,
        among the passages that pass ``filters``."""
        ...

    def coverage(self, query: Sequence[tuple[str, float]], chunk_id: str) -> float:
        """Share of the query's IDF mass the passage matches (:func:`kb.bm25.coverage`)."""
        ...

    def dense(self, vector: np.ndarray, depth: int, filters: Filters) -> list[tuple[str, float]]:
        """Inner product with the passage vectors: the ``depth`` best (passage id, score) pairs."""
        ...

    def chunks(self, chunk_ids: Sequence[str]) -> list[Chunk]:
        """The passages with these ids, in the same order (:class:`kb.errors.KBError` for an unknown id)."""
        ...

    def neighbours(self, chunk_id: str, before: int, after: int) -> list[Chunk]:
        """The passage and up to ``before``/``after`` passages around it in the same document."""
        ...

    def document(self, doc_id: str) -> Document:
        """One whole document (text, path, metadata)."""
        ...

    def sentences(self, chunk_ids: Sequence[str]) -> tuple[list[Sentence], np.ndarray]:
        """The evidence sentences of these passages (:mod:`kb.sentences`; passage by passage, in
        document order) and their vectors from the index's embedder (float32, one row each)."""
        ...

    def idf(self, terms: Sequence[str]) -> list[float]:
        """Lucene IDF of each analysed term over the passages (:func:`kb.bm25.term_idf`; a term
        no passage has gets the highest value)."""
        ...
