"""Build (or refresh) an index folder from source files, in five steps. Steps 1 to 4 are shared
with the Milvus writer (:mod:`kb.milvus.ingest`), which differs only in how it stores the result:

1. :func:`plan_build`: find, hash and name the documents (:func:`kb.ingest.plan.scan`) and compare
   their files with the live manifest (added, updated, unchanged, removed). Re-running on an
   unchanged corpus with the same parameters stops here: nothing to do.
2. :func:`read_sources`: read each new or changed document (:func:`kb.ingest.prepare.read_planned`);
   unchanged documents are taken from the live generation without re-reading them.
3. :func:`kb.ingest.prepare.prepare_passages`: chunk the documents, build the lexicon and the
   analyser and the texts each retriever sees; split every passage into its evidence sentences
   (:mod:`kb.sentences`), which answers quote.
4. :func:`embed_passages`: passage and sentence vectors through the embedding cache
   (:func:`kb.ingest.embedding.embed_texts`).
5. :func:`write_generation`: write every file of a new generation (:mod:`kb.store` formats,
   BM25 postings, FAISS vectors) and publish it atomically (:func:`kb.store.publish`).

:func:`build_index` runs the steps under the index's build lock; :mod:`kb.ingest.guard` decides
whether the result may be published.
"""
from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from .. import bm25, files, store, vectors
from ..embed import EmbeddingCache, check_spec, get_embedder
from ..errors import IndexCorruptError, IndexIncompatibleError, KBError
from ..manifest import Counts, EmbedderInfo, Manifest
from ..records import Chunk, Document, Failure, Sentence
from . import guard
from .config import PIPELINE_VERSION, BuildConfig
from .discover import discover_files
from .embedding import embed_texts, prune_cache, save_cache
from .plan import Found, Planned, real_path, scan
from .prepare import Passages, Reader, prepare_passages, read_planned, retrieval_text
from .read import read_document
from .report import BuildReport

__all__ = ["BuildConfig", "BuildReport", "Passages", "embed_texts", "prepare_passages", "retrieval_text"]

Progress = Callable[[str, int, int], None]  # (stage, done, total)


def _noop(stage: str, done: int, total: int) -> None:
    pass


# -- 1. plan ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BuildPlan:
    """The documents to index (:func:`kb.ingest.plan.scan`) and how their files differ from the
    live index: added, updated, unchanged (paths as given now) and removed (paths as stored).
    Files are compared by their real path, so another spelling of the same file (``./corpus``,
    ``corpus/``, absolute, from another working folder) is the same file."""

    documents: tuple[Planned, ...]
    shas: dict[str, str]
    bad: tuple[Failure, ...]  # files that cannot even be hashed (unreadable, undecodable name)
    prev_gen: Path | None
    prev: Manifest | None  # the live manifest
    same_config: bool
    added: tuple[str, ...]
    updated: tuple[str, ...]
    unchanged: tuple[str, ...]
    removed: tuple[str, ...]

    @property
    def prev_sources(self) -> Mapping[str, Mapping[str, Any]]:
        return self.prev.source_entries if self.prev is not None else {}

    @property
    def same_pipeline(self) -> bool:
        return self.prev is not None and self.prev.config.get("pipeline_version") == PIPELINE_VERSION

    @property
    def prev_documents(self) -> int:
        return len(self.prev.document_entries) if self.prev is not None else 0

    @property
    def prev_passages(self) -> int:
        return self.prev.passages if self.prev is not None else 0

    def is_noop(self) -> bool:
        return self.same_config and not (self.added or self.updated or self.removed)

    def removed_documents(self) -> dict[str, str]:
        """The removed files that held a document: real path -> path as stored."""
        return {r: p for r, (p, info) in stored_by_real(self.prev_sources).items()
                if p in self.removed and info.get("doc_id")}

    def refused(self, root: Path, failures: tuple[Failure, ...], refusal: str, seconds: float,
                timings: dict[str, float]) -> BuildReport:
        """The report of a build that must not publish: the live index as it was."""
        return BuildReport(index=str(root), rebuilt=False, failed=failures, refused=refusal,
                           documents=self.prev_documents, passages=self.prev_passages, seconds=seconds,
                           timings=timings)

    def prev_source(self, path: str) -> Mapping[str, Any]:
        """The live manifest's entry of a file found now (by its real path)."""
        return stored_by_real(self.prev_sources).get(real_path(path), ("", {}))[1]


def plan_build(
    paths: list[Path], root: Path, config: BuildConfig, found: Found | None = None, corpus_root: Path | None = None
) -> BuildPlan:
    """Scan ``paths`` (or take ``found``, the result of :func:`kb.ingest.discover.discover_files`), hash
    every supported file and compare with the live generation of ``root``."""
    prev_gen, prev = _previous(root)
    stored = stored_by_real(prev.source_entries if prev is not None else {})
    found_ = scan(paths, corpus_root, found=found)
    shas = found_.shas
    real = {p: real_path(p) for p in shas}
    unchanged = tuple(p for p, s in shas.items() if stored.get(real[p], ("", {}))[1].get("sha256") == s)
    return BuildPlan(
        documents=found_.documents, shas=shas, bad=found_.bad, prev_gen=prev_gen, prev=prev,
        same_config=prev is not None and prev.config == config.to_json(),
        added=tuple(p for p in shas if real[p] not in stored), unchanged=unchanged,
        updated=tuple(p for p in shas if real[p] in stored and p not in unchanged),
        removed=tuple(key for r, (key, _) in stored.items() if r not in set(real.values())),
    )


def stored_by_real(sources: Mapping[str, Mapping[str, Any]]) -> dict[str, tuple[str, Mapping[str, Any]]]:
    """The manifest's sources by real path: (the path as stored, its entry). A manifest written
    before kb stored real paths gives its paths resolved against the working folder."""
    return {str(info.get("real") or real_path(p)): (p, info) for p, info in sources.items()}


def _previous(root: Path) -> tuple[Path | None, Manifest | None]:
    """The live generation and manifest when they are readable; else (None, None)."""
    try:
        return store.open_generation(root, verify=True)
    except (IndexCorruptError, IndexIncompatibleError, KBError):
        return None, None


def index_embedder(root: Path) -> str | None:
    """The embedder spec the live index at ``root`` was built with (None: no readable index)."""
    _, manifest = _previous(root)
    return manifest.embedder.spec or None if manifest is not None else None


def noop_report(plan: BuildPlan, root: Path, seconds: float, timings: dict[str, float]) -> BuildReport:
    """The report of a build that found nothing to do (finishing a prune a killed build left)."""
    if plan.prev_gen is not None and len(list(root.glob("gen-*"))) > store.KEEP_GENERATIONS:
        store.prune_generations(root, keep=plan.prev_gen.name)
    failed = plan.bad + tuple(Failure(p, info["failure"]) for p, info in plan.prev_sources.items()
                              if info.get("failure"))
    return BuildReport(
        index=str(root), rebuilt=False, unchanged=plan.unchanged, failed=failed,
        documents=plan.prev_documents, passages=plan.prev_passages, seconds=seconds, timings=timings,
    )


# -- 2. read -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReadResult:
    docs: tuple[Document, ...]  # sorted by doc_id (the index's row order)
    sources: dict[str, dict[str, Any]]  # per path: sha256 and doc_id, or the failure
    failures: tuple[Failure, ...]


def read_sources(plan: BuildPlan, reader: Reader = read_document, progress: Progress = _noop) -> ReadResult:
    """Read every planned document (reusing unchanged documents of the live generation); one
    file's failure is recorded and the others go on. A file that failed before and is unchanged
    is not read again."""
    old_docs: dict[str, Document] = {}  # by real path
    if plan.prev_gen is not None and plan.same_pipeline:
        by_id = {d.doc_id: d for d in store.load_documents(plan.prev_gen)}
        for r, (_, info) in stored_by_real(plan.prev_sources).items():
            if info.get("doc_id") in by_id:
                old_docs[r] = by_id[info["doc_id"]]
    docs: list[Document] = []
    failures: list[Failure] = list(plan.bad)
    sources: dict[str, dict[str, Any]] = {}
    for i, planned in enumerate(plan.documents):
        progress("read", i, len(plan.documents))
        known_failure = plan.prev_source(planned.path).get("failure")
        if plan.same_pipeline and planned.path in plan.unchanged and known_failure:
            doc: Document | Failure = Failure(planned.path, known_failure)
        else:
            doc = read_planned(planned, reader, old_docs.get(real_path(planned.path)))
        for p in planned.paths:
            if isinstance(doc, Failure):
                failures.append(Failure(p, doc.reason))
                sources[p] = {"sha256": planned.sha256, "failure": doc.reason, "real": real_path(p)}
            else:
                sources[p] = {"sha256": planned.sha256, "doc_id": doc.doc_id, "real": real_path(p)}
        if not isinstance(doc, Failure):
            docs.append(doc)
    progress("read", len(plan.documents), len(plan.documents))
    return ReadResult(tuple(sorted(docs, key=lambda d: d.doc_id)), sources, tuple(failures))


# -- 3. passages: kb.ingest.prepare.prepare_passages; 4. embed: kb.ingest.embedding.embed_texts --


# -- 5. write ----------------------------------------------------------------------------------


def _write_failed(root: Path, e: BaseException) -> KBError:
    return KBError(f"could not write the index at {root}: {files.write_error(e)}; the previous index is unchanged")


def write_generation(
    root: Path,
    docs: Sequence[Document],
    chunks: Sequence[Chunk],
    lexicon: dict[str, int],
    terms: Sequence[Sequence[str]],
    vecs: np.ndarray,
    bm25_params: bm25.BM25Params,
    manifest: Manifest,
    sentences: tuple[Sequence[Sentence], np.ndarray] | None = None,
) -> Path:
    """Write a complete generation (documents, passages, lexicon, BM25, vectors, manifest) into a
    staging folder and publish it (:func:`kb.store.publish`). ``manifest`` supplies the embedder,
    config and sources; format version, time, vector parameters, documents and counts are added.
    ``sentences`` (records grouped by passage, and their vectors) are written when given.
    On an error nothing is published and the staging folder is removed."""
    try:
        staging = store.new_staging(root)
    except OSError as e:  # a read-only index folder
        raise _write_failed(root, e) from None
    try:
        files.write_jsonl(staging / "documents.jsonl", (store.doc_to_json(d) for d in docs))
        files.write_jsonl(staging / "chunks.jsonl", (c.to_json() for c in chunks))
        doc_pos = {d.doc_id: i for i, d in enumerate(docs)}  # passage -> document row (kb.rowstore)
        chunk_doc = np.array([doc_pos[c.doc_id] for c in chunks], dtype=np.int32)
        files.atomic_write_bytes(staging / "chunk_doc.npy", files.npy_bytes(chunk_doc))
        files.atomic_write_bytes(staging / "lexicon.json", json.dumps(lexicon, ensure_ascii=False).encode("utf-8"))
        bm25.save(bm25.build(terms, bm25_params), staging / "bm25")
        vparams = vectors.choose_params(len(chunks), vecs.shape[1])
        vectors.save(vectors.build(vecs, vparams), [c.chunk_id for c in chunks], staging)
        counts = Counts(len(docs), len(chunks))
        if sentences is not None:
            store.write_sentences(staging, sentences[0], [c.chunk_id for c in chunks], sentences[1])
            counts = replace(counts, sentences=len(sentences[0]))
        full = replace(manifest, format_version=store.FORMAT_VERSION, created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                       vectors=asdict(vparams), documents=tuple(store.manifest_documents(docs)), counts=counts)
        return store.publish(root, staging, full)
    except BaseException as e:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(e, (OSError, RuntimeError)):  # RuntimeError: faiss could not write
            raise _write_failed(root, e) from None
        raise


# -- the whole build ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Embedded:
    """The vectors of a build's passages and sentences, and what had to be embedded."""

    passages: np.ndarray
    sentences: np.ndarray
    new_passages: int
    new_sentences: int
    tokens_estimate: int
    cache: EmbeddingCache
    texts: tuple[str, ...]  # every text of the index (what the cache keeps once it is published)
    model: EmbedderInfo


def embed_passages(root: Path, passages: Passages, config: BuildConfig, progress: Progress) -> Embedded:
    """Step 4: passages and sentences in one pass through the index's cache, so it keeps both."""
    embedder = get_embedder(config.embedder)
    cache = EmbeddingCache(root / "cache", embedder.model_id, embedder.dim)
    alltexts = (*passages.texts, *passages.sentence_texts)
    allvecs, embedded = embed_texts(alltexts, embedder, cache, progress)
    if embedded:
        save_cache(cache)
    n = len(passages.texts)
    return Embedded(allvecs[:n], allvecs[n:], sum(i < n for i in embedded), sum(i >= n for i in embedded),
                    sum(len(alltexts[i]) for i in embedded) // 4, cache, alltexts,
                    EmbedderInfo(config.embedder, embedder.model_id, embedder.dim))


def build_index(
    paths: list[Path],
    root: Path,
    config: BuildConfig = BuildConfig(),
    progress: Progress = _noop,
    corpus_root: Path | None = None,
    reader: Reader = read_document,
    follow_symlinks: bool = False,
    replace: bool = False,
) -> BuildReport:
    """Index the supported files under ``paths`` into the index folder ``root``.

    The inputs and the embedder spec are checked before the index folder is created or locked
    (a path that does not exist leaves nothing behind). Symlinks that leave the given folders
    are skipped unless ``follow_symlinks``. Unless ``replace``, a build that would remove
    documents not under ``paths`` is refused before reading, and one that would leave no
    document publishes nothing (:mod:`kb.ingest.guard`; the report's ``refused`` says why).
    """
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    root = Path(root)
    check_spec(config.embedder)
    found = discover_files([Path(p) for p in paths], follow_symlinks)
    with store.build_lock(root):
        store.clean_leftovers(root)
        plan = plan_build(paths, root, config, found, corpus_root)
        timings["scan"] = time.perf_counter() - t0
        if plan.is_noop():
            return noop_report(plan, root, time.perf_counter() - t0, timings)
        guard.check_removals(plan.removed_documents(), [Path(p) for p in paths], root, replace)
        t = time.perf_counter()
        read = read_sources(plan, reader, progress)
        timings["read"] = time.perf_counter() - t
        refusal = guard.publish_refusal(len(read.docs), plan.prev_documents, root, replace, len(read.failures))
        if refusal:
            return plan.refused(root, read.failures, refusal, time.perf_counter() - t0, timings)
        t = time.perf_counter()
        passages = prepare_passages(read.docs, config)
        timings["chunk+analyze"] = time.perf_counter() - t
        t = time.perf_counter()
        vecs = embed_passages(root, passages, config, progress)
        timings["embed"] = time.perf_counter() - t
        t = time.perf_counter()
        manifest = Manifest(embedder=vecs.model, config=config.to_json(), sources=read.sources,
                            build_seconds=round(time.perf_counter() - t0, 3))
        write_generation(root, read.docs, passages.chunks, passages.lexicon, passages.terms, vecs.passages,
                         config.bm25, manifest, (passages.sentences, vecs.sentences))
        prune_cache(vecs.cache, vecs.texts)  # passages and sentences of the live index
        timings["write"] = time.perf_counter() - t
    indexed = {p for p, info in read.sources.items() if "doc_id" in info}  # a file that failed is not added
    return BuildReport(
        index=str(root), rebuilt=True, added=tuple(p for p in plan.added if p in indexed),
        updated=tuple(p for p in plan.updated if p in indexed), unchanged=plan.unchanged,
        removed=plan.removed, failed=read.failures, documents=len(read.docs), passages=len(passages.chunks),
        embedded=vecs.new_passages, embedded_sentences=vecs.new_sentences,
        embed_tokens_estimate=vecs.tokens_estimate,
        seconds=time.perf_counter() - t0, embed_seconds=timings["embed"], timings=timings,
    )
