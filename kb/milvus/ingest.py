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
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from dataclasses import replace as replace_report
from pathlib import Path
from typing import Any

import numpy as np

from .. import sparse, store
from ..analyze import Analyzer, build_lexicon
from ..embed import EmbeddingCache, get_embedder, text_key
from ..errors import IngestError
from ..ingest import guard
from ..ingest.build import BuildConfig, BuildReport, retrieval_text
from ..ingest.chunk import chunk_document
from ..ingest.read import discover_files, file_sha256, make_doc_id, read_document, unexpected_reason
from ..records import Chunk, DocMeta, Document, Failure
from ..sentences import evidence_units
from ..text import dehyphenate
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

Progress = Callable[[str, int, int], None]
BATCH = 256


@dataclass(frozen=True)
class Planned:
    """A document of the corpus as planned: id, first path, content hash, other paths."""

    doc_id: str
    path: str
    sha256: str
    aliases: tuple[str, ...] = ()


def _noop(stage: str, done: int, total: int) -> None:
    pass


def scan(paths: Sequence[Path], corpus_root: Path | None,
         follow_symlinks: bool = False) -> tuple[list[Planned], list[Failure]]:
    """Supported files with their hashes, one :class:`Planned` per distinct content (the folder
    build's ids: slug of the path relative to the corpus root, a hash suffix on a clash)."""
    files, skipped = discover_files([Path(x) for x in paths], follow_symlinks)
    failures: list[Failure] = list(skipped)
    by_sha: dict[str, Planned] = {}
    used: set[str] = set()
    for p in files:
        try:
            str(p).encode("utf-8")
            sha = file_sha256(p)
        except UnicodeEncodeError:
            failures.append(Failure(str(p).encode("utf-8", "surrogateescape").decode("utf-8", "replace"),
                                    "file name is not valid UTF-8; rename the file"))
            continue
        except OSError as e:
            failures.append(Failure(str(p), f"cannot read: {e.strerror or e}"))
            continue
        if sha in by_sha:
            d = by_sha[sha]
            by_sha[sha] = Planned(d.doc_id, d.path, sha, (*d.aliases, str(p)))
            continue
        doc_id = make_doc_id(p, corpus_root)
        while doc_id in used:
            doc_id += "-" + sha[:6]
        used.add(doc_id)
        by_sha[sha] = Planned(doc_id, str(p), sha)
    return sorted(by_sha.values(), key=lambda d: d.doc_id), failures


def read_planned(todo: Sequence[Planned], progress: Progress) -> tuple[list[Document], list[Failure]]:
    docs, failures = [], []
    for i, p in enumerate(todo):
        progress("read", i, len(todo))
        try:
            d = read_document(Path(p.path), p.doc_id, p.sha256)
        except IngestError as e:
            failures.append(Failure(p.path, str(e)))
            continue
        except Exception as e:  # a bug or an unforeseen input: report it, go on with the others
            failures.append(Failure(p.path, unexpected_reason(e)))
            continue
        docs.append(Document(d.doc_id, d.path, d.sha256, d.meta, d.text, d.page_starts, p.aliases))
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
    rows = conn.query(collection or conn.loc.collection, filter="", output_fields=["count(*)"],
                      consistency_level="Strong")
    return int(rows[0]["count(*)"]) if rows else 0


def header_doc(doc_id: str, value: dict[str, Any]) -> Document:
    """A document without its text: enough for the retriever header (title, year)."""
    return Document(doc_id, value["path"], value["sha256"], DocMeta(**value["meta"]), "")


class TermTable:
    """The BM25 vocabulary during an ingest: sparse ids (new terms reserved before use) and the
    df changes to commit."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.ids: dict[str, int] = {}
        self.delta: Counter[int] = Counter()

    def lookup(self, terms: set[str]) -> None:
        """Make ``self.ids`` know every term: stored ids are read, new ones reserved then stored."""
        unknown = [t for t in terms if t not in self.ids]
        for batch in batched(unknown, 1000):
            for r in self.conn.get(self.conn.loc.side("terms"), ids=list(batch), output_fields=["term_id"]):
                self.ids[r["key"]] = int(r["term_id"])
        new = [t for t in unknown if t not in self.ids]
        if not new:
            return
        start = int((meta_get(self.conn, "vocab") or {"next": 0})["next"])
        fresh = sparse.assign_ids(new, {}, start)
        meta_put(self.conn, {"vocab": {"next": start + len(fresh)}})  # reserve first: a crash leaves a gap
        for batch in batched(list(fresh.items()), 1000):
            self.conn.upsert(self.conn.loc.side("terms"),
                             [{"key": t, "term_id": i, "df": 0, "v": DUMMY} for t, i in batch])
        self.ids.update(fresh)

    def count(self, keys, sign: int) -> None:
        self.delta.update({int(k): sign for k in keys})

    def commit(self) -> None:
        """Add the df changes to the stored rows."""
        changed = {i: d for i, d in self.delta.items() if d}
        names = {i: t for t, i in self.ids.items() if i in changed}
        missing = [i for i in changed if i not in names]
        for batch in batched(missing, 1000):
            expr = f"term_id in [{', '.join(str(i) for i in batch)}]"
            for r in self.conn.query(self.conn.loc.side("terms"), filter=expr, output_fields=["key", "term_id"]):
                names[int(r["term_id"])] = r["key"]
        for batch in batched(sorted(names.items()), 1000):
            rows = self.conn.get(self.conn.loc.side("terms"), ids=[t for _, t in batch],
                                 output_fields=["term_id", "df"])
            self.conn.upsert(self.conn.loc.side("terms"), [
                {"key": r["key"], "term_id": int(r["term_id"]), "df": max(0, int(r["df"]) + changed[int(r["term_id"])]),
                 "v": DUMMY} for r in rows])
        self.delta.clear()


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

    def analyse(self, doc: Document, chunks: Sequence[Chunk] | None = None) -> tuple[list[Chunk], list[list[str]]]:
        """The document's passages (chunked unless given) and their BM25 terms."""
        chunks = list(chunk_document(doc, self.config.chunk) if chunks is None else chunks)
        return chunks, [self.analyzer.passage_terms(retrieval_text(doc, c, self.config.bm25_header)) for c in chunks]

    def embed(self, doc: Document, chunks: Sequence[Chunk]) -> np.ndarray:
        n, vecs = self.embed_texts([retrieval_text(doc, c, self.config.dense_header) for c in chunks])
        self.embedded += n
        return vecs

    def embed_texts(self, texts: Sequence[str]) -> tuple[int, np.ndarray]:
        """(how many were embedded, the vectors of ``texts``) through the embedding cache."""
        t = time.perf_counter()
        keys = [text_key(x) for x in texts]
        got: list[Any] = [self.cache.get(k) if self.cache else None for k in keys]
        missing = [i for i, v in enumerate(got) if v is None]
        if missing:
            new = self.embedder.embed_passages([texts[i] for i in missing])
            for i, v in zip(missing, new):
                got[i] = v
                if self.cache:
                    self.cache.put(keys[i], v)
        self.embed_seconds += time.perf_counter() - t
        return len(missing), (np.stack(got).astype(np.float32) if got else np.zeros((0, self.embedder.dim), np.float32))

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
            write(self.conn.loc.collection,
                  passage_rows(doc, cs, ts, vecs, self.table, avgdl, self.config, self.version))
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
        if self.cache is not None:
            try:
                self.cache.save()
            except OSError:
                pass  # only a cache (written atomically; the old one stays)


def recount(conn: Connection, docs: dict[str, dict[str, Any]]) -> sparse.CorpusStats:
    """Statistics from the stored passages (after an interrupted run): df of every term, N and
    the length sum; passages, sentences and text pieces that no document row claims (same id and
    version) are deleted."""
    df: Counter[int] = Counter()
    n = total = 0
    orphans: list[str] = []
    for r in query_all(conn, conn.loc.collection, "", ["chunk_id", "doc_id", "version", "sparse", "dlen"]):
        if docs.get(r["doc_id"], {}).get("version") != r["version"]:
            orphans.append(r["chunk_id"])
            continue
        df.update(int(k) for k in r["sparse"] if int(k) != sparse.EMPTY)
        n += 1
        total += int(r["dlen"])
    for batch in batched(orphans, 1000):
        conn.delete(conn.loc.collection, ids=list(batch))
    for side in ("text", SENTENCES):
        stale = [r["key"] for r in query_all(conn, conn.loc.side(side), "", ["key", "doc_id", "version"])
                 if docs.get(r["doc_id"], {}).get("version") != r["version"]]
        for batch in batched(stale, 1000):
            conn.delete(conn.loc.side(side), ids=list(batch))
    changed = []
    for r in query_all(conn, conn.loc.side("terms"), "", ["key", "term_id", "df"]):
        want = df.get(int(r["term_id"]), 0)
        if int(r["df"]) != want:
            changed.append({"key": r["key"], "term_id": int(r["term_id"]), "df": want, "v": DUMMY})
    for batch in batched(changed, 1000):
        conn.upsert(conn.loc.side("terms"), list(batch))
    return sparse.CorpusStats(n, total)


def reweight(w: Writer, docs: dict[str, dict[str, Any]], stats: sparse.CorpusStats,
             tolerance: float) -> tuple[int, sparse.CorpusStats]:
    """Rewrite the BM25 vectors of passages weighted with an ``avgdl`` more than ``tolerance``
    away from the current one (re-analysed with the current lexicon). Returns (rewritten, stats)."""
    avgdl = stats.avgdl
    lo, hi = avgdl * (1 - tolerance), avgdl * (1 + tolerance)
    fields = ["chunk_id", "doc_id", "version", "ordinal", "year", "organisation", "doc_type", "record", "dlen",
              "avgdl", "dense", "sparse"]
    ids = [r["chunk_id"] for r in query_all(w.conn, w.conn.loc.collection, f"avgdl < {lo!r} or avgdl > {hi!r}",
                                            ["chunk_id"])]
    total = stats.total_len
    for id_batch in batched(ids, BATCH):
        batch = w.conn.get(w.conn.loc.collection, ids=list(id_batch), output_fields=fields)
        terms = []
        for r in batch:
            c = chunk_from_record(r["record"])
            terms.append(w.analyzer.passage_terms(retrieval_text(header_doc(c.doc_id, docs[c.doc_id]), c,
                                                                 w.config.bm25_header)))
        w.table.lookup({t for x in terms for t in x})
        out = []
        for r, ts in zip(batch, terms):
            w.table.count((k for k in r["sparse"] if int(k) != sparse.EMPTY), -1)
            w.table.count({w.table.ids[t] for t in ts}, +1)
            total += len(ts) - int(r["dlen"])
            out.append(dict(r, dlen=len(ts), avgdl=avgdl,
                            sparse=sparse.doc_vector(ts, w.table.ids, avgdl, w.config.bm25)))
        w.conn.upsert(w.conn.loc.collection, out)
    w.table.commit()
    return len(ids), sparse.CorpusStats(stats.n_docs, total)


def open_for_ingest(conn: Connection, model_id: str) -> dict[str, Any] | None:
    """The stored manifest (None when the collection does not exist yet or its first ingest died
    before writing one); refuses a collection of another format version or embedder with the
    folder index's messages."""
    if not exists(conn):
        return None
    load(conn)
    prev = meta_get(conn, "manifest")
    if prev is None:
        return None
    check_format(prev, str(conn.loc))
    store.check_embedder(prev, model_id, str(conn.loc))
    return prev


def create_for(conn: Connection, dim: int, passages: int) -> None:
    """Create the collections for an expected number of passages (which picks the dense index)."""
    create_collections(conn, dim, dense_index(passages))
    load(conn)
    meta_put(conn, {"dense_index": dense_index(passages)})


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
    if corpus_root is None and len(paths) == 1 and Path(paths[0]).is_dir():
        corpus_root = Path(paths[0])
    conn = Connection(parse_location(location))
    planned, failures = scan(paths, corpus_root, follow_symlinks)
    embedder = get_embedder(config.embedder)
    prev = open_for_ingest(conn, embedder.model_id)
    existed = exists(conn)
    state = (meta_get(conn, "ingest") or {}) if existed else {}
    stored = stored_docs(conn) if existed else {}
    same = prev is not None and prev.get("config") == config.to_json() and prev.get("layout") == LAYOUT
    unchanged = [p for p in planned if same and stored.get(p.doc_id, {}).get("sha256") == p.sha256
                 and stored[p.doc_id]["path"] == p.path
                 and stored[p.doc_id].get("written_with") == written_with(config)]
    keep = {p.doc_id for p in unchanged}
    todo = [p for p in planned if p.doc_id not in keep]
    removed = sorted(set(stored) - {p.doc_id for p in planned})
    if not todo and not removed and same and state.get("state") == "done":
        return _report(location, False, planned, unchanged, [], [], failures, stored, t0, 0, 0.0)
    guard.check_removals([stored[i]["path"] for i in removed], {stored[i]["path"]: {"doc_id": i} for i in removed},
                         [Path(p) for p in paths], location, replace)  # type: ignore[arg-type]
    version = uuid.uuid4().hex[:16]
    # not marked done but holding passages: the last run was interrupted (or lost writes in a crash)
    interrupted = existed and state.get("state") != "done" and passage_count(conn) > 0
    docs, bad = read_planned(todo, progress)
    failures += bad
    refusal = guard.publish_refusal(len(docs) + len(unchanged), len(stored), location, replace)
    if refusal:
        return replace_report(_report(location, False, planned, unchanged, [], [], failures, stored, t0, 0, 0.0),
                              refused=refusal, documents=len(stored), passages=sum(d["n"] for d in stored.values()))
    removed += [p.doc_id for p in todo if p.doc_id in stored and p.doc_id not in {d.doc_id for d in docs}]
    lexicon = build_lexicon(dehyphenate(stored_text(conn, p.doc_id, stored[p.doc_id]["version"])) for p in unchanged)
    for d in docs:
        lexicon.update({w: lexicon.get(w, 0) + n for w, n in build_lexicon([dehyphenate(d.text)]).items()})
    w = Writer(conn, config, Analyzer(config.analyzer, lexicon), cache_dir, version, interrupted, progress)
    sizes = [(len(ts), sum(map(len, ts))) for ts in (w.analyse(d)[1] for d in docs)]  # first pass: final avgdl
    w.total = sum(n for n, _ in sizes)
    final = sparse.CorpusStats(sum(stored[p.doc_id]["n"] for p in unchanged) + w.total,
                               sum(stored[p.doc_id]["total_len"] for p in unchanged) + sum(t for _, t in sizes))
    if not existed:
        create_for(conn, embedder.dim, final.n_docs)
    else:  # a collection of layout 1 gets its sentences
        create_sentences(conn, embedder.dim)
        load(conn)
    meta_put(conn, {"ingest": {"state": "writing", "build": version}})
    manifest = manifest_of(prev, config, embedder, meta_get(conn, "dense_index"), version)
    meta_put(conn, {"manifest": manifest})
    for d in docs:  # a document never stored, after a completed ingest, is inserted
        w.write(d, final.avgdl, fresh=not interrupted and d.doc_id not in stored)
    for doc_id in removed:
        w.remove(doc_id)
    w.save_cache()
    stats = commit(w, conn, final, lexicon, reweight_tolerance)
    meta_put(conn, {"manifest": dict(manifest, created=time.strftime("%Y-%m-%dT%H:%M:%S%z"), build=version),
                    "ingest": {"state": "done", "build": version, "stats": asdict(stats)}})
    conn.flush(conn.loc.collection)
    return replace_report(_report(location, True, planned, unchanged, docs, removed, failures, stored, t0, w.embedded,
                                  w.embed_seconds, passages=stats.n_docs), embedded_sentences=w.embedded_sentences)


def manifest_of(prev: dict[str, Any] | None, config: BuildConfig, embedder, dense: dict[str, Any],
                version: str) -> dict[str, Any]:
    """The collection's manifest: the folder manifest's keys that describe the whole index."""
    now = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    return {
        "format_version": store.FORMAT_VERSION,
        "layout": LAYOUT,
        "created": (prev or {}).get("created", now),
        "embedder": {"spec": config.embedder, "id": embedder.model_id, "dim": embedder.dim},
        "config": config.to_json(),
        "dense_index": dense,
        "build": (prev or {}).get("build", version),
    }


def commit(w: Writer, conn: Connection, final: sparse.CorpusStats, lexicon: dict[str, int],
           tolerance: float) -> sparse.CorpusStats:
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


def _report(location: str, rebuilt: bool, planned: Sequence[Planned], unchanged: Sequence[Planned],
            docs: Sequence[Document], removed: Sequence[str], failures: Sequence[Failure],
            stored: dict[str, dict[str, Any]], t0: float, embedded: int, embed_seconds: float,
            passages: int | None = None) -> BuildReport:
    kept = {p.doc_id for p in unchanged} | {d.doc_id for d in docs}
    if passages is None:
        passages = sum(stored[i]["n"] for i in kept)
    return BuildReport(
        index=location, rebuilt=rebuilt,
        added=tuple(d.path for d in docs if d.doc_id not in stored),
        updated=tuple(d.path for d in docs if d.doc_id in stored),
        unchanged=tuple(p.path for p in unchanged),
        removed=tuple(stored[i]["path"] for i in removed if i in stored),
        failed=tuple(failures), documents=len(kept), passages=passages, embedded=embedded,
        seconds=time.perf_counter() - t0, embed_seconds=embed_seconds,
    )
