"""Build (or refresh) an index from source files, in five steps:

1. :func:`plan_build`: find the files, hash them and compare with the live manifest (added,
   updated, unchanged, removed). Re-running on an unchanged corpus with the same parameters
   stops here: nothing to do.
2. :func:`read_sources`: read each new or changed file (:mod:`kb.ingest.read`); unchanged documents
   are taken from the live generation without re-reading them.
3. :func:`prepare_passages`: chunk the documents (:mod:`kb.ingest.chunk`), build the lexicon and the
   analyser (:mod:`kb.analyze`) and the texts each retriever sees; split every passage into its
   evidence sentences (:mod:`kb.sentences`), which answers quote.
4. :func:`embed_texts`: passage and sentence vectors, from the embedding cache where the text was
   embedded before.
5. :func:`write_generation`: write every file of a new generation (:mod:`kb.store` formats,
   BM25 postings, FAISS vectors) and publish it atomically.

:func:`build_index` runs the steps under the index's build lock.
"""
from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from .. import bm25, store, vectors
from ..analyze import Analyzer, AnalyzerConfig, build_lexicon
from ..embed import DEFAULT_EMBEDDER, Embedder, EmbeddingCache, check_spec, get_embedder, text_key
from ..errors import IndexCorruptError, IndexIncompatibleError, IngestError, KBError
from ..records import Chunk, Document, Failure, Sentence
from ..sentences import SENTENCE_VERSION, evidence_units
from ..text import dehyphenate
from . import guard
from .chunk import ChunkConfig, chunk_document
from .read import discover_files, file_sha256, make_doc_id, read_document, unexpected_reason

Progress = Callable[[str, int, int], None]  # (stage, done, total)
Reader = Callable[[Path, str, str], Document]  # (path, doc_id, sha256) -> Document


# Bump when reading, cleaning, metadata inference or chunking change in a way that alters
# documents or passages: a new version makes the next `kb ingest` re-read every file.
PIPELINE_VERSION = 4  # 3: sidecars validated, inferred titles one line (issue 12); 4: no names as headings (issue 24)


@dataclass(frozen=True)
class BuildConfig:
    """Every parameter that shapes the index; all of it is recorded in the manifest."""

    embedder: str = DEFAULT_EMBEDDER
    chunk: ChunkConfig = ChunkConfig()
    analyzer: AnalyzerConfig = AnalyzerConfig()
    bm25: bm25.BM25Params = bm25.BM25Params()
    # the passage header (title, year, section) helps BM25 match years, organisations and
    # section words; it dilutes the small embedding model's vectors (measured in docs/ablation.md),
    # so by default the embedder sees the passage alone
    bm25_header: bool = True
    dense_header: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "pipeline_version": PIPELINE_VERSION,
            "embedder": self.embedder,
            "chunk": self.chunk.to_json(),
            "analyzer": self.analyzer.to_json(),
            "bm25": asdict(self.bm25),
            "bm25_header": self.bm25_header,
            "dense_header": self.dense_header,
            "sentences": SENTENCE_VERSION,
        }


@dataclass(frozen=True)
class BuildReport:
    index: str
    rebuilt: bool
    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    failed: tuple[Failure, ...] = ()
    documents: int = 0
    passages: int = 0
    embedded: int = 0  # passages embedded (the others came from the cache)
    embedded_sentences: int = 0  # evidence sentences embedded
    embed_tokens_estimate: int = 0
    seconds: float = 0.0
    embed_seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    refused: str | None = None  # why nothing was published (kb.ingest.guard.publish_refusal)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["failed"] = [asdict(f) for f in self.failed]
        return d


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


def _noop(stage: str, done: int, total: int) -> None:
    pass


def _write_error(e: BaseException) -> str:
    import errno

    if isinstance(e, OSError) and e.errno is not None:
        what = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is exceeded",
                errno.EACCES: "permission denied", errno.EROFS: "the file system is read-only"}.get(e.errno)
        return f"{what or (e.strerror or str(e))} ({errno.errorcode.get(e.errno, e.errno)})"
    return f"{type(e).__name__}: {str(e)[:200]}"


def _printable(path: Path) -> str:
    """A file name as text, undecodable bytes shown as U+FFFD."""
    return str(path).encode("utf-8", "surrogateescape").decode("utf-8", "replace")


# -- 1. plan ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BuildPlan:
    """The files to index, their content hashes, and how they differ from the live index."""

    files: tuple[Path, ...]
    shas: dict[str, str]
    bad: tuple[Failure, ...]  # files that cannot even be hashed (unreadable, undecodable name)
    prev_gen: Path | None
    prev: dict[str, Any] | None  # the live manifest
    same_config: bool
    added: tuple[str, ...]
    updated: tuple[str, ...]
    unchanged: tuple[str, ...]
    removed: tuple[str, ...]

    @property
    def prev_sources(self) -> dict[str, dict[str, Any]]:
        return (self.prev or {}).get("sources", {})

    @property
    def same_pipeline(self) -> bool:
        return (self.prev or {}).get("config", {}).get("pipeline_version") == PIPELINE_VERSION

    def is_noop(self) -> bool:
        return self.same_config and not (self.added or self.updated or self.removed)


def plan_build(
    paths: list[Path], root: Path, config: BuildConfig, found: tuple[list[Path], list[Failure]] | None = None
) -> BuildPlan:
    """Scan ``paths`` (or take ``found``, the result of :func:`kb.ingest.read.discover_files`), hash
    every supported file and compare with the live generation of ``root``."""
    prev_gen, prev = _previous(root)
    prev_files: dict[str, dict[str, Any]] = (prev or {}).get("sources", {})
    files, skipped = found if found is not None else discover_files([Path(p) for p in paths])
    bad: list[Failure] = list(skipped)
    shas: dict[str, str] = {}
    for p in files:
        try:
            str(p).encode("utf-8")
        except UnicodeEncodeError:  # bytes that are not UTF-8 in the name
            bad.append(Failure(_printable(p), "file name is not valid UTF-8; rename the file"))
            continue
        try:
            shas[str(p)] = file_sha256(p)
        except OSError as e:  # unreadable (permissions) or vanished since the scan
            bad.append(Failure(str(p), f"cannot read: {e.strerror or e}"))
        except IngestError as e:  # not a regular file, too large, a sidecar that cannot be read
            bad.append(Failure(str(p), str(e)))
    unchanged = tuple(p for p, s in shas.items() if prev_files.get(p, {}).get("sha256") == s)
    return BuildPlan(
        files=tuple(p for p in files if str(p) in shas), shas=shas, bad=tuple(bad), prev_gen=prev_gen, prev=prev,
        same_config=prev is not None and prev.get("config") == config.to_json(),
        added=tuple(p for p in shas if p not in prev_files), unchanged=unchanged,
        updated=tuple(p for p in shas if p in prev_files and p not in unchanged),
        removed=tuple(p for p in prev_files if p not in shas),
    )


def _previous(root: Path) -> tuple[Path | None, dict[str, Any] | None]:
    """The live generation and manifest when they are readable; else (None, None)."""
    try:
        gen, manifest = store.open_generation(root, verify=True)
        return gen, manifest
    except (IndexCorruptError, IndexIncompatibleError, KBError):
        return None, None


def noop_report(plan: BuildPlan, root: Path, seconds: float, timings: dict[str, float]) -> BuildReport:
    """The report of a build that found nothing to do (finishing a prune a killed build left)."""
    if plan.prev_gen is not None and len(list(root.glob("gen-*"))) > store.KEEP_GENERATIONS:
        store.prune_generations(root, keep=plan.prev_gen.name)
    prev = plan.prev or {}
    failed = plan.bad + tuple(Failure(p, info["failure"]) for p, info in plan.prev_sources.items()
                              if info.get("failure"))
    return BuildReport(
        index=str(root), rebuilt=False, unchanged=plan.unchanged, failed=failed,
        documents=len(prev.get("documents", [])), passages=prev.get("counts", {}).get("passages", 0),
        seconds=seconds, timings=timings,
    )


# -- 2. read -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReadResult:
    docs: tuple[Document, ...]  # sorted by doc_id (the index's row order)
    sources: dict[str, dict[str, Any]]  # per path: sha256 and doc_id, or the failure
    failures: tuple[Failure, ...]


def read_sources(
    plan: BuildPlan, corpus_root: Path | None, reader: Reader = read_document, progress: Progress = _noop
) -> ReadResult:
    """Read every planned file (reusing unchanged documents of the live generation); one file's
    failure is recorded and the others go on. Identical contents under several names are indexed once."""
    old_docs: dict[str, Document] = {}
    if plan.prev_gen is not None and plan.same_pipeline:
        for d in store.load_documents(plan.prev_gen):
            for p in (d.path, *d.aliases):
                old_docs[p] = d
    docs_by_sha: dict[str, Document] = {}
    failures: list[Failure] = list(plan.bad)
    sources: dict[str, dict[str, Any]] = {}
    used_ids: set[str] = set()
    for i, path in enumerate(plan.files):
        p, sha = str(path), plan.shas[str(path)]
        progress("read", i, len(plan.files))
        if sha in docs_by_sha:  # the same content under another name: index once
            d = docs_by_sha[sha]
            docs_by_sha[sha] = replace(d, aliases=(*d.aliases, p))
            sources[p] = {"sha256": sha, "doc_id": d.doc_id}
            continue
        known_failure = plan.prev_sources.get(p, {}).get("failure")
        if plan.same_pipeline and p in plan.unchanged and known_failure:
            failures.append(Failure(p, known_failure))
            sources[p] = {"sha256": sha, "failure": known_failure}
            continue
        doc_id = make_doc_id(path, corpus_root)
        while doc_id in used_ids:
            doc_id += "-" + sha[:6]
        doc = _read_one(path, doc_id, sha, old_docs.get(p), reader)
        if isinstance(doc, Failure):
            failures.append(doc)
            sources[p] = {"sha256": sha, "failure": doc.reason}
            continue
        used_ids.add(doc_id)
        docs_by_sha[sha] = doc
        sources[p] = {"sha256": sha, "doc_id": doc_id}
    progress("read", len(plan.files), len(plan.files))
    docs = tuple(sorted(docs_by_sha.values(), key=lambda d: d.doc_id))
    return ReadResult(docs, sources, tuple(failures))


def _read_one(path: Path, doc_id: str, sha: str, old: Document | None, reader: Reader) -> Document | Failure:
    """The document of one file: the live generation's copy when unchanged, else read anew."""
    if old is not None and old.sha256 == sha and old.doc_id == doc_id:
        return replace(old, path=str(path), aliases=())
    try:
        return reader(path, doc_id, sha)
    except IngestError as e:
        return Failure(str(path), str(e))
    except Exception as e:  # a bug or an unforeseen input: report it, go on with the others
        return Failure(str(path), unexpected_reason(e))


# -- 3. passages -------------------------------------------------------------------------------


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
    chunks: list[Chunk] = []
    for d in docs:
        chunks.extend(chunk_document(d, config.chunk))
    by_id = {d.doc_id: d for d in docs}
    lexicon = build_lexicon(dehyphenate(d.text) for d in docs)
    analyzer = Analyzer(config.analyzer, lexicon)
    terms = [analyzer.passage_terms(retrieval_text(by_id[c.doc_id], c, config.bm25_header)) for c in chunks]
    texts = [retrieval_text(by_id[c.doc_id], c, config.dense_header) for c in chunks]
    sentences, stexts = evidence_units(by_id, chunks)
    return Passages(tuple(chunks), lexicon, terms, texts, tuple(sentences), tuple(stexts))


# -- 4. embed ----------------------------------------------------------------------------------


def embed_texts(
    texts: Sequence[str], embedder: Embedder, cache: EmbeddingCache, progress: Progress = _noop
) -> tuple[np.ndarray, tuple[int, ...]]:
    """Vectors of ``texts`` (row i for text i), embedding only texts the cache does not hold;
    returns the matrix and the positions of the texts that were embedded. The cache is saved with
    the new vectors added and nothing dropped: entries this build no longer uses are dropped only
    once it is published (:func:`prune_cache`), so a failed build never shrinks the cache (it is
    only a cache: a failed save leaves the old file)."""
    keys = [text_key(x) for x in texts]
    missing = sorted({k: i for i, k in enumerate(keys) if cache.get(k) is None}.values())
    done = 0

    def tick(n: int) -> None:
        nonlocal done
        done += n
        progress("embed", done, len(missing))

    progress("embed", 0, len(missing))
    if missing:
        new = embedder.embed_passages([texts[i] for i in missing], progress=tick)
        for i, v in zip(missing, new):
            cache.put(keys[i], v)
    cached: list[Any] = [cache.get(k) for k in keys]  # every key is in the cache by now
    mat = np.stack(cached).astype(np.float32) if keys else np.zeros((0, embedder.dim), np.float32)
    if missing:
        save_cache(cache)
    return mat, tuple(missing)


def save_cache(cache: EmbeddingCache, keep: set[str] | None = None) -> None:
    try:
        cache.save(keep=keep)
    except OSError:
        pass  # only a cache (written atomically, the old one stays); the index write reports a full disk


def prune_cache(cache: EmbeddingCache, texts: Sequence[str]) -> None:
    """After a publication: drop the cached vectors no passage or sentence of the live index uses."""
    keep = {text_key(x) for x in texts}
    if len(cache) > len(keep):
        save_cache(cache, keep)


# -- 5. write ----------------------------------------------------------------------------------


def write_generation(
    root: Path,
    docs: Sequence[Document],
    chunks: Sequence[Chunk],
    lexicon: dict[str, int],
    terms: Sequence[Sequence[str]],
    vecs: np.ndarray,
    bm25_params: bm25.BM25Params,
    manifest: dict[str, Any],
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
        raise KBError(f"could not write the index at {root}: {_write_error(e)}; "
                      "the previous index is unchanged") from None
    try:
        store.write_jsonl(staging / "documents.jsonl", (store.doc_to_json(d) for d in docs))
        store.write_jsonl(staging / "chunks.jsonl", (c.to_json() for c in chunks))
        doc_pos = {d.doc_id: i for i, d in enumerate(docs)}  # passage -> document row (kb.rowstore)
        chunk_doc = np.array([doc_pos[c.doc_id] for c in chunks], dtype=np.int32)
        store.atomic_write_bytes(staging / "chunk_doc.npy", store.npy_bytes(chunk_doc))
        store.atomic_write_bytes(staging / "lexicon.json", json.dumps(lexicon, ensure_ascii=False).encode("utf-8"))
        bm25.save(bm25.build(terms, bm25_params), staging / "bm25")
        vparams = vectors.choose_params(len(chunks), vecs.shape[1])
        vectors.save(vectors.build(vecs, vparams), [c.chunk_id for c in chunks], staging)
        counts = {"documents": len(docs), "passages": len(chunks)}
        if sentences is not None:
            store.write_sentences(staging, sentences[0], [c.chunk_id for c in chunks], sentences[1])
            counts["sentences"] = len(sentences[0])
        full = {
            "format_version": store.FORMAT_VERSION,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            **manifest,
            "vectors": asdict(vparams),
            "documents": store.manifest_documents(docs),
            "counts": counts,
        }
        return store.publish(root, staging, full)
    except BaseException as e:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(e, (OSError, RuntimeError)):  # RuntimeError: faiss could not write
            raise KBError(f"could not write the index at {root}: {_write_error(e)}; "
                          "the previous index is unchanged") from None
        raise


# -- the whole build ---------------------------------------------------------------------------


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
    if corpus_root is None and len(paths) == 1 and Path(paths[0]).is_dir():
        corpus_root = Path(paths[0])
    check_spec(config.embedder)
    found = discover_files([Path(p) for p in paths], follow_symlinks)
    with store.build_lock(root):
        store.clean_leftovers(root)
        plan = plan_build(paths, root, config, found)
        timings["scan"] = time.perf_counter() - t0
        if plan.is_noop():
            return noop_report(plan, root, time.perf_counter() - t0, timings)
        guard.check_removals(plan.removed, plan.prev_sources, [Path(p) for p in paths], root, replace)
        t = time.perf_counter()
        read = read_sources(plan, corpus_root, reader, progress)
        timings["read"] = time.perf_counter() - t
        refusal = guard.publish_refusal(len(read.docs), len((plan.prev or {}).get("documents", [])), root, replace)
        if refusal:
            return BuildReport(index=str(root), rebuilt=False, failed=read.failures, refused=refusal,
                               documents=len((plan.prev or {}).get("documents", [])),
                               passages=(plan.prev or {}).get("counts", {}).get("passages", 0),
                               seconds=time.perf_counter() - t0, timings=timings)
        t = time.perf_counter()
        passages = prepare_passages(read.docs, config)
        timings["chunk+analyze"] = time.perf_counter() - t
        t = time.perf_counter()
        embedder = get_embedder(config.embedder)
        cache = EmbeddingCache(root / "cache", embedder.model_id, embedder.dim)
        # passages and sentences in one pass, so the cache keeps both
        alltexts = [*passages.texts, *passages.sentence_texts]
        allvecs, embedded = embed_texts(alltexts, embedder, cache, progress)
        vecs, svecs = allvecs[: len(passages.texts)], allvecs[len(passages.texts) :]
        timings["embed"] = time.perf_counter() - t
        t = time.perf_counter()
        manifest = {
            "embedder": {"spec": config.embedder, "id": embedder.model_id, "dim": embedder.dim},
            "config": config.to_json(),
            "sources": read.sources,
            "build_seconds": round(time.perf_counter() - t0, 3),
        }
        write_generation(root, read.docs, passages.chunks, passages.lexicon, passages.terms, vecs,
                         config.bm25, manifest,
                         (passages.sentences, svecs))
        prune_cache(cache, alltexts)  # passages and sentences of the live index
        timings["write"] = time.perf_counter() - t
    indexed = {p for p, info in read.sources.items() if "doc_id" in info}  # a file that failed is not added
    return BuildReport(
        index=str(root), rebuilt=True, added=tuple(p for p in plan.added if p in indexed),
        updated=tuple(p for p in plan.updated if p in indexed), unchanged=plan.unchanged,
        removed=plan.removed, failed=read.failures, documents=len(read.docs), passages=len(passages.chunks),
        embedded=sum(i < len(passages.texts) for i in embedded),
        embedded_sentences=sum(i >= len(passages.texts) for i in embedded),
        embed_tokens_estimate=sum(len(alltexts[i]) for i in embedded) // 4,
        seconds=time.perf_counter() - t0, embed_seconds=timings["embed"], timings=timings,
    )
