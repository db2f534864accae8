"""Build (or refresh) an index from source files: the orchestration of ingest → chunk →
analyze → embed → BM25 + vectors → publish.

Re-running on an unchanged corpus with the same parameters does nothing (content hashes are
compared with the live manifest). Otherwise unchanged documents are taken from the live
generation without re-reading them, passages whose text was embedded before come from the
embedding cache, and a complete new generation is published atomically (see :mod:`kb.store`).
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from . import bm25, store, vectors
from .analyze import Analyzer, AnalyzerConfig, build_lexicon, dehyphenate
from .chunk import ChunkConfig, chunk_document
from .embed import DEFAULT_EMBEDDER, EmbeddingCache, check_spec, get_embedder, text_key
from .errors import IndexCorruptError, IndexIncompatibleError, IngestError, KBError
from .ingest import discover_files, file_sha256, make_doc_id, read_document, unexpected_reason
from .records import Chunk, DocMeta, Document, Failure

Progress = Callable[[str, int, int], None]  # (stage, done, total)


# Bump when reading, cleaning, metadata inference or chunking change in a way that alters
# documents or passages: a new version makes the next `kb ingest` re-read every file.
PIPELINE_VERSION = 3  # 3: sidecars validated, inferred titles one line (issue 12)


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
    embedded: int = 0
    embed_tokens_estimate: int = 0
    seconds: float = 0.0
    embed_seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)

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


# -- documents from the previous generation -------------------------------------------------


def doc_to_json(doc: Document) -> dict[str, Any]:
    return {
        "doc_id": doc.doc_id,
        "path": doc.path,
        "sha256": doc.sha256,
        "meta": asdict(doc.meta),
        "page_starts": list(doc.page_starts),
        "aliases": list(doc.aliases),
        "text": doc.text,
    }


def doc_from_json(d: dict[str, Any]) -> Document:
    return Document(
        doc_id=d["doc_id"],
        path=d["path"],
        sha256=d["sha256"],
        meta=DocMeta(**d["meta"]),
        text=d["text"],
        page_starts=tuple(d.get("page_starts", ())),
        aliases=tuple(d.get("aliases", ())),
    )


def load_documents(gen: Path) -> list[Document]:
    with open(gen / "documents.jsonl", encoding="utf-8") as f:
        return [doc_from_json(json.loads(line)) for line in f if line.strip()]


def load_chunks(gen: Path) -> list[Chunk]:
    with open(gen / "chunks.jsonl", encoding="utf-8") as f:
        return [Chunk(**json.loads(line)) for line in f if line.strip()]


def _write_jsonl(path: Path, rows) -> None:
    data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    store.atomic_write_bytes(path, data.encode("utf-8"))


def _previous(root: Path) -> tuple[Path | None, dict[str, Any] | None]:
    """The live generation and manifest when they are readable; else (None, None)."""
    try:
        gen, manifest = store.open_generation(root, verify=True)
        return gen, manifest
    except (IndexCorruptError, IndexIncompatibleError, KBError):
        return None, None


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


def build_index(
    paths: list[Path],
    root: Path,
    config: BuildConfig = BuildConfig(),
    progress: Progress = _noop,
    corpus_root: Path | None = None,
    reader: Callable[[Path, str, str], Document] = read_document,
    follow_symlinks: bool = False,
) -> BuildReport:
    """Index the supported files under ``paths`` into the index folder ``root``.

    The inputs are checked before the index folder is created or locked: a path that does not
    exist raises IngestError and leaves nothing behind. Symlinks that leave the given folders
    are skipped (and listed as failures) unless ``follow_symlinks``.
    """
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    root = Path(root)
    if corpus_root is None and len(paths) == 1 and Path(paths[0]).is_dir():
        corpus_root = Path(paths[0])
    check_spec(config.embedder)
    files, skipped = discover_files([Path(p) for p in paths], follow_symlinks)
    with store.build_lock(root):
        store.clean_leftovers(root)
        prev_gen, prev = _previous(root)
        prev_files: dict[str, dict[str, Any]] = (prev or {}).get("sources", {})

        bad_names = list(skipped)
        for p in list(files):
            try:
                str(p).encode("utf-8")
            except UnicodeEncodeError:  # bytes that are not UTF-8 in the name
                bad_names.append(Failure(_printable(p), "file name is not valid UTF-8; rename the file"))
                files.remove(p)
        shas: dict[str, str] = {}
        for p in list(files):
            try:
                shas[str(p)] = file_sha256(p)
            except OSError as e:  # unreadable (permissions) or vanished since the scan
                bad_names.append(Failure(str(p), f"cannot read: {e.strerror or e}"))
                files.remove(p)
            except IngestError as e:  # not a regular file, too large, unreadable sidecar
                bad_names.append(Failure(str(p), str(e)))
                files.remove(p)
        same_config = prev is not None and prev.get("config") == config.to_json()
        unchanged = tuple(p for p, s in shas.items() if prev_files.get(p, {}).get("sha256") == s)
        added = tuple(p for p in shas if p not in prev_files)
        updated = tuple(p for p in shas if p in prev_files and p not in unchanged)
        removed = tuple(p for p in prev_files if p not in shas)
        timings["scan"] = time.perf_counter() - t0

        if same_config and not added and not updated and not removed:
            if prev_gen is not None and len(list(root.glob("gen-*"))) > store.KEEP_GENERATIONS:
                store.prune_generations(root, keep=prev_gen.name)  # a build killed while pruning
            failed = tuple(bad_names) + tuple(
                Failure(p, info["failure"]) for p, info in prev_files.items() if info.get("failure")
            )
            return BuildReport(
                index=str(root), rebuilt=False, unchanged=unchanged, failed=failed,
                documents=len(prev.get("documents", [])), passages=prev.get("counts", {}).get("passages", 0),
                seconds=time.perf_counter() - t0, timings=timings,
            )

        # -- read documents (reuse unchanged ones from the live generation) ------------
        t = time.perf_counter()
        old_docs: dict[str, Document] = {}
        same_pipeline = (prev or {}).get("config", {}).get("pipeline_version") == PIPELINE_VERSION
        if prev_gen is not None and same_pipeline:
            for d in load_documents(prev_gen):
                for p in (d.path, *d.aliases):
                    old_docs[p] = d
        docs_by_sha: dict[str, Document] = {}
        failures: list[Failure] = list(bad_names)
        sources: dict[str, dict[str, Any]] = {}
        used_ids: set[str] = set()
        for i, path in enumerate(files):
            p, sha = str(path), shas[str(path)]
            progress("read", i, len(files))
            if sha in docs_by_sha:  # the same content under another name: index once
                d = docs_by_sha[sha]
                docs_by_sha[sha] = replace(d, aliases=(*d.aliases, p))
                sources[p] = {"sha256": sha, "doc_id": d.doc_id}
                continue
            if same_pipeline and p in unchanged and prev_files[p].get("failure"):
                failures.append(Failure(p, prev_files[p]["failure"]))
                sources[p] = {"sha256": sha, "failure": prev_files[p]["failure"]}
                continue
            doc_id = make_doc_id(path, corpus_root)
            while doc_id in used_ids:
                doc_id += "-" + sha[:6]
            old = old_docs.get(p)
            if old is not None and old.sha256 == sha and old.doc_id == doc_id:
                doc = replace(old, path=p, aliases=())
            else:
                try:
                    doc = reader(path, doc_id, sha)
                except IngestError as e:
                    failures.append(Failure(p, str(e)))
                    sources[p] = {"sha256": sha, "failure": str(e)}
                    continue
                except Exception as e:  # a bug or an unforeseen input: report it, go on with the others
                    reason = unexpected_reason(e)
                    failures.append(Failure(p, reason))
                    sources[p] = {"sha256": sha, "failure": reason}
                    continue
            used_ids.add(doc_id)
            docs_by_sha[sha] = doc
            sources[p] = {"sha256": sha, "doc_id": doc_id}
        progress("read", len(files), len(files))
        docs = sorted(docs_by_sha.values(), key=lambda d: d.doc_id)
        timings["read"] = time.perf_counter() - t

        # -- chunk and analyse ------------------------------------------------------------
        t = time.perf_counter()
        chunks: list[Chunk] = []
        for d in docs:
            chunks.extend(chunk_document(d, config.chunk))
        by_id = {d.doc_id: d for d in docs}
        lexicon = build_lexicon(dehyphenate(d.text) for d in docs)
        analyzer = Analyzer(config.analyzer, lexicon)
        terms = [analyzer.passage_terms(retrieval_text(by_id[c.doc_id], c, config.bm25_header)) for c in chunks]
        texts = [retrieval_text(by_id[c.doc_id], c, config.dense_header) for c in chunks]
        timings["chunk+analyze"] = time.perf_counter() - t

        # -- embed --------------------------------------------------------------------------
        t = time.perf_counter()
        embedder = get_embedder(config.embedder)
        cache = EmbeddingCache(root / "cache", embedder.model_id, embedder.dim)
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
        mat = (
            np.stack([cache.get(k) for k in keys]).astype(np.float32)
            if keys
            else np.zeros((0, embedder.dim), np.float32)
        )
        try:
            cache.save(keep=set(keys))
        except OSError:
            pass  # only a cache (written atomically, the old one stays); the index write reports a full disk
        embed_seconds = time.perf_counter() - t
        timings["embed"] = embed_seconds

        # -- write the new generation ---------------------------------------------------------
        t = time.perf_counter()
        try:
            staging = store.new_staging(root)
        except OSError as e:
            raise KBError(f"could not write the index at {root}: {_write_error(e)}; "
                          "the previous index is unchanged") from None
        try:
            _write_jsonl(staging / "documents.jsonl", (doc_to_json(d) for d in docs))
            _write_jsonl(staging / "chunks.jsonl", (c.to_json() for c in chunks))
            doc_pos = {d.doc_id: i for i, d in enumerate(docs)}  # passage -> document row (kb.rowstore)
            store.atomic_write_bytes(
                staging / "chunk_doc.npy", store.npy_bytes(np.array([doc_pos[c.doc_id] for c in chunks], dtype=np.int32))
            )
            store.atomic_write_bytes(staging / "lexicon.json", json.dumps(lexicon, ensure_ascii=False).encode("utf-8"))
            bm25.save(bm25.build(terms, config.bm25), staging / "bm25")
            vparams = vectors.choose_params(len(chunks), embedder.dim)
            vectors.save(vectors.build(mat, vparams), [c.chunk_id for c in chunks], staging)
            manifest = {
                "format_version": store.FORMAT_VERSION,
                "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "embedder": {"spec": config.embedder, "id": embedder.model_id, "dim": embedder.dim},
                "config": config.to_json(),
                "vectors": asdict(vparams),
                "documents": [
                    {"doc_id": d.doc_id, "path": d.path, "aliases": list(d.aliases), "sha256": d.sha256, **asdict(d.meta)}
                    for d in docs
                ],
                "sources": sources,
                "counts": {"documents": len(docs), "passages": len(chunks)},
                "build_seconds": round(time.perf_counter() - t0, 3),
            }
            store.publish(root, staging, manifest)
        except BaseException as e:
            import shutil

            shutil.rmtree(staging, ignore_errors=True)
            if isinstance(e, (OSError, RuntimeError)):  # RuntimeError: faiss could not write
                raise KBError(f"could not write the index at {root}: {_write_error(e)}; "
                              "the previous index is unchanged") from None
            raise
        timings["write"] = time.perf_counter() - t

    indexed = {p for p, info in sources.items() if "doc_id" in info}  # a file that failed is not added
    added = tuple(p for p in added if p in indexed)
    updated = tuple(p for p in updated if p in indexed)
    return BuildReport(
        index=str(root), rebuilt=True, added=added, updated=updated, unchanged=unchanged, removed=removed,
        failed=tuple(failures), documents=len(docs), passages=len(chunks), embedded=len(missing),
        embed_tokens_estimate=sum(len(texts[i]) for i in missing) // 4,
        seconds=time.perf_counter() - t0, embed_seconds=embed_seconds, timings=timings,
    )
