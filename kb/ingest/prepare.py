"""Steps 2 and 3 of every build, folder or Milvus: read the planned documents, then cut them
into passages with the texts each retriever sees and the evidence sentences answers quote.

* :func:`read_planned`: one planned document (:class:`kb.ingest.plan.Planned`) read into a
  :class:`~kb.records.Document` with its aliases, or the :class:`~kb.records.Failure` that
  says why not. A reader's error never stops a build: it fails that one document.
* :func:`document_passages`: a document's passages (:mod:`kb.ingest.chunk`), their BM25 terms
  (:mod:`kb.analyze`) and the texts the embedder sees (:func:`retrieval_text`).
* :func:`prepare_passages`: the same for a whole corpus, with its lexicon and the evidence
  sentences of every passage (:mod:`kb.sentences`).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from ..analyze import Analyzer, build_lexicon
from ..errors import IngestError
from ..records import Chunk, Document, Failure, Sentence
from ..sentences import evidence_units
from ..text import dehyphenate
from .chunk import chunk_document
from .config import BuildConfig
from .plan import Planned
from .read import read_document, unexpected_reason

Reader = Callable[[Path, str, str], Document]  # (path, doc_id, sha256) -> Document


# -- 2. read -----------------------------------------------------------------------------------


def read_planned(planned: Planned, reader: Reader = read_document, old: Document | None = None) -> Document | Failure:
    """The document of one planned content with its aliases: ``old`` (a stored copy) when it is
    the same content under the same id, else read anew; a failure names the first path."""
    if old is not None and old.sha256 == planned.sha256 and old.doc_id == planned.doc_id:
        return replace(old, path=planned.path, aliases=planned.aliases)
    try:
        doc = reader(Path(planned.path), planned.doc_id, planned.sha256)
    except IngestError as e:
        return Failure(planned.path, str(e))
    except Exception as e:  # a bug or an unforeseen input: report it, go on with the others
        return Failure(planned.path, unexpected_reason(e))
    return replace(doc, aliases=planned.aliases)


# -- 3. passages -------------------------------------------------------------------------------


def passage_header(doc: Document, chunk: Chunk) -> str:
    """Short context line given to the retrievers (not shown in citations)."""
    m = doc.meta
    parts = [m.title]
    if m.year is not None and str(m.year) not in m.title:
        parts.append(str(m.year))
    head = " ".join(parts)
    return f"{head}. {chunk.section}" if chunk.section else head


def retrieval_text(doc: Document, chunk: Chunk, with_header: bool) -> str:
    """The text a retriever sees: the de-hyphenated passage, after the header line if asked."""
    body = dehyphenate(chunk.text)
    return f"{passage_header(doc, chunk)}\n{body}" if with_header else body


def corpus_lexicon(texts: Sequence[str]) -> dict[str, int]:
    """The lexicon of document texts (corpus vocabulary for conflation and compounds)."""
    return build_lexicon(dehyphenate(t) for t in texts)


def passage_terms(doc: Document, chunks: Sequence[Chunk], analyzer: Analyzer, config: BuildConfig) -> list[list[str]]:
    """The BM25 terms of each passage (of its retrieval text with or without the header)."""
    return [analyzer.passage_terms(retrieval_text(doc, c, config.bm25_header)) for c in chunks]


def dense_texts(doc: Document, chunks: Sequence[Chunk], config: BuildConfig) -> list[str]:
    """The text the embedder sees for each passage."""
    return [retrieval_text(doc, c, config.dense_header) for c in chunks]


def document_passages(doc: Document, analyzer: Analyzer, config: BuildConfig,
                      chunks: Sequence[Chunk] | None = None) -> tuple[list[Chunk], list[list[str]]]:
    """A document's passages (chunked unless given) and their BM25 terms."""
    chunks = list(chunk_document(doc, config.chunk) if chunks is None else chunks)
    return chunks, passage_terms(doc, chunks, analyzer, config)


@dataclass(frozen=True)
class Passages:
    """Passages of the documents with what each retriever is given."""

    chunks: tuple[Chunk, ...]
    lexicon: dict[str, int]
    terms: list[list[str]]  # BM25 terms of each passage
    texts: list[str]  # the text embedded for each passage
    sentences: tuple[Sentence, ...] = ()  # evidence sentences, passage by passage
    sentence_texts: tuple[str, ...] = ()  # the text embedded for each sentence


def prepare_passages(docs: Sequence[Document], config: BuildConfig) -> Passages:
    lexicon = corpus_lexicon([d.text for d in docs])
    analyzer = Analyzer(config.analyzer, lexicon)
    chunks: list[Chunk] = []
    terms: list[list[str]] = []
    texts: list[str] = []
    for d in docs:
        cs, ts = document_passages(d, analyzer, config)
        chunks.extend(cs)
        terms.extend(ts)
        texts.extend(dense_texts(d, cs, config))
    sentences, stexts = evidence_units({d.doc_id: d for d in docs}, chunks)
    return Passages(tuple(chunks), lexicon, terms, texts, tuple(sentences), tuple(stexts))
