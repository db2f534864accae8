"""``kb ingest --index milvus://…``: incremental, resumable ingest into a Milvus collection.

The same steps as a folder build (scan + hashes, read, chunk, analyse, embed with the cache),
then rows are written in batches instead of a generation:

1. **Plan**: every file's SHA-256 against the document rows stored in ``NAME__docs``. A document
   whose content, path and build configuration are unchanged is skipped without being read.
2. **Lexicon and statistics first**: the lexicon (corpus vocabulary for conflation and
   compounds) is recomputed from the stored texts plus the new ones, and the final passage
   count and mean length (``avgdl``) are predicted from the stored per-document sums plus a
   first analysis pass over the new documents, so new passages get their final BM25 weights.
3. **Write, one document at a time, in batches**: its passages are upserted (vectors, BM25
   sparse vector, record) with their evidence sentences (split and embedded exactly as the folder
   build does, :mod:`kb.sentences`, through the same embedding cache), then passages and
   sentences of any older version are deleted, then its text is
   written and then its ``NAME__docs`` row: a document row means "this version is completely
   stored". The old version's text goes last. A new document (after a completed ingest) is
   inserted, not upserted. Removed documents are deleted: passages, sentences, text, row last.
4. **Commit**: document frequencies, ``N`` and the length sum, the lexicon and the manifest.

Crash safety: the ingest marks itself ``writing`` in ``NAME__meta`` first and ``done`` last.
A re-run finds complete documents by their rows and redoes the others (upserts by passage id,
so nothing is duplicated); after an interrupted run it recounts the statistics from the stored
passages and deletes passages, sentences and text no document row claims. A document row
records the layout and build configuration it was written with, so a document written by an
older run (another configuration, or a collection of layout 1 without sentences) is rewritten
even when the run that started rewriting it was interrupted. The result equals a clean build.

A reader during a replace sees, for that one document, for a moment the new passages next to
old passages with higher ordinals (between the upsert and the delete), and until the commit
new terms carry no weight (their df is still 0) and ``N`` is the old one. Every other document
is untouched; no search fails.

Re-weighting: the document side of BM25 depends on ``avgdl`` (kb.sparse). Each passage stores
the ``avgdl`` it was weighted with; when the collection's mean length has drifted more than
``reweight_tolerance`` (default 2 %) from it, the commit step re-analyses those passages with
the current lexicon and rewrites their sparse vectors.
"""
from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from dataclasses import replace as replace_report
from pathlib import Path
from typing import Any

import numpy as np

from .. import sparse, store
from ..analyze import Analyzer
from ..embed import EmbeddingCache, get_embedder
from ..ingest import guard
from ..ingest.config import BuildConfig
from ..ingest.embedding import embed_texts, save_cache
from ..ingest.plan import Planned, scan
from ..ingest.prepare import corpus_lexicon, dense_texts, document_passages, read_planned, retrieval_text
from ..ingest.report import BuildReport
from ..manifest import EmbedderInfo, Manifest
from ..records import Chunk, DocMeta, Document, Failure
from ..sentences import evidence_units
from .index import check_format
from .store import (
    DUMMY,
    LAYOUT,
    SENTENCES,
    Connection,
    batched,
    chunk_from_record,
    chunk_record,
    create_collections,
    create_sentences,
    dense_index,
    exists,
    load,
    meta_get,
    meta_put,
    parse_location,
    query_all,
    quote,
    sentence_rows,
    text_pieces,
    write_lexicon,
)
from .terms import TermTable, recount

Progress = Callable[[str, int, int], None]
BATCH = 256


def _noop(stage: str, done: int, total: int) -> None:
    pass


def read_todo(todo: Sequence[Planned], progress: Progress) -> tuple[list[Document], list[Failure]]:
    """Step 2: read the planned documents that must be (re)written."""
    docs, failures = [], []
    for i, p in enumerate(todo):
        progress("read", i, len(todo))
        doc = read_planned(p)
        if isinstance(doc, Failure):
            failures.extend(Failure(path, doc.reason) for path in p.paths)
        else:
            docs.append(doc)
    progress("read", len(todo), len(todo))
    return docs, failures


def doc_value(doc: Document, n: int, total_len: int, pieces: int, written_with: str) -> dict[str, Any]:
    return {"path": doc.path, "aliases": list(doc.aliases), "sha256": doc.sha256, "meta": asdict(doc.meta),
            "page_starts": list(doc.page_starts), "n": n, "total_len": total_len, "pieces": pieces,
            "written_with": written_with}


def written_with(config: BuildConfig) -> str:
    """What a document row records of how it was written: the layout and the build configuration."""
    import hashlib
    import json

    return hashlib.sha256(json.dumps([LAYOUT, config.to_json()], sort_keys=True).encode("utf-8")).hexdigest()[:16]


def stored_docs(conn: Connection) -> dict[str, dict[str, Any]]:
    import json

    return {r["key"]: dict(json.loads(r["value"]), version=r["version"])
            for r in query_all(conn, conn.loc.side("docs"), "", ["key", "version", "value"])}


def stored_text(conn: Connection, doc_id: str, version: str) -> str:
    expr = f"doc_id == {quote(doc_id)} and version == {quote(version)}"
    return "".join(r["value"] for r in sorted(query_all(conn, conn.loc.side("text"), expr, ["key", "value"]),
                                              key=lambda r: r["key"]))


def passage_count(conn: Connection, collection: str | None = None) -> int:
    """Rows in the passage collection (or in ``collection``)."""
    rows = conn.query(collection or conn.loc.collection, filter="", output_fields=["count(*)"], consistency_level="Strong")
    return int(rows[0]["count(*)"]) if rows else 0


def header_doc(doc_id: str, value: dict[str, Any]) -> Document:
    """A document without its text: enough for the retriever header (title, year)."""
    return Document(doc_id, value["path"], value["sha256"], DocMeta(**value["meta"]), "")


def passage_rows(
    doc: Document, chunks: Sequence[Chunk], terms: Sequence[list[str]], vectors: np.ndarray,
    table: TermTable, avgdl: float, config: BuildConfig, version: str,
) -> list[dict[str, Any]]:
    m = doc.meta
    rows = []
    for c, ts, v in zip(chunks, terms, vectors):
        rows.append({
            "chunk_id": c.chunk_id, "doc_id": c.doc_id, "version": version, "ordinal": c.ordinal,
            "year": m.year if m.year is not None else -1, "organisation": m.organisation or "",
            "doc_type": m.doc_type or "", "record": chunk_record(c), "dlen": len(ts), "avgdl": avgdl,
            "dense": v.astype(np.float32).tolist(), "sparse": sparse.doc_vector(ts, table.ids, avgdl, config.bm25),
        })
    return rows


class Writer:
    """Writes documents into the collection for one ingest run (``version`` = its build id)."""

    def __init__(self, conn: Connection, config: BuildConfig, analyzer: Analyzer, cache_dir: Path | None,
                 version: str, recount: bool, progress: Progress, embedder=None) -> None:
        self.conn = conn
        self.config = config
        self.analyzer = analyzer
        self.embedder = embedder if embedder is not None else get_embedder(config.embedder)
        self.cache = EmbeddingCache(cache_dir, self.embedder.model_id, self.embedder.dim) if cache_dir else None
        self.version = version
        self.recount = recount  # statistics will be recounted: no df bookkeeping
        self.progress = progress
        self.table = TermTable(conn)
        self.embedded = 0
        self.embedded_sentences = 0
        self.embed_seconds = 0.0
        self.written = 0
        self.total = 0  # passages this run writes (for progress)

    @property
    def model(self) -> EmbedderInfo:
        return EmbedderInfo(self.config.embedder, self.embedder.model_id, self.embedder.dim)

    def analyse(self, doc: Document, chunks: Sequence[Chunk] | None = None) -> tuple[list[Chunk], list[list[str]]]:
        """The document's passages (chunked unless given) and their BM25 terms."""
        return document_passages(doc, self.analyzer, self.config, chunks)

    def embed(self, doc: Document, chunks: Sequence[Chunk]) -> np.ndarray:
        n, vecs = self.embed_texts(dense_texts(doc, chunks, self.config))
        self.embedded += n
        return vecs

    def embed_texts(self, texts: Sequence[str]) -> tuple[int, np.ndarray]:
        """(how many were embedded, the vectors of ``texts``) through the embedding cache."""
        t = time.perf_counter()
        vecs, missing = embed_texts(texts, self.embedder, self.cache)
        self.embed_seconds += time.perf_counter() - t
        return len(missing), vecs

    def write_sentences(self, doc: Document, chunks: Sequence[Chunk], fresh: bool) -> None:
        """The evidence sentences of ``chunks``, split and embedded as the folder build does them."""
        sents, texts = evidence_units({doc.doc_id: doc}, chunks)
        n, vecs = self.embed_texts(texts)
        self.embedded_sentences += n
        rows = sentence_rows(sents, vecs, doc.doc_id, self.version)
        write = self.conn.insert if fresh else self.conn.upsert
        for batch in batched(rows, 1000):
            write(self.conn.loc.side(SENTENCES), list(batch))

    def forget_old(self, doc_id: str) -> None:
        """Count the stored passages of ``doc_id`` out of the df (before they are replaced)."""
        if self.recount:
            return
        for r in query_all(self.conn, self.conn.loc.collection, f"doc_id == {quote(doc_id)}", ["chunk_id", "sparse"]):
            self.table.count((k for k in r["sparse"] if int(k) != sparse.EMPTY), -1)

    def write(self, doc: Document, avgdl: float, chunks: Sequence[Chunk] | None = None,
              vectors: np.ndarray | None = None, fresh: bool = False) -> int:
        """Store one document completely (its passages and their vectors may be given, as for a
        synthetic or copied corpus); returns its passage count. ``fresh``: the collection surely
        holds no passage of it (a new document after a completed ingest), so rows are inserted,
        not upserted, and nothing old is looked for."""
        chunks, terms = self.analyse(doc, chunks)
        if not fresh:
            self.forget_old(doc.doc_id)
        for a in range(0, len(chunks), BATCH):
            cs, ts = chunks[a : a + BATCH], terms[a : a + BATCH]
            vecs = self.embed(doc, cs) if vectors is None else vectors[a : a + BATCH]
            self.table.lookup({t for x in ts for t in x})
            write = self.conn.insert if fresh else self.conn.upsert
            write(self.conn.loc.collection, passage_rows(doc, cs, ts, vecs, self.table, avgdl, self.config, self.version))
            self.write_sentences(doc, cs, fresh)
            if not self.recount:
                for x in ts:
                    self.table.count((self.table.ids[t] for t in set(x)), +1)
            self.written += len(cs)
            self.progress("write", self.written, self.total)
        newer = f"doc_id == {quote(doc.doc_id)} and version != {quote(self.version)}"
        if not fresh:
            self.conn.delete(self.conn.loc.collection, filter=newer)
            self.conn.delete(self.conn.loc.side(SENTENCES), filter=newer)
        pieces = text_pieces(doc.text)
        for batch in batched(list(enumerate(pieces)), 32):
            self.conn.upsert(self.conn.loc.side("text"), [
                {"key": f"{doc.doc_id}#{self.version}#{i:06d}", "doc_id": doc.doc_id, "version": self.version,
                 "value": p, "v": DUMMY} for i, p in batch])
        import json

        value = doc_value(doc, len(chunks), sum(len(t) for t in terms), len(pieces), written_with(self.config))
        self.conn.upsert(self.conn.loc.side("docs"), [{"key": doc.doc_id, "doc_id": doc.doc_id, "version": self.version,
                                                      "value": json.dumps(value, ensure_ascii=False), "v": DUMMY}])
        if not fresh:  # after the row names the new version: a reader always finds the text it names
            self.conn.delete(self.conn.loc.side("text"), filter=newer)
        return len(chunks)

    def remove(self, doc_id: str) -> None:
        """Delete a document: passages, sentences, text, then its row."""
        self.forget_old(doc_id)
        expr = f"doc_id == {quote(doc_id)}"
        self.conn.delete(self.conn.loc.collection, filter=expr)
        self.conn.delete(self.conn.loc.side(SENTENCES), filter=expr)
        self.conn.delete(self.conn.loc.side("text"), filter=expr)
        self.conn.delete(self.conn.loc.side("docs"), ids=[doc_id])

    def save_cache(self) -> None:
        save_cache(self.cache)


def reweight(w: Writer, docs: dict[str, dict[str, Any]], stats: sparse.CorpusStats, tolerance: float) -> tuple[int, sparse.CorpusStats]:
    """Rewrite the BM25 vectors of passages weighted with an ``avgdl`` more than ``tolerance``
    away from the current one (re-analysed with the current lexicon). Returns (rewritten, stats)."""
    avgdl = stats.avgdl
    lo, hi = avgdl * (1 - tolerance), avgdl * (1 + tolerance)
    fields = ["chunk_id", "doc_id", "version", "ordinal", "year", "organisation", "doc_type", "record", "dlen",
              "avgdl", "dense", "sparse"]
    ids = [r["chunk_id"] for r in query_all(w.conn, w.conn.loc.collection, f"avgdl < {lo!r} or avgdl > {hi!r}", ["chunk_id"])]
    total = stats.total_len
    for id_batch in batched(ids, BATCH):
        batch = w.conn.get(w.conn.loc.collection, ids=list(id_batch), output_fields=fields)
        terms = []
        for r in batch:
            c = chunk_from_record(r["record"])
            terms.append(w.analyzer.passage_terms(retrieval_text(header_doc(c.doc_id, docs[c.doc_id]), c, w.config.bm25_header)))
        w.table.lookup({t for x in terms for t in x})
        out = []
        for r, ts in zip(batch, terms):
            w.table.count((k for k in r["sparse"] if int(k) != sparse.EMPTY), -1)
            w.table.count({w.table.ids[t] for t in ts}, +1)
            total += len(ts) - int(r["dlen"])
            out.append(dict(r, dlen=len(ts), avgdl=avgdl, sparse=sparse.doc_vector(ts, w.table.ids, avgdl, w.config.bm25)))
        w.conn.upsert(w.conn.loc.collection, out)
    w.table.commit()
    return len(ids), sparse.CorpusStats(stats.n_docs, total)


def open_for_ingest(conn: Connection, model_id: str) -> Manifest | None:
    """The stored manifest (None when the collection does not exist yet or its first ingest died
    before writing one); refuses a collection of another format version or embedder with the
    folder index's messages."""
    if not exists(conn):
        return None
    load(conn)
    data = meta_get(conn, "manifest")
    if data is None:
        return None
    prev = check_format(data, str(conn.loc))
    store.check_embedder(prev, model_id, str(conn.loc))
    return prev


def create_for(conn: Connection, dim: int, passages: int) -> None:
    """Create the collections for an expected number of passages (which picks the dense index)."""
    create_collections(conn, dim, dense_index(passages))
    load(conn)
    meta_put(conn, {"dense_index": dense_index(passages)})


@dataclass(frozen=True)
class MilvusPlan:
    """Step 1 against the collection: the planned documents (:func:`kb.ingest.plan.scan`) compared
    with the stored document rows."""

    planned: tuple[Planned, ...]  # sorted by doc_id
    failures: tuple[Failure, ...]
    prev: Manifest | None
    existed: bool
    state: dict[str, Any]  # the ingest state of the last run (writing / done)
    stored: dict[str, dict[str, Any]]  # doc_id -> its stored row
    unchanged: tuple[Planned, ...]
    todo: tuple[Planned, ...]
    removed: tuple[str, ...]

    def is_noop(self, config: BuildConfig) -> bool:
        return not self.todo and not self.removed and self.same(config) and self.state.get("state") == "done"

    def same(self, config: BuildConfig) -> bool:
        return self.prev is not None and self.prev.config == config.to_json() and self.prev.layout == LAYOUT


def plan_milvus(conn: Connection, paths: Sequence[Path], config: BuildConfig, model_id: str,
                corpus_root: Path | None, follow_symlinks: bool) -> MilvusPlan:
    found = scan(paths, corpus_root, follow_symlinks)
    planned = tuple(sorted(found.documents, key=lambda d: d.doc_id))
    prev = open_for_ingest(conn, model_id)
    existed = exists(conn)
    state = (meta_get(conn, "ingest") or {}) if existed else {}
    stored = stored_docs(conn) if existed else {}
    same = prev is not None and prev.config == config.to_json() and prev.layout == LAYOUT
    ww = written_with(config)
    unchanged = tuple(p for p in planned if same and stored.get(p.doc_id, {}).get("sha256") == p.sha256
                      and stored[p.doc_id]["path"] == p.path and stored[p.doc_id].get("written_with") == ww)
    keep = {p.doc_id for p in unchanged}
    return MilvusPlan(planned, found.bad, prev, existed, state, stored, unchanged,
                      todo=tuple(p for p in planned if p.doc_id not in keep),
                      removed=tuple(sorted(set(stored) - {p.doc_id for p in planned})))


def ingest_milvus(
    paths: Sequence[Path], location: str, config: BuildConfig = BuildConfig(), progress: Progress = _noop,
    corpus_root: Path | None = None, cache_dir: Path | None = None, reweight_tolerance: float = 0.02,
    follow_symlinks: bool = False, replace: bool = False,
) -> BuildReport:
    """Index the files under ``paths`` into ``milvus://HOST:PORT/COLLECTION`` (incremental). The
    folder build's guard applies: no removal of documents outside ``paths`` and no emptying of
    the collection unless ``replace``."""
    t0 = time.perf_counter()
    sparse.check_params(config.bm25)
    conn = Connection(parse_location(location))
    embedder = get_embedder(config.embedder)
    plan = plan_milvus(conn, paths, config, embedder.model_id, corpus_root, follow_symlinks)
    stored, failures = plan.stored, list(plan.failures)
    if plan.is_noop(config):
        return _report(location, False, plan, [], [], failures, t0)
    guard.check_removals([stored[i]["path"] for i in plan.removed],
                         {stored[i]["path"]: {"doc_id": i} for i in plan.removed},
                         [Path(p) for p in paths], location, replace)  # type: ignore[arg-type]
    version = uuid.uuid4().hex[:16]
    # not marked done but holding passages: the last run was interrupted (or lost writes in a crash)
    interrupted = plan.existed and plan.state.get("state") != "done" and passage_count(conn) > 0
    docs, bad = read_todo(plan.todo, progress)
    failures += bad
    refusal = guard.publish_refusal(len(docs) + len(plan.unchanged), len(stored), location, replace)  # type: ignore[arg-type]
    if refusal:
        return replace_report(_report(location, False, plan, [], [], failures, t0), refused=refusal,
                              documents=len(stored), passages=sum(d["n"] for d in stored.values()))
    read_ids = {d.doc_id for d in docs}
    removed = [*plan.removed, *(p.doc_id for p in plan.todo if p.doc_id in stored and p.doc_id not in read_ids)]
    lexicon = corpus_lexicon([stored_text(conn, p.doc_id, stored[p.doc_id]["version"]) for p in plan.unchanged])
    for d in docs:
        lexicon.update({w: lexicon.get(w, 0) + n for w, n in corpus_lexicon([d.text]).items()})
    w = Writer(conn, config, Analyzer(config.analyzer, lexicon), cache_dir, version, interrupted, progress, embedder)
    final = predict_stats(w, docs, [stored[p.doc_id] for p in plan.unchanged])
    manifest = open_collection(conn, plan, config, w.model, final.n_docs, version)
    for d in docs:  # a document never stored, after a completed ingest, is inserted
        w.write(d, final.avgdl, fresh=not interrupted and d.doc_id not in stored)
    for doc_id in removed:
        w.remove(doc_id)
    w.save_cache()
    stats = commit(w, conn, final, lexicon, reweight_tolerance)
    done = replace_report(manifest, created=time.strftime("%Y-%m-%dT%H:%M:%S%z"), build=version)
    meta_put(conn, {"manifest": done.to_json(), "ingest": {"state": "done", "build": version, "stats": asdict(stats)}})
    conn.flush(conn.loc.collection)
    return replace_report(_report(location, True, plan, docs, removed, failures, t0, w, passages=stats.n_docs),
                          embedded_sentences=w.embedded_sentences)


def predict_stats(w: Writer, docs: Sequence[Document], kept: Sequence[dict[str, Any]]) -> sparse.CorpusStats:
    """The collection's passage count and length sum once ``docs`` are written next to the kept
    document rows (a first analysis pass, so new passages get their final BM25 weights)."""
    sizes = [(len(ts), sum(map(len, ts))) for ts in (w.analyse(d)[1] for d in docs)]
    w.total = sum(n for n, _ in sizes)
    return sparse.CorpusStats(sum(r["n"] for r in kept) + w.total, sum(r["total_len"] for r in kept) + sum(t for _, t in sizes))


def open_collection(conn: Connection, plan: MilvusPlan, config: BuildConfig, model: EmbedderInfo,
                    passages: int, version: str) -> Manifest:
    """Create the collections (or the sentences of a collection of layout 1), mark the ingest
    ``writing`` and store the manifest; returns it."""
    if not plan.existed:
        create_for(conn, model.dim, passages)
    else:  # a collection of layout 1 gets its sentences
        create_sentences(conn, model.dim)
        load(conn)
    meta_put(conn, {"ingest": {"state": "writing", "build": version}})
    manifest = manifest_of(plan.prev, config, model, meta_get(conn, "dense_index"), version)
    meta_put(conn, {"manifest": manifest.to_json()})
    return manifest


def manifest_of(prev: Manifest | None, config: BuildConfig, model: EmbedderInfo, dense: dict[str, Any],
                version: str) -> Manifest:
    """The collection's manifest: the folder manifest's keys that describe the whole index."""
    now = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    return Manifest(
        format_version=store.FORMAT_VERSION, layout=LAYOUT,
        created=prev.created if prev is not None and prev.created is not None else now,
        embedder=model, config=config.to_json(), dense_index=dense,
        build=prev.build if prev is not None and prev.build is not None else version,
    )


def commit(w: Writer, conn: Connection, final: sparse.CorpusStats, lexicon: dict[str, int], tolerance: float) -> sparse.CorpusStats:
    """Statistics (counted along, or recounted after an interruption), lexicon, re-weighting."""
    docs = stored_docs(conn)
    if w.recount:
        stats = recount(conn, docs)
    else:
        w.table.commit()
        stats = final
    sentences = passage_count(conn, conn.loc.side(SENTENCES))
    meta_put(conn, {"stats": {"n": stats.n_docs, "total_len": stats.total_len, "sentences": sentences}})
    write_lexicon(conn, lexicon)
    n, stats = reweight(w, docs, stats, tolerance)
    if n:
        meta_put(conn, {"stats": {"n": stats.n_docs, "total_len": stats.total_len, "sentences": sentences}})
    return stats


def _report(location: str, rebuilt: bool, plan: MilvusPlan, docs: Sequence[Document], removed: Sequence[str],
            failures: Sequence[Failure], t0: float, w: Writer | None = None, passages: int | None = None) -> BuildReport:
    stored = plan.stored
    kept = {p.doc_id for p in plan.unchanged} | {d.doc_id for d in docs}
    if passages is None:
        passages = sum(stored[i]["n"] for i in kept)
    return BuildReport(
        index=location, rebuilt=rebuilt,
        added=tuple(d.path for d in docs if d.doc_id not in stored),
        updated=tuple(d.path for d in docs if d.doc_id in stored),
        unchanged=tuple(p.path for p in plan.unchanged),
        removed=tuple(stored[i]["path"] for i in removed if i in stored),
        failed=tuple(failures), documents=len(kept), passages=passages,
        embedded=w.embedded if w is not None else 0,
        seconds=time.perf_counter() - t0, embed_seconds=w.embed_seconds if w is not None else 0.0,
    )
